#!/usr/bin/env python3
"""Ultralytics 8.3.166 side of the loss/eval benchmark (run with build/refenv/bin/python).

    ultralytics_loss_eval.py <file.safetensors>

Reads what bench_loss_eval wrote with out=<file>: the inputs of every case, yoloop's timings and
results, and the settings (threads, reps, warm-up). Times the same work in Ultralytics with the
same settings, checks that both sides computed the same numbers, and prints the side-by-side table
(ratio = Ultralytics ms / yoloop ms: above 1 yoloop is faster). Exit status 1 when a check fails
or a case failed on either side.

What Ultralytics runs, per case (the calls its trainer, validator and predictor make):
  loss_fwd            v8DetectionLoss(feats, batch) under torch.no_grad() (validation computes it so)
  loss_fwd_bwd        the same with autograd, then torch.autograd.grad(loss.sum(), feats)
  nms_*               ops.non_max_suppression on a fresh copy of the (1, 4+nc, A) output (the copy is
                      not timed): val = conf 0.001, IoU 0.7, multi_label; predict = conf 0.25, IoU 0.7
  eval_match          per image, what DetectionValidator.update_metrics does: _process_batch (box_iou +
                      match_predictions), metrics.update_stats, confusion_matrix.process_batch
  eval_ap_per_class   DetMetrics.process (ap_per_class)
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
from fixture_io import read_safetensors  # noqa: E402

LOSS_RTOL = 1e-4  # loss items and gradient sums, relative
NMS_RTOL = 1e-6   # sum of kept confidences, relative (counts must be equal)
MAP_ATOL = 1e-6   # P, R, mAP50, mAP50-95


def timed(fn, warmup, reps, device, prepare=None):
    """Median ms of `reps` calls after `warmup` calls; prepare() runs untimed before each call."""
    times, out = [], None
    for rep in range(warmup + reps):
        arg = prepare() if prepare else None
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn(arg)
        if device == "cuda":
            torch.cuda.synchronize()
        if rep >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), out


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


class Bench:
    def __init__(self, path):
        self.t, self.meta = read_safetensors(path)
        m = self.meta
        self.threads, self.reps, self.warmup = int(m["bench.threads"]), int(m["bench.reps"]), int(m["bench.warmup"])
        self.nc, self.batch, self.imgsz = int(m["bench.nc"]), int(m["bench.batch"]), int(m["bench.imgsz"])
        self.checks = []  # (ok, text)
        self.criterion = None

    def check(self, ok, text):
        self.checks.append((ok, text))

    # ---- loss -------------------------------------------------------------------------------------------------

    def loss_setup(self, device):
        from ultralytics.cfg import get_cfg
        from ultralytics.nn.tasks import DetectionModel
        from ultralytics.utils.loss import v8DetectionLoss

        model = DetectionModel("yolov8n.yaml", nc=self.nc, verbose=False).to(device)
        model.args = get_cfg()  # default hyperparameters: box 7.5, cls 0.5, dfl 1.5
        criterion = v8DetectionLoss(model)
        feats = [torch.from_numpy(np.array(self.t[f"loss.head{i}"])).to(device) for i in range(3)]
        targets = torch.from_numpy(np.array(self.t["loss.targets"])).to(device).reshape(-1, 6)
        batch = {"batch_idx": targets[:, 0], "cls": targets[:, 1:2], "bboxes": targets[:, 2:6]}
        return criterion, feats, batch

    def case_loss_fwd(self, name, device):
        criterion, feats, batch = self.loss_setup(device)

        def run(_):
            with torch.no_grad():
                return criterion(feats, batch)[1]

        ms, items = timed(run, self.warmup, self.reps, device)
        self.check_items(name, items)
        return ms

    def case_loss_fwd_bwd(self, name, device):
        criterion, feats, batch = self.loss_setup(device)

        def run(_):
            leaves = [f.detach().requires_grad_(True) for f in feats]
            loss, items = criterion(leaves, batch)
            return items, torch.autograd.grad(loss.sum(), leaves)

        ms, (items, grads) = timed(run, self.warmup, self.reps, device)
        self.check_items(name, items)
        for key, fn in (("grad_abs_sum", lambda g: g.double().abs().sum()), ("grad_sq_sum", lambda g: (g.double() ** 2).sum())):
            ours = [float(v) for v in self.meta.get(f"yoloop.loss.{key}", "").split()]
            theirs = [float(fn(g)) for g in grads]
            if len(ours) != 3:
                self.check(False, f"{name}: yoloop wrote no {key}")
                continue
            worst = max(rel(a, b) for a, b in zip(ours, theirs))
            self.check(worst <= LOSS_RTOL, f"{name}: gradient {key} per level, worst rel diff {worst:.2e} (tol {LOSS_RTOL:g})")
        return ms

    def check_items(self, name, items):
        ours = [float(v) for v in self.meta.get("yoloop.loss.items", "").split()]
        theirs = [float(v) for v in items.cpu()]
        if len(ours) != 3:
            self.check(False, f"{name}: yoloop wrote no loss items")
            return
        worst = max(rel(a, b) for a, b in zip(ours, theirs))
        text = " ".join(f"{k} {a:.6f}/{b:.6f}" for k, a, b in zip(("box", "cls", "dfl"), ours, theirs))
        self.check(worst <= LOSS_RTOL, f"{name}: items yoloop/ultralytics {text}, worst rel diff {worst:.2e} (tol {LOSS_RTOL:g})")

    # ---- NMS --------------------------------------------------------------------------------------------------

    def case_nms(self, name, device):
        from ultralytics.utils import ops

        pred = torch.from_numpy(np.array(self.t[self.meta[f"case.{name}.input"]])).to(device)
        val = self.meta[f"case.{name}.mode"] == "val"
        conf, multi_label = (0.001, True) if val else (0.25, False)

        def run(x):  # non_max_suppression converts the boxes in place: each call gets a fresh copy
            return ops.non_max_suppression(x, conf, 0.7, multi_label=multi_label, max_det=300, nc=0)[0]

        ms, out = timed(run, self.warmup, self.reps, device, prepare=lambda: pred.clone())
        if f"yoloop.{name}.kept" not in self.meta:
            self.check(False, f"{name}: yoloop wrote no NMS result")
            return ms
        count, conf_sum = self.meta[f"yoloop.{name}.kept"].split()
        theirs_sum = float(out[:, 4].double().sum())
        ok = int(count) == len(out) and rel(float(conf_sum), theirs_sum) <= NMS_RTOL
        self.check(ok, f"{name}: kept yoloop {count} / ultralytics {len(out)}, sum of kept conf rel diff "
                       f"{rel(float(conf_sum), theirs_sum):.2e} (tol {NMS_RTOL:g})")
        return ms

    # ---- evaluation -------------------------------------------------------------------------------------------

    def eval_images(self):
        t = self.t
        gt_count, pred_count = t["ap.gt_count"], t["ap.pred_count"]
        g_end, p_end = np.cumsum(gt_count), np.cumsum(pred_count)
        images = []
        for i in range(len(gt_count)):
            g0, g1, p0, p1 = g_end[i] - gt_count[i], g_end[i], p_end[i] - pred_count[i], p_end[i]
            pred = {"bboxes": torch.from_numpy(np.array(t["ap.pred_boxes"][p0:p1])),
                    "conf": torch.from_numpy(np.array(t["ap.pred_conf"][p0:p1])),
                    "cls": torch.from_numpy(t["ap.pred_cls"][p0:p1].astype(np.float32))}
            gt = {"bboxes": torch.from_numpy(np.array(t["ap.gt_boxes"][g0:g1])),
                  "cls": torch.from_numpy(t["ap.gt_cls"][g0:g1].astype(np.float32))}
            images.append((pred, gt))
        return images

    def run_eval(self):
        """Times update_metrics' per-image work and DetMetrics.process once per repetition (cached)."""
        if getattr(self, "eval_times", None):
            return self.eval_times
        from ultralytics.models.yolo.detect import DetectionValidator
        from ultralytics.utils.metrics import ConfusionMatrix, DetMetrics

        images = self.eval_images()
        # The validator makes its save_dir on creation: keep that out of the working tree.
        self.scratch = tempfile.TemporaryDirectory(prefix="ultralytics_loss_eval_")
        validator = DetectionValidator(save_dir=Path(self.scratch.name))
        names = {i: f"class{i}" for i in range(self.nc)}
        t_match, t_ap, t_total = [], [], []
        for rep in range(self.warmup + self.reps):
            metrics, confusion = DetMetrics(names=names), ConfusionMatrix(names=list(names.values()))
            t0 = time.perf_counter()
            for pred, gt in images:  # DetectionValidator.update_metrics, one image
                cls = gt["cls"].cpu().numpy()
                no_pred = len(pred["cls"]) == 0
                metrics.update_stats({**validator._process_batch(pred, gt), "target_cls": cls,
                                      "target_img": np.unique(cls),
                                      "conf": np.zeros(0) if no_pred else pred["conf"].cpu().numpy(),
                                      "pred_cls": np.zeros(0) if no_pred else pred["cls"].cpu().numpy()})
                confusion.process_batch(pred, gt, conf=validator.args.conf)
            t1 = time.perf_counter()
            metrics.process()
            t2 = time.perf_counter()
            if rep >= self.warmup:
                t_match.append((t1 - t0) * 1e3)
                t_ap.append((t2 - t1) * 1e3)
                t_total.append((t2 - t0) * 1e3)
        box = metrics.box
        ours = [float(v) for v in self.meta.get("yoloop.eval.metrics", "").split()]
        theirs = [float(box.mp), float(box.mr), float(box.map50), float(box.map)]
        if len(ours) == 4:
            worst = max(abs(a - b) for a, b in zip(ours, theirs))
            text = " ".join(f"{k} {a:.6f}/{b:.6f}" for k, a, b in zip(("P", "R", "mAP50", "mAP50-95"), ours, theirs))
            self.check(worst <= MAP_ATOL, f"eval: yoloop/ultralytics {text}, worst abs diff {worst:.1e} (tol {MAP_ATOL:g})")
            diag = float(np.trace(confusion.matrix[: self.nc, : self.nc]))
            ours_diag = float(self.meta["yoloop.eval.confusion_diagonal"])
            self.check(ours_diag == diag, f"eval: confusion matrix diagonal yoloop {ours_diag:g} / ultralytics {diag:g}")
        else:
            self.check(False, "eval: yoloop wrote no metrics")
        self.eval_times = {"eval_match": statistics.median(t_match), "eval_ap_per_class": statistics.median(t_ap),
                           "eval_total": statistics.median(t_total)}
        return self.eval_times

    def case_eval(self, name, device):
        if device != "cpu":
            raise RuntimeError("evaluation runs on the CPU in Ultralytics")
        return self.run_eval()[name]

    def run_case(self, key):
        device, name = key.split(".", 1)
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch has no CUDA device")
        if name == "loss_fwd":
            return self.case_loss_fwd(key, device)
        if name == "loss_fwd_bwd":
            return self.case_loss_fwd_bwd(key, device)
        if name.startswith("nms_"):
            return self.case_nms(key, device)
        if name.startswith("eval_"):
            return self.case_eval(name, device)
        raise RuntimeError(f"unknown case {key}")


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    import ultralytics

    bench = Bench(argv[1])
    torch.set_num_threads(bench.threads)
    cases = bench.meta.get("cases", "").split()
    print(f"loss/eval bench: threads={bench.threads} (yoloop OpenMP/OpenBLAS, torch.set_num_threads) "
          f"reps={bench.reps} warmup={bench.warmup}, median ms")
    print(f"reference: Ultralytics {ultralytics.__version__}, torch {torch.__version__}")
    if ultralytics.__version__ != "8.3.166":
        print(f"WARNING: the engine matches Ultralytics 8.3.166, this is {ultralytics.__version__}")
    print("ratio = Ultralytics ms / yoloop ms (> 1: yoloop faster)\n")
    print(f"{'case':<24} {'work':<58} {'yoloop ms':>10} {'ultra ms':>10} {'ratio':>7}")
    failures = 0
    for key in cases:
        ours_text = bench.meta.get(f"yoloop.{key}.ms", "missing")
        work = bench.meta.get(f"case.{key}.work", "")
        try:
            theirs = bench.run_case(key)
        except Exception as e:  # a case that fails is reported, the others still run
            theirs = None
            bench.check(False, f"{key}: Ultralytics failed: {type(e).__name__}: {e}")
        try:
            ours = float(ours_text)
        except ValueError:
            ours = None
            bench.check(False, f"{key}: yoloop {ours_text}")
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
        ratio = f"{theirs / ours:.2f}" if ours and theirs else "n/a"
        print(f"{key:<24} {work:<58} {fmt(ours):>10} {fmt(theirs):>10} {ratio:>7}")
    if not any(k.startswith("cuda.") for k in cases):
        gpu = "torch sees a GPU" if torch.cuda.is_available() else "torch sees no GPU"
        print(f"{'cuda':<24} {bench.meta.get('yoloop.cuda', 'skipped')}; {gpu}")
    print()
    for ok, text in bench.checks:
        failures += not ok
        print(f"{'agree' if ok else 'MISMATCH'}: {text}")
    if failures:
        print(f"{failures} check(s) failed: the two sides did not do the same work")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
