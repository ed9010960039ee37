#!/usr/bin/env python3
"""Writes the model parity fixtures from Ultralytics 8.3.166 (run with build/refenv/bin/python):

  tests/fixtures/model_tiny_state.safetensors   the full state_dict (355 entries, Ultralytics keys) of a tiny
                                                 YOLOv8 DetectionModel, floats stored as F16, num_batches_tracked I64
  tests/fixtures/model_tiny_parity.safetensors  what that model computes:
    images            F16 (2, 3, 64, 96) the input batch (the model ran on exactly these values in float32)
    decoded           F32 (2, 4+nc, A) eval-mode output: rows 0-3 box (cx, cy, w, h) in input pixels, rows 4..
                      sigmoid class scores; A = 8*12 + 4*6 + 2*3 = 126
    map0..map2        F32 (2, 64+nc, H_i, W_i) training-mode head maps (BN with batch statistics)
    r0..r2            F16 same shapes: the fixed weights of the scalar L = sum_i sum(map_i * r_i)
    grad.<name>       F16 dL/d<name> / grad_scale.<name>, for every parameter with requires_grad (all but the DFL)
    grad_scale.<name> F32 (1) a power of two bringing max |grad| into [0.5, 1): F16 then keeps ~11 bits of every
                      element relative to the tensor's largest one, where raw F16 would flush small gradients
    after.<bn>.running_mean / running_var  F32 BN running statistics after that one training forward
Metadata: the config (depth, width, max_channels, nc), image size, num_batches_tracked before and after, seeds,
versions, and the float32-vs-float64 differences of the same computation (how much is rounding).

The model is yolov8.yaml with a custom scale {t: [0.33, 0.03125, 512]}: layer widths 8 and 16, Detect inputs
(8, 16, 16), box branch 64 wide (fixed by reg_max), class branch 8; yl_model_config_custom(0.33, 0.03125, 512, 3)
builds the same model. Before any forward, every conv weight and bias and every BN weight, bias, running mean and
running var is set to random values (so eval mode is a real test), then everything is rounded to F16 and the model
runs in float32 on the rounded values. Fixtures stay small (< 1 MB): the box branch alone has ~140k parameters.
"""
import copy
import json
import math
import os
import sys

import numpy as np
import torch
import yaml

import ultralytics
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import ROOT as ULTRALYTICS_ROOT

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402
from fixture_io import read_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures")
DEPTH, WIDTH, MAX_CHANNELS, NC = 0.33, 0.03125, 512, 3
BATCH, IMAGE_H, IMAGE_W = 2, 64, 96
SEED = 2024
NUM_BATCHES_TRACKED = 7  # any value: it must survive the load and count up by one per training forward


def build_model():
    with open(ULTRALYTICS_ROOT / "cfg" / "models" / "v8" / "yolov8.yaml") as f:
        cfg = yaml.safe_load(f)
    cfg["scales"] = {"t": [DEPTH, WIDTH, MAX_CHANNELS]}
    cfg["scale"] = "t"
    cfg["nc"] = NC
    return DetectionModel(cfg, ch=3, nc=NC, verbose=False)


def f16(x):
    """Rounds to float16 and back: the fixture stores F16, the model runs on exactly these values."""
    return x.half().float()


