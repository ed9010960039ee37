#!/usr/bin/env python3
"""Ultralytics 8.3.166 side of the model benchmark (run with build/refenv/bin/python).

    ultralytics_model.py export <weights.safetensors> [seed=0] [nc=80]
    ultralytics_model.py compare <yoloop.safetensors>

export: builds DetectionModel("yolov8n.yaml", nc) under torch.manual_seed(seed) and writes its state_dict
(F32, num_batches_tracked I64) with tools/reference/fixture_io.py, for bench_model weights=<file>. A fresh
model's BN running statistics (0, 1) leave its eval activations shrinking layer by layer (max |x| ~3e-8 after
SPPF at 320), so its eval output is nearly constant, set by the head's biases: a weak check. Before export they
are set to the batch statistics of one training-mode forward on 2 random 320x320 images (momentum None for that
one batch, then back to 0.03): the eval pass then sees unit-scale activations, as a trained model's does.

compare: reads what bench_model wrote with out=<file> (settings, yoloop's timings, the images, yoloop's eval
outputs), loads the same weights into a DetectionModel and times, with the same thread count
(torch.set_num_threads), warm-up and repetitions (median), in the same order (every eval case, then every
training case):
  eval   model.eval(); with torch.no_grad(): model(x)  ->  (y, maps): y = Detect's decoded (B, 4 + nc, A)
  train  model.train(); model.zero_grad(); maps = model(x); sum_l (maps_l * R_l).sum().backward()
         (R_l fixed uniform [-1, 1], like yoloop's d_maps; the input needs no gradient on either side)
Prints case, yoloop ms/img, Ultralytics ms/img, ratio = Ultralytics / yoloop (> 1: yoloop faster), and checks
that both sides computed the same eval output: max |yoloop - Ultralytics| / max |Ultralytics| < 1e-3, for the
box rows (pixels) and the score rows separately. Exit status 1 on a mismatch or a failed case.
"""
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
from fixture_io import read_safetensors, write_safetensors  # noqa: E402

RTOL = 1e-3


def build_model(nc):
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel("yolov8n.yaml", nc=nc, verbose=False)


def export(path, seed=0, nc=80):
    torch.manual_seed(seed)
    model = build_model(nc)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one batch, that batch's statistics
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 320, 320))
    for bn in bns:
        bn.momentum = 0.03
    state = {k: v.detach().float().numpy() if v.is_floating_point() else v.detach().numpy()
             for k, v in model.state_dict().items()}
    write_safetensors(path, state, {"source": f"DetectionModel('yolov8n.yaml', nc={nc}), torch.manual_seed({seed}), "
                                              "BN running statistics of one 2x320x320 training forward"})
    print(f"wrote {len(state)} tensors to {path}")


def load_model(path, nc):
    tensors, _ = read_safetensors(path)
    model = build_model(nc)
    own = model.state_dict()
    state = {k: torch.from_numpy(np.array(v)).reshape(own[k].shape) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)
    return model


def timed(fn, warmup, reps):
    times = []
    for rep in range(warmup + reps):
        t0 = time.perf_counter()
        fn()
        if rep >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def max_rel(ours, theirs):
    return float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-30))


