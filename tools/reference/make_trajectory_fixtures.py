#!/usr/bin/env python3
"""Writes the training-trajectory fixtures from Ultralytics 8.3.166 (run with build/refenv/bin/python):

  tests/fixtures/trajectory_sgd.safetensors            10 training batches of BaseTrainer._do_train, optimizer=SGD
                                                       (lr0 0.01, nesterov, warm-up bias lr 0.1)
  tests/fixtures/trajectory_adamw.safetensors          the same batches, optimizer=AdamW, lr0 0.001, warm-up bias lr 0
                                                       (what optimizer=auto sets whenever it picks AdamW)
  tests/fixtures/trajectory_adamw_bias_lr.safetensors  AdamW with the explicit default warm-up bias lr 0.1: Adam moves
                                                       every bias by ~0.1 per step and the trajectory is ill-conditioned
                                                       in Ultralytics itself (items_spread below reaches ~2e-2)

What runs is Ultralytics' own loop, not a re-implementation: a BaseTrainer subclass (TrajectoryProbe) whose
dataset, validator and checkpointing are stubbed out, so _setup_train (build_optimizer's three groups,
LambdaLR, ModelEMA, EarlyStopping, the '.dfl' freeze) and _do_train (warm-up of lr / momentum / accumulate,
loss.sum() backward, optimizer_step = clip_grad_norm_(10) -> step -> zero_grad -> EMA update) run unchanged.
Augmentation is off by construction: the loader yields fixed batches.

The model is the tiny DetectionModel of make_model_fixtures.py (yolov8.yaml, scale {t: [0.33, 0.03125, 512]},
nc 3), starting from tests/fixtures/model_tiny_state.safetensors (not copied here, to keep the fixtures small).

Run shape: batch 4, 64x64 images, nb = 10 batches, epochs 1, nbs 64 (the default): nw = max(round(3 * 10), 100)
= 100, so all 10 batches are inside warm-up, and accumulate = round(interp(ni, [0, 100], [1, 16])) is 1 for
ni 0..3 and 2 from ni 4: the optimizer steps after batches 0, 1, 2, 3, 5, 7, 9 (the accumulation path is part
of the test). Weight decay 5e-4 * 4 * 16 / 64 = 5e-4 on pg1.

Images are not stored: both sides compute them from integers (tests/test_trajectory.c, same formula):
  noise(g, c, y, x) = a 32-bit hash (below) & 255, g = 4 * step + image
  pixel = noise >> 1, or inside a target box (later boxes on top) 96 + 48 * ((cls + c) % 3) + (noise & 31)
  img = pixel / 255 in float32 (DetectionTrainer.preprocess_batch)
Boxes are integer pixel rectangles [x0, x1) x [y0, y1), so cx = (x0 + x1) / 128 etc. are exact in float32.

Tensors:
  boxes        I32 (N, 7) step, image, class, x0, y0, x1, y1: every target row, in batch order
  items        F32 (10, 3) loss items per batch (box, cls, dfl): what _do_train logs
  lr.f64bits   I64 (10, 3) float64 bits of the lr of pg0 (biases), pg1 (weights, decayed), pg2 (BN weights)
  momentum.f64bits I64 (10) SGD momentum (AdamW: beta1) at each batch
  stepped      U8 (10) 1 where the optimizer stepped after that batch
  final_sum.f64bits / final_abs.f64bits / ema_sum.f64bits  I64 (E) per floating state entry (order of the
               metadata 'entries', comma separated): sum and sum |.| of the model's final values, and sum of the
               EMA's values, in float64
  delta_sum.f64bits / delta_abs.f64bits  I64 (E) sum and sum |.| of (final - start) per entry: what training changed
  items_spread.f64bits  I64 (10) per batch, max relative change of the loss items when the start weights are scaled
               by 1 + U(-1e-6, 1e-6) (metadata perturb; sum_spread, delta_spread: the same for the
               final sums, relative to sum |final| and to sum |final - start|): how well
               conditioned Ultralytics' own trajectory is
"""
import contextlib
import io
import math
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import yaml

