#!/usr/bin/env python3
"""Writes the Ultralytics .pt reader fixtures from Ultralytics 8.3.166 (run with build/refenv/bin/python):

  tests/fixtures/pt/tiny_epoch0.pt        raw training checkpoint (save_period=1 writes it as epoch0.pt): ZIP prefix
                                          `archive/`, `model: None`, FP16 EMA, SGD optimizer state, train_args
  tests/fixtures/pt/tiny_best.pt          the same run's best.pt after strip_optimizer: prefix `best/`, `ema: None`,
                                          FP16 `model`, `epoch: -1`
  tests/fixtures/pt/tiny_v84_bf16.pt      the stripped model with SPPF.cv1.act replaced by Identity (as Ultralytics
                                          8.4 builds v8 yamls) and cast to bfloat16, saved to a path: prefix
                                          `tiny_v84_bf16/`
  tests/fixtures/pt/evil_os_system.pt     a checkpoint whose pickle calls os.system (REDUCE): a reader must refuse
                                          the global by name and never run it
  tests/fixtures/pt/tiny_state.safetensors      the EMA state_dict of tiny_epoch0.pt, as Ultralytics loads it (F16,
                                          num_batches_tracked I64), in state_dict order; metadata holds what the
                                          reader must find (names, nc, stride, scale, epochs, dates, versions,
                                          activation class per Conv, train_args rendered as Python str(), the
                                          state_dict order and shapes: fixture_io writes 0-d tensors as (1,))
  tests/fixtures/pt/tiny_v84_bf16_check.safetensors   a few of tiny_v84_bf16.pt's entries as F32 (bf16 -> f32 is
                                          exact; every bf16 entry is RNE(f32(tiny_state's F16 entry)), asserted
                                          here) and the same metadata as tiny_state for that file
  tests/fixtures/pt/tiny_eval.safetensors images (2, 3, 64, 96) F16 in [0, 1] (the model ran on exactly these values
                                          in float32) and the eval-mode outputs of
                                          tiny_best.pt's model cast to float32 (not fused): output (2, 4 + nc, A)
                                          decoded boxes (cx, cy, w, h in pixels) + sigmoid scores, map0..map2 raw
                                          head maps (2, 64 + nc, H_i, W_i)

The model is yolov8.yaml with one scale, n: [0.33, 0.0625, 256] (8 or 16 channels; the Detect box branch stays 64
wide because reg_max is 16), nc=2, trained for one epoch (SGD, imgsz 64, batch 4) on 8 synthetic 64x64 images.
Also writes the fuzz seed corpus (tests/fuzz/corpus/{pickle,safetensors}/): small pickles torch.save writes for
tiny modules and dicts, and small safetensors files.
"""
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "pt")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
NC = 2
V84_CHECKED = ("model.0.conv.weight", "model.9.cv1.bn.running_var", "model.22.cv3.2.2.bias", "model.22.dfl.conv.weight",
               "model.21.m.0.cv2.bn.num_batches_tracked")
IMAGES = 8
SIZE = 64

MODEL_YAML = """\
nc: 2
scales:
  n: [0.33, 0.0625, 256]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 3, C2f, [128, True]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 6, C2f, [256, True]]
  - [-1, 1, Conv, [512, 3, 2]]
  - [-1, 6, C2f, [512, True]]
  - [-1, 1, Conv, [1024, 3, 2]]
  - [-1, 3, C2f, [1024, True]]
  - [-1, 1, SPPF, [1024, 5]]
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 6], 1, Concat, [1]]
  - [-1, 3, C2f, [512]]
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 4], 1, Concat, [1]]
  - [-1, 3, C2f, [256]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [[-1, 12], 1, Concat, [1]]
  - [-1, 3, C2f, [512]]
  - [-1, 1, Conv, [512, 3, 2]]
  - [[-1, 9], 1, Concat, [1]]
  - [-1, 3, C2f, [1024]]
  - [[15, 18, 21], 1, Detect, [nc]]
"""