class Bench:
    def __init__(self, path):
        self.t, self.meta = read_safetensors(path)
        m = self.meta
        self.threads, self.reps, self.warmup = int(m["bench.threads"]), int(m["bench.reps"]), int(m["bench.warmup"])
        self.nc, self.seed = int(m["bench.nc"]), int(m["bench.seed"])
        self.batches = [int(b) for b in m["bench.batches"].split(",")]
        self.imgszs = [int(s) for s in m["bench.imgszs"].split(",")]
        self.weights = m["bench.weights"]
        self.checks = []  # (ok, text)
        self.ours, self.theirs = {}, {}  # case -> ms per call, or an error text

    def cases(self, device):
        return [(f"{device}.{mode}.{s}.b{b}", mode, s, b)
                for mode in ("eval", "train") for s in self.imgszs for b in self.batches]

    def run(self, device):
        model = load_model(self.weights, self.nc).to(device)
        for name, mode, s, b in self.cases(device):
            try:
                self.theirs[name] = self.run_case(model, device, mode, s, b, name)
            except Exception as e:  # noqa: BLE001 - a failed case is a row of the table, not the end of the run
                self.theirs[name] = f"failed: {type(e).__name__}: {e}"

    def run_case(self, model, device, mode, s, b, name):
        x = torch.from_numpy(np.array(self.t[f"images.{s}"][:b])).to(device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        if mode == "eval":
            model.eval()
            out = {}

            def step():
                with torch.no_grad():
                    out["y"] = model(x)[0]
                sync()

            ms = timed(step, self.warmup, self.reps)
            key = f"output.{device}.{s}.b{b}"
            if key in self.t:
                self.check_output(name, np.array(self.t[key]), out["y"].cpu().numpy())
            return ms
        model.train()
        g = torch.Generator().manual_seed(1000 + s)
        shapes = [(b, 64 + self.nc, s // st, s // st) for st in (8, 16, 32)]
        r = [(torch.rand(sh, generator=g) * 2 - 1).to(device) for sh in shapes]

        def step():
            model.zero_grad()
            maps = model(x)
            sum((m * ri).sum() for m, ri in zip(maps, r)).backward()
            sync()

        return timed(step, self.warmup, self.reps)

    def check_output(self, name, ours, theirs):
        if ours.shape != theirs.shape:
            self.checks.append((False, f"{name}: eval output shapes {ours.shape} vs {theirs.shape}"))
            return
        box, score = max_rel(ours[:, :4], theirs[:, :4]), max_rel(ours[:, 4:], theirs[:, 4:])
        ok = box < RTOL and score < RTOL
        self.checks.append((ok, f"{name}: eval output {tuple(theirs.shape)}: boxes max rel err {box:.2e}, "
                                f"scores max rel err {score:.2e} (tolerance {RTOL:g}, relative to the largest value)"))


def fmt(v):
    return f"{v:.1f}" if isinstance(v, float) else "failed"


def compare(path):
    import ultralytics

    bench = Bench(path)
    torch.set_num_threads(bench.threads)
    for key, value in bench.meta.items():
        if key.startswith("yoloop.") and key != "yoloop.cuda":
            bench.ours[key[len("yoloop."):]] = float(value) if not value.startswith("failed") else value
    bench.run("cpu")
    gpu_note = ""
    if any(k.startswith("cuda.") for k in bench.ours):
        if torch.cuda.is_available():
            bench.run("cuda")
        else:
            gpu_note = f"torch {torch.__version__} has no CUDA here: Ultralytics GPU rows not timed"

    print(f"model bench: yolov8n nc={bench.nc}, weights {os.path.basename(bench.weights)}, threads={bench.threads} "
          f"(yoloop OpenMP/OpenBLAS, torch.set_num_threads), median of {bench.reps} after {bench.warmup} warm-up")
    print(f"reference: Ultralytics {ultralytics.__version__}, torch {torch.__version__}")
    print("eval = eval forward incl. decode, no grad; train = zero_grad + training forward + backward of sum(maps*R)")
    print("ratio = Ultralytics ms / yoloop ms (> 1: yoloop faster)\n")
    print(f"{'case':<22} {'yoloop ms/img':>14} {'ultra ms/img':>13} {'ratio':>7}")
    failures = 0
    devices = ["cpu"] + (["cuda"] if any(k.startswith("cuda.") for k in bench.ours) else [])
    for device in devices:
        for name, _, _, b in bench.cases(device):
            ours, theirs = bench.ours.get(name, "missing"), bench.theirs.get(name, "not timed")
            ok_ours, ok_theirs = isinstance(ours, float), isinstance(theirs, float)
            failures += not ok_ours or (device == "cpu" and not ok_theirs)
            ratio = f"{theirs / ours:.2f}" if ok_ours and ok_theirs else "-"
            print(f"{name:<22} {fmt(ours / b if ok_ours else ours):>14} "
                  f"{fmt(theirs / b if ok_theirs else theirs):>13} {ratio:>7}")
    print(f"{'cuda':<22} yoloop: {bench.meta.get('yoloop.cuda', 'skipped')}" + (f"; {gpu_note}" if gpu_note else ""))
    for side, table in (("yoloop", bench.ours), ("ultralytics", bench.theirs)):
        for name, value in table.items():
            if isinstance(value, str):
                print(f"{side} {name}: {value}")
    print()
    mismatches = 0
    for ok, text in bench.checks:
        mismatches += not ok
        print(f"{'agree' if ok else 'MISMATCH'}: {text}")
    if not bench.checks:
        print("MISMATCH: no eval output was compared")
        mismatches += 1
    return 1 if failures or mismatches else 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("export", "compare"):
        print(__doc__.strip())
        return 2
    if argv[1] == "export":
        opts = dict(a.split("=", 1) for a in argv[3:])
        export(argv[2], seed=int(opts.get("seed", 0)), nc=int(opts.get("nc", 80)))
        return 0
    return compare(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
