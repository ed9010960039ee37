#!/usr/bin/env python3
"""Writes the optimizer, schedule, gradient-clipping and EMA fixtures (run with build/refenv/bin/python):

  tests/fixtures/optim_steps.safetensors     torch.optim.SGD(nesterov=True) and torch.optim.AdamW on five small
                                             parameters in three groups, six steps with per-step, per-group lr and
                                             momentum (as warm-up changes them); one parameter has no gradient
    init.p<k>            F32 the starting values
    grad.s<i>.p<k>       F32 the gradient of step i (p4 never has one: it stays put)
    sgd.s<i>.p<k>        F32 the values after SGD step i;  adamw.s<i>.p<k> the same for AdamW
    sgd.lr / adamw.lr    F32 (steps, 3) per-group lr of each step (float32-representable values, so the
                         float32 copy is the exact double torch used); sgd.momentum (steps, 3) likewise
    wd                   F32 (3) per-group weight decay;  adamw.beta1 F32 (3) per-group beta1 (beta2 0.999)
  tests/fixtures/optim_clip.safetensors      torch.nn.utils.clip_grad_norm_(max_norm=10) on four gradients,
                                             cases "big" (clipped), "small" (kept) and "near" (norm just above 10)
    <case>.before.g<k> / <case>.after.g<k> F32, <case>.norm F32 (1) the returned total norm
  tests/fixtures/optim_schedule.safetensors  lr / momentum / accumulate / optimizer-step trajectories produced by
                                             Ultralytics' own BaseTrainer._do_train (warm-up, LambdaLR, accumulate),
                                             driven by a probe trainer with a fake loader and a 3-layer model; the
                                             optimizer comes from BaseTrainer.build_optimizer, the lf from
                                             _setup_scheduler, accumulate and weight decay from _setup_train
    <cfg>.lr.f64bits      I64 (N, 3) per-iteration lr of groups [bias, weight(decay), bn] (float64 bits), read
                          where the model forward runs, i.e. after the warm-up adjustment of that iteration
    <cfg>.momentum.f64bits I64 (N) group 0's momentum (SGD) or beta1 (AdamW) at that point
    <cfg>.accumulate      I32 (N) trainer.accumulate at that point;  <cfg>.step U8 (N) 1 when it stepped
    metadata <cfg>.*: the overrides, nb, dataset size, nc, what build_optimizer chose, the scaled weight decay,
    the optimizer log line; yolov8n.*: group counts and the log line of build_optimizer on yolov8n.yaml (B 16)
    and the frozen parameter counts for freeze=10 and freeze=[0, 22]
  tests/fixtures/optim_ema.safetensors       ultralytics.utils.torch_utils.ModelEMA on a Conv-BN-Conv model
    init.<key>            the model's state_dict when the EMA was created (num_batches_tracked I64)
    model.s<i>.<key>      the model's state_dict passed to update i;  ema.s<i>.<key> the EMA's after update i
    run "a" starts at updates 0 (5 updates), run "b" at updates 1995 (3 updates); keys carry the run prefix
"""
import contextlib
import io
import logging
import math
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

import ultralytics
from ultralytics.cfg import get_cfg
from ultralytics.engine.trainer import BaseTrainer
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import DEFAULT_CFG, LOGGER, callbacks
from ultralytics.utils.torch_utils import ModelEMA

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures")


def f64bits(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64)).view(np.int64)


def f32(a):
    return np.asarray(a, dtype=np.float32)


# ---- optimizer steps -------------------------------------------------------------------------------

SHAPES = [(5,), (3, 4), (2, 3, 3), (7,), (6,)]  # p4: no gradient (frozen)
GROUP_OF = [0, 1, 1, 2, 1]
STEPS = 6
WD = f32([0.0, 0.05, 0.02])