def randomize(model, gen):
    """Non-trivial values everywhere, rounded to F16."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                if module.weight.requires_grad:  # the DFL conv keeps its fixed 0..15
                    bound = 1.5 / module.weight[0].numel() ** 0.5
                    module.weight.uniform_(-bound, bound, generator=gen)
                if module.bias is not None:
                    module.bias.uniform_(-1.0, 1.0, generator=gen)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.bias.uniform_(-0.5, 0.5, generator=gen)
                module.running_mean.uniform_(-0.5, 0.5, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)
                module.num_batches_tracked.fill_(NUM_BATCHES_TRACKED)
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.copy_(f16(value))


def max_rel(a, b):
    """max |a - b| / max |b|, the measure the C tests print."""
    scale = float(b.abs().max())
    return float((a - b).abs().max()) / scale if scale > 0 else float((a - b).abs().max())


def run(model, images, rs):
    """Eval forward (decoded output), then one training forward and the gradients of L = sum(map * r)."""
    model.eval()
    with torch.no_grad():
        decoded, _ = model(images)
    model.train()
    model.zero_grad(set_to_none=True)
    maps = model(images)
    loss = sum((m * r).sum() for m, r in zip(maps, rs))
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    return decoded, [m.detach() for m in maps], grads


def pow2_scale(g):
    """2^e with max |g| / 2^e in [0.5, 1) (frexp's exponent)."""
    peak = float(g.abs().max())
    return math.ldexp(1.0, math.frexp(peak)[1]) if peak > 0.0 else 1.0


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)

    model = build_model()
    randomize(model, gen)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    images = f16(torch.rand(BATCH, 3, IMAGE_H, IMAGE_W, generator=gen))
    shapes = [(BATCH, 4 * 16 + NC, -(-IMAGE_H // s), -(-IMAGE_W // s)) for s in (8, 16, 32)]
    rs = [f16(torch.rand(shape, generator=gen) * 2.0 - 1.0) for shape in shapes]

    decoded, maps, grads = run(model, images, rs)
    after = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}
    nbt_after = int(model.state_dict()["model.0.bn.num_batches_tracked"])

    # The same computation in float64 from the same state: how much of a float32 difference is rounding.
    model64 = copy.deepcopy(model).double()
    model64.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in state.items()})
    decoded64, maps64, grads64 = run(model64, images.double(), [r.double() for r in rs])
    f64_decoded = max_rel(decoded, decoded64.float())
    f64_maps = max(max_rel(m, m64.float()) for m, m64 in zip(maps, maps64))
    f64_grads = max(max_rel(grads[k], grads64[k].float()) for k in grads)

    state_tensors = {}
    for k, v in state.items():
        state_tensors[k] = v.numpy().astype(np.float16) if v.is_floating_point() else v.numpy().astype(np.int64)
    config = {
        "depth": DEPTH,
        "width": WIDTH,
        "max_channels": MAX_CHANNELS,
        "nc": NC,
        "ultralytics": ultralytics.__version__,
        "torch": torch.__version__,
        "seed": SEED,
        "generator": "tools/reference/make_model_fixtures.py",
    }
    state_path = os.path.join(OUT, "model_tiny_state.safetensors")
    fixture_io.write_safetensors(state_path, state_tensors, dict(config, num_batches_tracked=NUM_BATCHES_TRACKED))

    parity = {"images": images.numpy().astype(np.float16), "decoded": decoded.numpy().astype(np.float32)}
    for i, (m, r) in enumerate(zip(maps, rs)):
        parity[f"map{i}"] = m.numpy().astype(np.float32)
        parity[f"r{i}"] = r.numpy().astype(np.float16)
    worst_storage = 0.0
    for name, g in grads.items():
        scale = pow2_scale(g)
        stored = (g / scale).half()
        worst_storage = max(worst_storage, max_rel(stored.float() * scale, g))
        parity[f"grad.{name}"] = stored.numpy()
        parity[f"grad_scale.{name}"] = np.array([scale], np.float32)
    for name, v in after.items():
        parity[f"after.{name}"] = v.numpy().astype(np.float32)
    parity_meta = dict(
        config,
        batch=BATCH,
        image_h=IMAGE_H,
        image_w=IMAGE_W,
        num_batches_tracked_before=NUM_BATCHES_TRACKED,
        num_batches_tracked_after=nbt_after,
        loss=f"{float(sum((m * r).sum() for m, r in zip(maps, rs))):.9g}",
        f32_vs_f64_decoded=f"{f64_decoded:.3g}",
        f32_vs_f64_maps=f"{f64_maps:.3g}",
        f32_vs_f64_grads=f"{f64_grads:.3g}",
        grad_f16_storage_error=f"{worst_storage:.3g}",
    )
    parity_path = os.path.join(OUT, "model_tiny_parity.safetensors")
    fixture_io.write_safetensors(parity_path, parity, parity_meta)

    for path, tensors in ((state_path, state_tensors), (parity_path, parity)):
        back, _ = read_safetensors(path)
        assert all(back[k].shape == np.asarray(v).shape and np.array_equal(back[k], np.asarray(v))
                   for k, v in tensors.items()), path
    params = sum(p.numel() for p in model.parameters())
    print(f"state: {len(state)} entries, {params} parameters, {os.path.getsize(state_path)} B")
    print(f"parity: decoded {tuple(decoded.shape)}, maps {[tuple(m.shape) for m in maps]}, {len(grads)} gradients, "
          f"{os.path.getsize(parity_path)} B")
    print(f"f32 vs f64: decoded {f64_decoded:.3g}, maps {f64_maps:.3g}, grads {f64_grads:.3g}; "
          f"grad F16 storage {worst_storage:.3g}")


if __name__ == "__main__":
    main()