import ultralytics
from ultralytics.cfg import get_cfg
from ultralytics.engine.trainer import BaseTrainer
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import DEFAULT_CFG, ROOT as ULTRALYTICS_ROOT, callbacks

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures")
STATE = os.path.join(OUT, "model_tiny_state.safetensors")
DEPTH, WIDTH, MAX_CHANNELS, NC = 0.33, 0.03125, 512, 3
BATCH, SIZE, STEPS = 4, 64, 10
SEED = 31
M32 = 0xFFFFFFFF


def f64bits(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64)).view(np.int64)


def noise(g, c, y, x):
    """The image hash: uint64 arrays masked to 32 bits (the C side uses uint32_t wrap-around)."""
    u = np.uint64
    h = (x * u(0x9E3779B1) + y * u(0x85EBCA77) + c * u(0xC2B2AE3D) + g * u(0x27D4EB2F) + u(0x165667B1)) & u(M32)
    h ^= h >> u(15)
    h = (h * u(0x2C1B3C6D)) & u(M32)
    h ^= h >> u(12)
    return h & u(255)


def make_boxes(rng):
    rows = []
    for step in range(STEPS):
        for image in range(BATCH):
            count = 0 if (step, image) == (3, 2) else int(rng.integers(1, 4))  # one empty image
            for _ in range(count):
                w, h = int(rng.integers(6, 40)), int(rng.integers(6, 40))
                x0, y0 = int(rng.integers(0, SIZE - w + 1)), int(rng.integers(0, SIZE - h + 1))
                rows.append((step, image, int(rng.integers(0, NC)), x0, y0, x0 + w, y0 + h))
    return np.array(rows, np.int32)


def make_batch(step, boxes):
    y, x = np.meshgrid(np.arange(SIZE, dtype=np.uint64), np.arange(SIZE, dtype=np.uint64), indexing="ij")
    img = np.zeros((BATCH, 3, SIZE, SIZE), np.uint8)
    mine = boxes[boxes[:, 0] == step]
    for b in range(BATCH):
        g = np.uint64(BATCH * step + b)
        for c in range(3):
            n = noise(g, np.uint64(c), y, x)
            pix = n >> np.uint64(1)
            for _, image, cls, x0, y0, x1, y1 in mine:
                if image == b:
                    inside = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
                    pix = np.where(inside, np.uint64(96 + 48 * ((cls + c) % 3)) + (n & np.uint64(31)), pix)
            img[b, c] = pix.astype(np.uint8)
    x0, y0, x1, y1 = (mine[:, k].astype(np.float32) for k in range(3, 7))
    bboxes = np.stack([(x0 + x1) / np.float32(2 * SIZE), (y0 + y1) / np.float32(2 * SIZE), (x1 - x0) / np.float32(SIZE),
                       (y1 - y0) / np.float32(SIZE)], 1).astype(np.float32)
    return {
        "img": torch.from_numpy(img),
        "batch_idx": torch.from_numpy(mine[:, 1].astype(np.float32)),
        "cls": torch.from_numpy(mine[:, 2].astype(np.float32)).reshape(-1, 1),
        "bboxes": torch.from_numpy(bboxes),
    }


def build_model(perturb=0.0):
    with open(ULTRALYTICS_ROOT / "cfg" / "models" / "v8" / "yolov8.yaml") as f:
        cfg = yaml.safe_load(f)
    cfg["scales"] = {"t": [DEPTH, WIDTH, MAX_CHANNELS]}
    cfg["scale"] = "t"
    cfg["nc"] = NC
    model = DetectionModel(cfg, ch=3, nc=NC, verbose=False)
    state, _ = read_safetensors(STATE)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    if perturb:  # the conditioning run: every parameter scaled by 1 + U(-perturb, perturb)
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1 + perturb * (torch.rand(p.shape, generator=gen) * 2 - 1))
    return model


class FixedLoader:
    def __init__(self, batches):
        self.batches, self.dataset, self.num_workers = batches, range(BATCH * len(batches)), 0

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)

    def reset(self):
        pass