def make_dataset(root):
    """8 images of 64x64: noise with 1-3 filled rectangles of two colours (class 0 red-ish, 1 blue-ish)."""
    import cv2

    rng = np.random.default_rng(7)
    for split in ("train", "val"):
        os.makedirs(os.path.join(root, "images", split), exist_ok=True)
        os.makedirs(os.path.join(root, "labels", split), exist_ok=True)
    for i in range(IMAGES):
        split = "train" if i < 6 else "val"
        img = rng.integers(0, 60, size=(SIZE, SIZE, 3), dtype=np.uint8)
        lines = []
        for _ in range(int(rng.integers(1, 4))):
            cls = int(rng.integers(0, NC))
            w, h = int(rng.integers(10, 30)), int(rng.integers(10, 30))
            x0, y0 = int(rng.integers(0, SIZE - w)), int(rng.integers(0, SIZE - h))
            img[y0 : y0 + h, x0 : x0 + w] = (40, 40, 220) if cls == 0 else (220, 60, 40)
            lines.append(f"{cls} {(x0 + w / 2) / SIZE:.6f} {(y0 + h / 2) / SIZE:.6f} {w / SIZE:.6f} {h / SIZE:.6f}")
        cv2.imwrite(os.path.join(root, "images", split, f"im{i}.png"), img)
        with open(os.path.join(root, "labels", split, f"im{i}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "data.yaml"), "w") as f:
        f.write(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n  0: red\n  1: blue\n")


def read_results_csv_without_pandas(trainer):
    """BaseTrainer.read_results_csv needs pandas, which the Debian-based reference env lacks: the same dict of
    columns (pd.read_csv(...).to_dict(orient="list")) from the csv module."""
    import csv

    if not os.path.exists(trainer.csv):
        return {}
    with open(trainer.csv) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0].keys() if rows else [])}


def train(work):
    from ultralytics import YOLO
    from ultralytics.engine.trainer import BaseTrainer

    BaseTrainer.read_results_csv = read_results_csv_without_pandas

    make_dataset(os.path.join(work, "data"))
    model_yaml = os.path.join(work, "yolov8n-tiny.yaml")  # the 'n' in the name picks the scale
    with open(model_yaml, "w") as f:
        f.write(MODEL_YAML)
    model = YOLO(model_yaml)
    model.train(data=os.path.join(work, "data", "data.yaml"), epochs=1, imgsz=SIZE, batch=4, workers=0,
                optimizer="SGD", device="cpu", save_period=1, plots=False, amp=False, seed=0, deterministic=True,
                project=os.path.join(work, "runs"), name="tiny", exist_ok=True, verbose=False)
    return os.path.join(work, "runs", "tiny", "weights")