def optimizer_steps():
    rng = np.random.default_rng(7)
    init = [f32(rng.normal(0, 1, s)) for s in SHAPES]
    grads = [[f32(rng.normal(0, 0.5 + 0.3 * i, s)) for s in SHAPES] for i in range(STEPS)]
    for k in range(len(SHAPES)):  # a zero gradient in one step (SGD momentum and Adam moments still move)
        if k == 1:
            grads[3][k][:] = 0
    # Warm-up-like per-step lr: bias falls, the others rise, then change again.
    sgd_lr = f32([[0.1 - 0.015 * i, 0.002 * (i + 1), 0.003 * (i + 1)] for i in range(STEPS)])
    sgd_mom = f32([[0.8 + 0.025 * i] * 3 for i in range(STEPS)])
    adam_lr = f32([[0.01 - 0.001 * i, 0.0005 * (i + 1), 0.0007 * (i + 1)] for i in range(STEPS)])
    beta1 = f32([0.9, 0.85, 0.937])
    tensors = {f"init.p{k}": init[k] for k in range(len(SHAPES))}
    for i in range(STEPS):
        for k in range(len(SHAPES)):
            if k != 4:
                tensors[f"grad.s{i}.p{k}"] = grads[i][k]

    def run(kind):
        params = [torch.nn.Parameter(torch.from_numpy(init[k].copy())) for k in range(len(SHAPES))]
        groups = []
        for g in range(3):
            group = {"params": [p for p, gk in zip(params, GROUP_OF) if gk == g], "weight_decay": float(WD[g])}
            if kind == "adamw":
                group["betas"] = (float(beta1[g]), 0.999)
            groups.append(group)
        if kind == "sgd":
            opt = torch.optim.SGD(groups, lr=0.01, momentum=0.9, nesterov=True)
        else:
            opt = torch.optim.AdamW(groups, lr=0.001, betas=(0.9, 0.999), eps=1e-8)
        for i in range(STEPS):
            for g, group in enumerate(opt.param_groups):
                group["lr"] = float(sgd_lr[i, g] if kind == "sgd" else adam_lr[i, g])
                if kind == "sgd":
                    group["momentum"] = float(sgd_mom[i, g])
            for k, p in enumerate(params):
                p.grad = None if k == 4 else torch.from_numpy(grads[i][k].copy())
            opt.step()
            for k, p in enumerate(params):
                tensors[f"{kind}.s{i}.p{k}"] = p.detach().numpy().copy()

    run("sgd")
    run("adamw")
    tensors.update({"sgd.lr": sgd_lr, "sgd.momentum": sgd_mom, "adamw.lr": adam_lr, "adamw.beta1": beta1, "wd": WD})
    meta = {"steps": STEPS, "shapes": str(SHAPES), "group_of": str(GROUP_OF), "torch": torch.__version__}
    write_safetensors(os.path.join(OUT, "optim_steps.safetensors"), tensors, meta)


# ---- gradient clipping ------------------------------------------------------------------------------


def clipping():
    rng = np.random.default_rng(11)
    shapes = [(4, 3), (9,), (2, 2, 5), (1,)]
    base = [f32(rng.normal(0, 1, s)) for s in shapes]
    base_norm = math.sqrt(sum(float((b.astype(np.float64) ** 2).sum()) for b in base))
    cases = {"big": 4.0, "small": 1.0, "near": 10.00005 / base_norm}
    tensors, meta = {}, {"max_norm": 10.0}
    for name, scale in cases.items():
        params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
        for p, b in zip(params, base):
            p.grad = torch.from_numpy(f32(b * scale))
        for k, p in enumerate(params):
            tensors[f"{name}.before.g{k}"] = p.grad.numpy().copy()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=10.0)
        for k, p in enumerate(params):
            tensors[f"{name}.after.g{k}"] = p.grad.numpy().copy()
        tensors[f"{name}.norm"] = f32([float(norm)])
    write_safetensors(os.path.join(OUT, "optim_clip.safetensors"), tensors, meta)


# ---- schedule: Ultralytics' own training loop with fake data -------------------------------------------


class TinyNet(nn.Module):
    """Conv (no bias) + BN + Conv (bias): all three optimizer groups are non-empty."""

    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
        self.on_forward = None

    def forward(self, batch):
        if self.on_forward:
            self.on_forward()
        loss = self.model(batch["img"]).square().mean()
        return loss, loss.detach().reshape(1)


class FakeLoader:
    def __init__(self, nb, dataset_len):
        self.nb, self.dataset, self.num_workers = nb, range(dataset_len), 0

    def __len__(self):
        return self.nb

    def __iter__(self):
        for _ in range(self.nb):
            yield {"img": torch.ones(1, 3, 4, 4), "cls": torch.zeros(1, 1)}

    def reset(self):
        pass


