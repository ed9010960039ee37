#!/usr/bin/env python3
"""Writes the expected eval output of tests/fixtures/pt/tiny_v84_bf16.pt (run with build/refenv/bin/python):

  tests/fixtures/pt/tiny_v84_eval.safetensors
      images  (2, 3, 64, 64) F16 in [0, 1] (the model ran on exactly these values in float32)
      output  (2, 4 + nc, A) F32: Ultralytics' eval-mode output of the checkpoint's own pickled module tree cast
              to float32 (not fused): decoded boxes (cx, cy, w, h in pixels) + sigmoid scores
      map0..map2  (2, 64 + nc, H_i, W_i) F32: the raw head maps of the same forward
      train_map0..train_map2  the head maps of a training-mode forward (BN with batch statistics) on the same
              images, from a fresh copy of the model
      metadata: the Convs pickled with Identity (model.9.cv1; every other Conv has SiLU), the number of layers
              Ultralytics' model_info prints (leaf modules: each Identity is its own module), and how far the
              outputs move when SPPF.cv1's SiLU is put back

Why the training-mode maps: the checkpoint was trained for one epoch, so its BN running statistics are still
near 0/1 while its activations are small; in eval mode SPPF.cv1's output stays within +-0.02, where SiLU is
close to linear, and putting SiLU back moves the eval maps by only ~1e-5. With batch statistics the same
activations are normalised to unit scale and the two activations differ by > 1 in the maps, so the training
forward is what tells Identity from SiLU; the eval output checks the decode path on the same weights.

tiny_v84_bf16.pt itself comes from make_pt_fixtures.py (best.pt with model.9.cv1.act = nn.Identity(), cast to
bfloat16, as Ultralytics 8.4 builds v8 yamls); this script only loads it, as make_pt_fixtures.make_eval loads
tiny_best.pt, and never rewrites it. bf16 -> f32 is exact, so yoloop's bf16 -> f32 load sees the same weights.
"""
import copy
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PT = os.path.join(ROOT, "tests", "fixtures", "pt")
SOURCE = os.path.join(PT, "tiny_v84_bf16.pt")
OUT = os.path.join(PT, "tiny_v84_eval.safetensors")
BATCH, HEIGHT, WIDTH = 2, 64, 64
MIN_SILU_DIFFERENCE = 0.5  # max |train map(SiLU at SPPF.cv1) - train map(Identity)|


def activations(model):
    from ultralytics.nn.modules.conv import Conv

    return {name: type(m.act).__name__ for name, m in model.named_modules() if isinstance(m, Conv)}


def leaf_layers(model):
    """What model_info prints as 'layers' (8.3.166 torch_utils.model_info): leaf modules, each instance once."""
    return len([m for _, m in model.named_modules() if len(m._modules) == 0])


def run(model, images):
    with torch.no_grad():
        y, maps = model(images.float())
    return y, maps


def run_train(model, images):
    model = copy.deepcopy(model).train()  # BN updates its running statistics: leave the original alone
    with torch.no_grad():
        return model(images.float())


def main():
    ckpt = torch.load(SOURCE, map_location="cpu")
    model = ckpt["model"].float().eval()
    acts = activations(model)
    identity = sorted(k for k, v in acts.items() if v == "Identity")
    assert identity == ["model.9.cv1"], identity
    assert all(v in ("SiLU", "Identity") for v in acts.values()), acts

    torch.manual_seed(84)
    images = torch.rand(BATCH, 3, HEIGHT, WIDTH).half()
    y, maps = run(model, images)

    train_maps = run_train(model, images)

    silu = copy.deepcopy(model)
    silu.model[9].cv1.act = torch.nn.SiLU()
    y_silu, maps_silu = run(silu, images)
    train_silu = run_train(silu, images)
    eval_moved = max(float((a - b).abs().max()) for a, b in zip(maps, maps_silu))
    train_moved = max(float((a - b).abs().max()) for a, b in zip(train_maps, train_silu))
    assert train_moved > MIN_SILU_DIFFERENCE, f"SPPF.cv1's activation barely changes the train maps ({train_moved})"

    tensors = {"images": images.numpy(), "output": y.numpy()}
    for i, m in enumerate(maps):
        tensors[f"map{i}"] = m.numpy()
    for i, m in enumerate(train_maps):
        tensors[f"train_map{i}"] = m.numpy()
    meta = {
        "nc": model.nc,
        "strides": ",".join(str(int(s)) for s in model.stride),
        "identity_convs": ",".join(identity),
        "leaf_layers": leaf_layers(model),
        "silu_eval_map_difference": f"{eval_moved:.6g}",
        "silu_train_map_difference": f"{train_moved:.6g}",
        "note": "tiny_v84_bf16.pt model.float(): eval() forward, and train() forward on a copy; pickled activations",
    }
    write_safetensors(OUT, tensors, meta)
    print(f"{os.path.relpath(OUT, ROOT)}: {os.path.getsize(OUT)} bytes; output {tuple(y.shape)}, "
          f"{meta['leaf_layers']} layers; SiLU at SPPF.cv1 would move the eval maps by {eval_moved:.3g}, "
          f"the train maps by {train_moved:.3g}")


if __name__ == "__main__":
    main()