class TrajectoryProbe(BaseTrainer):
    """BaseTrainer without datasets, validation or checkpoints: _setup_train and _do_train run as they are."""

    def __init__(self, overrides, batches, save_dir, perturb=0.0):
        self.args = get_cfg(DEFAULT_CFG, overrides)
        self.device = torch.device("cpu")
        self.validator, self.metrics, self.plots = None, None, {}
        self.save_dir = Path(save_dir)
        self.wdir = self.save_dir / "weights"
        self.batch_size, self.epochs, self.start_epoch = self.args.batch, self.args.epochs, 0
        self.data = {"nc": NC, "names": {i: str(i) for i in range(NC)}, "train": "train", "val": "val"}
        self.ema = self.lf = self.scheduler = None
        self.best_fitness = self.fitness = self.loss = self.tloss = None
        self.loss_names = ["box_loss", "cls_loss", "dfl_loss"]
        self.csv = self.save_dir / "results.csv"
        self.plot_idx = [0, 1, 2]
        self.hub_session = None
        self.callbacks = callbacks.get_default_callbacks()
        self.batches, self.perturb = batches, perturb
        self.items, self.lrs, self.momenta, self.stepped = [], [], [], []
        self.add_callback("on_train_batch_end", lambda trainer: trainer.record())

    def setup_model(self):
        self.model = build_model(self.perturb)
        return None

    def set_model_attributes(self):  # DetectionTrainer's: the loss reads its gains from model.args
        self.model.nc = NC
        self.model.names = self.data["names"]
        self.model.args = self.args

    def preprocess_batch(self, batch):  # DetectionTrainer's, without multi-scale
        batch = dict(batch)
        batch["img"] = batch["img"].to(self.device, non_blocking=True).float() / 255
        return batch

    def optimizer_step(self):
        self.stepped.append(len(self.items))
        super().optimizer_step()

    def record(self):
        groups = self.optimizer.param_groups
        self.items.append(self.loss_items.detach().numpy().astype(np.float32))
        self.lrs.append([float(g["lr"]) for g in groups])
        self.momenta.append(float(groups[0]["momentum"] if "momentum" in groups[0] else groups[0]["betas"][0]))

    def get_dataloader(self, dataset_path, batch_size=16, rank=0, mode="train"):
        return FixedLoader(self.batches)

    def get_validator(self):
        return SimpleNamespace(metrics=SimpleNamespace(keys=[]))

    def label_loss_items(self, loss_items=None, prefix="train"):
        keys = [f"{prefix}/{x}" for x in self.loss_names]
        return dict(zip(keys, [round(float(x), 5) for x in loss_items])) if loss_items is not None else keys

    def progress_string(self):
        return ""

    def validate(self):
        return {}, 0.0

    def save_metrics(self, metrics):
        pass

    def save_model(self):
        pass

    def final_eval(self):
        pass


OVERRIDES = dict(model="none.yaml", data="none.yaml", val=False, save=False, plots=False, amp=False, close_mosaic=0,
                 device="cpu", workers=0, exist_ok=True, verbose=False, epochs=1, batch=BATCH, imgsz=SIZE, nbs=64,
                 warmup_epochs=3.0, seed=0, deterministic=True)
# adamw: warmup_bias_lr 0, what optimizer=auto sets whenever it picks AdamW; adamw_bias_lr: the explicit default 0.1,
# under which Adam's first steps move every bias by ~0.1 and the trajectory becomes ill-conditioned (see PERTURB).
RUNS = {
    "sgd": dict(optimizer="SGD", lr0=0.01, momentum=0.937),
    "adamw": dict(optimizer="AdamW", lr0=0.001, momentum=0.937, warmup_bias_lr=0.0),
    "adamw_bias_lr": dict(optimizer="AdamW", lr0=0.001, momentum=0.937),
}
# Float32 rounding differs between implementations by ~1e-6 relative in the gradients; re-running Ultralytics with
# the start weights scaled by 1 + U(-1e-6, 1e-6) measures how far that alone moves its own trajectory.
PERTURB = 1e-6