def py_str(v):
    """What the C reader renders for a train_args value (Python str() for scalars and lists of scalars)."""
    if isinstance(v, (list, tuple)):
        inner = ", ".join(repr(x) if isinstance(x, str) else py_str(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    return str(v)


def activations(model):
    """{"model.9.cv1": "SiLU", ...}: the class of every Conv's pickled `act` module."""
    from ultralytics.nn.modules.conv import Conv

    return {name: type(m.act).__name__ for name, m in model.named_modules() if isinstance(m, Conv)}


def metadata(ckpt, model):
    args = ckpt.get("train_args") or {}
    return {
        "names": json.dumps({str(k): v for k, v in model.names.items()}),
        "nc": model.nc if hasattr(model, "nc") else model.yaml["nc"],
        "stride": json.dumps([float(s) for s in model.stride]),
        "scale": model.yaml.get("scale", ""),
        "epoch": ckpt["epoch"],
        "date": ckpt["date"],
        "version": ckpt["version"],
        "activations": json.dumps(activations(model)),
        "train_args": json.dumps({k: py_str(v) for k, v in args.items() if not isinstance(v, dict)}),
        "state_order": json.dumps(list(model.state_dict().keys())),
        # fixture_io stores 0-d tensors (num_batches_tracked) as shape (1,) (np.ascontiguousarray): the true shapes
        "state_shapes": json.dumps({k: list(v.shape) for k, v in model.state_dict().items()}),
    }


def zip_prefix(path):
    names = zipfile.ZipFile(path).namelist()
    return [n for n in names if n.endswith("/data.pkl")][0][: -len("data.pkl") - 1]


def write_state(path, state, meta, as_f32=False):
    tensors = {}
    for k, v in state.items():
        v = v.detach().cpu()
        if as_f32 and v.is_floating_point():
            v = v.float()
        tensors[k] = v.numpy()
    write_safetensors(path, tensors, meta)


def make_v84_bf16(best_ckpt, path):
    """The stripped model as 8.4 builds a v8 yaml (SPPF.cv1 without SiLU), in bfloat16."""
    import copy

    model = copy.deepcopy(best_ckpt["model"]).float()
    model.model[9].cv1.act = torch.nn.Identity()
    model = model.to(torch.bfloat16)
    ckpt = {k: v for k, v in best_ckpt.items() if k != "model"}
    ckpt["model"] = model
    ckpt["version"] = "8.4.0-style"
    torch.save(ckpt, path)
    return ckpt


class EvilPayload:
    """Unpickling this runs os.system: the fixture checks that a reader refuses it by name."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/yoloop-pt-fixture-pwned",))


def make_eval(model, path):
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 96).half()
    model = model.float().eval()
    with torch.no_grad():
        y, maps = model(images.float())
    tensors = {"images": images.numpy(), "output": y.numpy()}
    for i, m in enumerate(maps):
        tensors[f"map{i}"] = m.numpy()
    write_safetensors(path, tensors, {"nc": NC, "strides": "8,16,32", "note": "tiny_best.pt model.float().eval()"})


def torch_pickle_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])


def make_corpus():
    """Seeds for tests/fuzz: each a few hundred bytes to ~2 KB."""
    import pickle
    from types import SimpleNamespace

    pk = os.path.join(CORPUS, "pickle")
    st = os.path.join(CORPUS, "safetensors")
    for d in (pk, st):  # seeds are rewritten by name; crash-* regression inputs stay
        os.makedirs(d, exist_ok=True)
    conv = torch.nn.Conv2d(1, 2, 1, bias=True).half()
    bn = torch.nn.BatchNorm2d(2)
    seeds = {
        "conv2d_fp16.pkl": torch_pickle_bytes({"model": conv, "epoch": 3, "date": "2025-01-01"}),
        "batchnorm.pkl": torch_pickle_bytes({"ema": torch.nn.Sequential(bn), "model": None}),
        "state_dict.pkl": torch_pickle_bytes(torch.nn.Linear(2, 1).state_dict()),
        "names_yaml.pkl": torch_pickle_bytes({"names": {0: "a", 1: "b"}, "yaml": {"scale": "n", "nc": 2},
                                              "stride": torch.tensor([8.0, 16.0, 32.0])}),
        "scalars.pkl": pickle.dumps([1, -2, 300, 70000, 2**40, -(2**63), 1.5, True, False, None, "é", b"xy",
                                     (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), {"k": [1, 2]}, {1, 2}], protocol=2),
        "namespace_p4.pkl": pickle.dumps({"args": SimpleNamespace(imgsz=64, lr0=0.01)}, protocol=4),
        "memo_shared.pkl": pickle.dumps([[1, 2]] * 3, protocol=2),
    }
    for name, data in seeds.items():
        with open(os.path.join(pk, name), "wb") as f:
            f.write(data)
    write_safetensors(os.path.join(st, "small.safetensors"),
                      {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float16),
                       "c": np.array([7], np.int64)}, {"format": "pt"})
    write_safetensors(os.path.join(st, "scalar_u8.safetensors"), {"s": np.zeros((), np.uint8),
                                                                  "i": np.array([1, 2], np.int32)})


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="yoloop-pt-")
    try:
        wdir = train(work)
        shutil.copy(os.path.join(wdir, "epoch0.pt"), os.path.join(OUT, "tiny_epoch0.pt"))
        shutil.copy(os.path.join(wdir, "best.pt"), os.path.join(OUT, "tiny_best.pt"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    raw = torch.load(os.path.join(OUT, "tiny_epoch0.pt"), map_location="cpu")
    best = torch.load(os.path.join(OUT, "tiny_best.pt"), map_location="cpu")
    assert raw["model"] is None and raw["ema"] is not None and raw["optimizer"] is not None
    assert best["ema"] is None and best["epoch"] == -1
    assert zip_prefix(os.path.join(OUT, "tiny_epoch0.pt")) == "archive"
    assert zip_prefix(os.path.join(OUT, "tiny_best.pt")) == "best"
    ema_state, best_state = raw["ema"].state_dict(), best["model"].state_dict()
    assert list(ema_state) == list(best_state)
    for k in ema_state:  # one epoch: best.pt is last.pt stripped, the same FP16 numbers
        assert torch.equal(ema_state[k], best_state[k]), k

    meta = metadata(raw, raw["ema"])
    meta["best_epoch"] = best["epoch"]
    meta["best_date"] = best["date"]
    meta["best_version"] = best["version"]
    meta["best_train_args"] = metadata(best, best["model"])["train_args"]
    write_state(os.path.join(OUT, "tiny_state.safetensors"), ema_state, meta)

    v84_path = os.path.join(OUT, "tiny_v84_bf16.pt")
    v84 = make_v84_bf16(best, v84_path)
    assert zip_prefix(v84_path) == "tiny_v84_bf16"
    # A full F32 dump would be 0.8 MB: every bf16 entry is RNE(f32(the F16 entry of tiny_state)), which the C test
    # computes; these few entries, dumped as F32 (exact), check that rule independently.
    v84_state = v84["model"].state_dict()
    for k, v in v84_state.items():
        if v.is_floating_point():
            assert torch.equal(v, best_state[k].float().to(torch.bfloat16)), k
    check = {k: v84_state[k] for k in V84_CHECKED}
    write_state(os.path.join(OUT, "tiny_v84_bf16_check.safetensors"), check, metadata(v84, v84["model"]), as_f32=True)

    torch.save({"model": EvilPayload(), "epoch": 0}, os.path.join(OUT, "evil_os_system.pt"))
    make_eval(best["model"], os.path.join(OUT, "tiny_eval.safetensors"))
    make_corpus()
    for name in sorted(os.listdir(OUT)):
        print(f"{name:36s} {os.path.getsize(os.path.join(OUT, name)):9d} bytes")


if __name__ == "__main__":
    main()