class ScheduleProbe(BaseTrainer):
    """BaseTrainer without datasets, validation or checkpoints: _setup_train and _do_train run as they are."""

    def __init__(self, overrides, nb, dataset_len, nc, save_dir):
        # BaseTrainer.__init__ resolves datasets and run directories; set what the loop reads instead.
        self.args = get_cfg(DEFAULT_CFG, overrides)
        self.device = torch.device("cpu")
        self.validator, self.metrics, self.plots = None, None, {}
        self.save_dir = Path(save_dir)
        self.wdir = self.save_dir / "weights"
        self.batch_size, self.epochs, self.start_epoch = self.args.batch, self.args.epochs, 0
        self.data = {"nc": nc, "names": {i: str(i) for i in range(nc)}, "train": "train", "val": "val"}
        self.ema = self.lf = self.scheduler = None
        self.best_fitness = self.fitness = self.loss = self.tloss = None
        self.loss_names = ["Loss"]
        self.csv = self.save_dir / "results.csv"
        self.plot_idx = [0, 1, 2]
        self.hub_session = None
        self.callbacks = callbacks.get_default_callbacks()
        self.nb, self.dataset_len = nb, dataset_len
        self.records, self.steps = [], []

    def setup_model(self):
        torch.manual_seed(0)
        self.model = TinyNet()
        self.model.on_forward = self.record
        return None

    def record(self):
        groups = self.optimizer.param_groups
        momentum = groups[0]["momentum"] if "momentum" in groups[0] else groups[0]["betas"][0]
        self.records.append(([float(g["lr"]) for g in groups], float(momentum), int(self.accumulate)))

    def set_model_attributes(self):
        pass

    def get_dataloader(self, dataset_path, batch_size=16, rank=0, mode="train"):
        return FakeLoader(self.nb, self.dataset_len)

    def get_validator(self):
        return SimpleNamespace(metrics=SimpleNamespace(keys=[]))

    def progress_string(self):
        return ""

    def optimizer_step(self):
        self.steps.append(len(self.records) - 1)
        self.optimizer.zero_grad()

    def validate(self):
        return {}, 0.0

    def save_metrics(self, metrics):
        pass

    def save_model(self):
        pass

    def final_eval(self):
        pass


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def optimizer_log_line(lines):
    for line in lines:
        if "with parameter groups" in line:
            return line.split("optimizer:", 1)[-1].replace("\x1b[0m", "").strip()
    raise RuntimeError("no optimizer log line")


SCHEDULES = {
    # explicit SGD, linear lf, warm-up (nw 120) ends inside epoch 2; B 16: accumulate ties (1.5, 2.5, 3.5)
    "sgd_linear": dict(overrides=dict(optimizer="SGD", epochs=4, batch=16, lr0=0.01, momentum=0.937), nb=40,
                       dataset_len=640, nc=3),
    # auto -> AdamW (few iterations), cosine lf, warmup_epochs 2.5 (nw 125), B 10: accumulate up to 6
    "auto_adamw_cos": dict(overrides=dict(optimizer="auto", epochs=3, batch=10, cos_lr=True, warmup_epochs=2.5),
                           nb=50, dataset_len=500, nc=3),
    # auto -> SGD (> 10000 iterations): lr 0.01 momentum 0.9, warm-up momentum towards args.momentum 0.937;
    # nw = max(round(3 * 30), 100) = 100 outlasts the 90 iterations; B 24: weight decay 0.0005625...
    "auto_sgd": dict(overrides=dict(optimizer="auto", epochs=3, batch=24, lrf=0.05), nb=30, dataset_len=64 * 3335,
                     nc=80),
    # no warm-up (nw -1), B 128: accumulate 1, weight decay 0.001
    "sgd_no_warmup": dict(overrides=dict(optimizer="sgd", epochs=3, batch=128, warmup_epochs=0, lr0=0.02,
                                         momentum=0.95, lrf=0.1), nb=7, dataset_len=900, nc=1),
}
BASE_OVERRIDES = dict(model="none.yaml", data="none.yaml", val=False, save=False, plots=False, amp=False,
                      close_mosaic=0, device="cpu", workers=0, exist_ok=True, verbose=False)