def train(run, batches, perturb=0.0):
    with tempfile.TemporaryDirectory() as tmp:
        probe = TrajectoryProbe({**OVERRIDES, **run}, batches, tmp, perturb)
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            probe._do_train(world_size=1)
    assert len(probe.items) == STEPS
    return probe


def main():
    torch.set_num_threads(1)
    boxes = make_boxes(np.random.default_rng(SEED))
    batches = [make_batch(s, boxes) for s in range(STEPS)]
    for name, run in RUNS.items():
        probe = train(run, batches)
        moved = train(run, batches, PERTURB)
        entries = [k for k, v in probe.model.state_dict().items() if v.is_floating_point()]
        final = probe.model.state_dict()
        start = build_model().state_dict()
        delta = {k: final[k].double() - start[k].double() for k in entries}
        ema = probe.ema.ema.state_dict()
        items = np.array(probe.items, np.float64)
        spread = (np.abs(np.array(moved.items, np.float64) - items) / np.abs(items)).max(1)
        moved_final = moved.model.state_dict()
        sum_spread = max(float((moved_final[k].double().sum() - final[k].double().sum()).abs()
                               / max(final[k].double().abs().sum(), 1e-300)) for k in entries)
        moved_start = build_model(PERTURB).state_dict()
        delta_spread = max(float(((moved_final[k].double() - moved_start[k].double()).sum() - delta[k].sum()).abs()
                                 / delta[k].abs().sum()) for k in entries if delta[k].abs().sum() > 0)
        stepped = np.zeros(STEPS, np.uint8)
        stepped[probe.stepped] = 1
        tensors = {
            "boxes": boxes,
            "items": np.array(probe.items, np.float32),
            "items_spread.f64bits": f64bits(spread),
            "lr.f64bits": f64bits(probe.lrs),
            "momentum.f64bits": f64bits(probe.momenta),
            "stepped": stepped,
            "final_sum.f64bits": f64bits([final[k].double().sum().item() for k in entries]),
            "final_abs.f64bits": f64bits([final[k].double().abs().sum().item() for k in entries]),
            "ema_sum.f64bits": f64bits([ema[k].double().sum().item() for k in entries]),
            "delta_sum.f64bits": f64bits([delta[k].sum().item() for k in entries]),
            "delta_abs.f64bits": f64bits([delta[k].abs().sum().item() for k in entries]),
        }
        a = probe.args
        meta = dict(
            ultralytics=ultralytics.__version__, torch=torch.__version__,
            generator="tools/reference/make_trajectory_fixtures.py", optimizer=type(probe.optimizer).__name__,
            lr0=repr(a.lr0), momentum=repr(a.momentum),
            weight_decay=repr(probe.optimizer.param_groups[1]["weight_decay"]),
            warmup_bias_lr=repr(a.warmup_bias_lr), warmup_momentum=repr(a.warmup_momentum),
            warmup_epochs=repr(a.warmup_epochs), nbs=a.nbs, batch=BATCH, imgsz=SIZE, steps=STEPS, nc=NC, seed=SEED,
            ema_updates=probe.ema.updates, entries=",".join(entries), box_gain=repr(a.box), cls_gain=repr(a.cls),
            dfl_gain=repr(a.dfl), perturb=repr(PERTURB), sum_spread=repr(sum_spread),
            delta_spread=repr(delta_spread),
        )
        path = os.path.join(OUT, f"trajectory_{name}.safetensors")
        write_safetensors(path, tensors, meta)
        back, _ = read_safetensors(path)
        assert all(np.array_equal(back[k], v) for k, v in tensors.items())
        print(f"{name}: {os.path.getsize(path)} B, stepped after {probe.stepped}, ema updates {probe.ema.updates}, "
              f"final-sum spread under perturbation {sum_spread:.2g}, "
              f"of the changes {delta_spread:.2g}")
        for s in range(STEPS):
            print(f"  {s}: items {probe.items[s]} lr {probe.lrs[s]} spread {spread[s]:.2g}")


if __name__ == "__main__":
    main()