def schedules():
    tensors, meta = {}, {}
    handler = Capture()
    LOGGER.addHandler(handler)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, cfg in SCHEDULES.items():
                handler.lines.clear()
                probe = ScheduleProbe({**BASE_OVERRIDES, **cfg["overrides"]}, cfg["nb"], cfg["dataset_len"], cfg["nc"],
                                      tmp)
                with contextlib.redirect_stderr(io.StringIO()):  # the progress bars
                    probe._do_train(world_size=1)
                n = len(probe.records)
                assert n == cfg["nb"] * probe.epochs
                lr = np.array([r[0] for r in probe.records], np.float64)
                tensors[f"{name}.lr.f64bits"] = f64bits(lr)
                tensors[f"{name}.momentum.f64bits"] = f64bits([r[1] for r in probe.records])
                tensors[f"{name}.accumulate"] = np.array([r[2] for r in probe.records], np.int32)
                step = np.zeros(n, np.uint8)
                step[probe.steps] = 1
                tensors[f"{name}.step"] = step
                a = probe.args
                opt = probe.optimizer
                kind = type(opt).__name__
                meta.update({
                    f"{name}.optimizer": a.optimizer, f"{name}.epochs": a.epochs, f"{name}.batch": a.batch,
                    f"{name}.nbs": a.nbs, f"{name}.lr0": repr(a.lr0), f"{name}.lrf": repr(a.lrf),
                    f"{name}.momentum": repr(a.momentum), f"{name}.weight_decay": repr(a.weight_decay),
                    f"{name}.warmup_epochs": repr(a.warmup_epochs), f"{name}.warmup_momentum": repr(a.warmup_momentum),
                    f"{name}.warmup_bias_lr": repr(cfg["overrides"].get("warmup_bias_lr", DEFAULT_CFG.warmup_bias_lr)),
                    f"{name}.cos_lr": int(bool(a.cos_lr)), f"{name}.nb": cfg["nb"],
                    f"{name}.dataset_len": cfg["dataset_len"], f"{name}.nc": cfg["nc"],
                    f"{name}.chosen": kind, f"{name}.chosen_lr": repr(opt.param_groups[0]["initial_lr"]),
                    f"{name}.chosen_momentum": repr(opt.defaults.get("momentum", opt.defaults.get("betas", (0,))[0])),
                    f"{name}.effective_warmup_bias_lr": repr(a.warmup_bias_lr),
                    f"{name}.group_weight_decay": repr(opt.param_groups[1]["weight_decay"]),
                    f"{name}.log": optimizer_log_line(handler.lines),
                })
    finally:
        LOGGER.removeHandler(handler)

    # yolov8n: the groups build_optimizer makes, and what freeze marks.
    model = DetectionModel("yolov8n.yaml", nc=80, verbose=False)
    fake = SimpleNamespace(args=SimpleNamespace(lr0=0.01, momentum=0.937, warmup_bias_lr=0.1), data={"nc": 80})
    handler.lines.clear()
    LOGGER.addHandler(handler)
    try:
        opt = BaseTrainer.build_optimizer(fake, model, name="SGD", lr=0.01, momentum=0.937, decay=0.0005)
    finally:
        LOGGER.removeHandler(handler)
    meta["yolov8n.log"] = optimizer_log_line(handler.lines)
    meta["yolov8n.groups"] = ",".join(str(len(g["params"])) for g in opt.param_groups)
    for label, freeze_list in (("freeze10", range(10)), ("freeze0_22", [0, 22])):
        names = [f"model.{x}." for x in freeze_list] + [".dfl"]
        frozen = [(k, v.numel()) for k, v in model.named_parameters() if any(x in k for x in names)]
        meta[f"yolov8n.{label}.params"] = len(frozen)
        meta[f"yolov8n.{label}.numel"] = sum(n for _, n in frozen)
        bn = [n for n, m in model.named_modules() if any(f in n for f in names) and isinstance(m, nn.BatchNorm2d)]
        meta[f"yolov8n.{label}.bn_modules"] = len(bn)
    meta.update({"ultralytics": ultralytics.__version__, "torch": torch.__version__})
    write_safetensors(os.path.join(OUT, "optim_schedule.safetensors"), tensors, meta)


# ---- EMA --------------------------------------------------------------------------------------------------


def ema_runs():
    tensors, meta = {}, {}
    for run, start, updates in (("a", 0, 5), ("b", 1995, 3)):
        torch.manual_seed(3 if run == "a" else 4)
        model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Conv2d(4, 5, 1))
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model(torch.randn(2, 3, 6, 6))  # running stats away from 0 / 1
        for k, v in model.state_dict().items():
            tensors[f"{run}.init.{k}"] = v.numpy().copy()
        ema = ModelEMA(model, updates=start)
        for i in range(updates):
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.3 * torch.randn_like(p))
            model(torch.randn(2, 3, 6, 6) * (1 + i))  # train mode: running stats move
            for k, v in model.state_dict().items():
                tensors[f"{run}.model.s{i}.{k}"] = v.numpy().copy()
            ema.update(model)
            for k, v in ema.ema.state_dict().items():
                tensors[f"{run}.ema.s{i}.{k}"] = v.numpy().copy()
        meta[f"{run}.start"] = start
        meta[f"{run}.updates"] = updates
    meta["keys"] = ",".join(model.state_dict().keys())
    meta.update({"ultralytics": ultralytics.__version__, "torch": torch.__version__})
    write_safetensors(os.path.join(OUT, "optim_ema.safetensors"), tensors, meta)


def main():
    torch.set_num_threads(1)
    optimizer_steps()
    clipping()
    schedules()
    ema_runs()
    for name in ("steps", "clip", "schedule", "ema"):
        path = os.path.join(OUT, f"optim_{name}.safetensors")
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
