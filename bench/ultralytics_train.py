#!/usr/bin/env python3
"""Ultralytics side of the training benchmarks (run_train.sh, compare_scratch.sh).

  ultralytics_train.py speed data=<data.yaml> imgsz=320 batch=8 warmup=2 steps=6 threads=2 workers=2
                      [device=cpu|cuda|cuda:N|N]
      Times training iterations of yolov8n (from yolov8n.yaml, seed 0) on the CPU or a GPU: an
      on_train_batch_end callback records a timestamp per batch (after torch.cuda.synchronize on a
      GPU); after warmup + steps batches the run is stopped (no validation, no checkpoint). Prints:
          ultralytics imgsz=320 batch=8 steps=6 s_per_img=0.0123
  ultralytics_train.py train data=<data.yaml> project=<dir> name=<name> [key=value ...]
      A whole `yolo train` run from yolov8n.yaml with the given overrides (device=cpu, plots off).
"""
import os
import sys
import time


class _Enough(Exception):
    """Raised from the batch callback to end a timing run before validation."""


def parse(argv):
    kv = {}
    for a in argv:
        k, _, v = a.partition("=")
        kv[k] = v
    return kv


def typed(v):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(v.lower(), v)


def speed(kv):
    import torch
    from ultralytics import YOLO

    threads = int(kv.get("threads", 2))
    torch.set_num_threads(threads)
    warmup, steps = int(kv.get("warmup", 2)), int(kv.get("steps", 6))
    imgsz, batch = int(kv.get("imgsz", 320)), int(kv.get("batch", 8))
    stamps = []
    device = str(kv.get("device", "cpu"))
    if device.startswith("cuda"):
        device = device.partition(":")[2] or "0"  # Ultralytics names GPUs by index
    on_gpu = device != "cpu"

    def on_batch_end(trainer):
        if on_gpu:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        if len(stamps) > warmup + steps:
            raise _Enough()

    model = YOLO("yolov8n.yaml")
    model.add_callback("on_train_batch_end", on_batch_end)
    try:
        model.train(data=kv["data"], epochs=100, imgsz=imgsz, batch=batch, workers=int(kv.get("workers", 2)),
                    device=device, seed=0, deterministic=False, plots=False, val=False, amp=False,
                    project=kv.get("project", "/tmp/ul_speed"), name="exp", exist_ok=True, verbose=False)
    except _Enough:
        pass
    if len(stamps) <= warmup + steps:
        sys.exit(f"ultralytics_train: only {len(stamps)} batches ran (need {warmup + steps + 1}: more images?)")
    # stamps[warmup] ends the last warm-up batch; the next `steps` intervals are timed batches.
    seconds = stamps[warmup + steps] - stamps[warmup]
    print(f"ultralytics imgsz={imgsz} batch={batch} steps={steps} s_per_img={seconds / (steps * batch):.5f}")


def _patch_results_reader():
    """Ultralytics 8.3.166 reads results.csv with pandas when it saves a checkpoint; the reference
    env has no pandas, so read it with the csv module into the same {column: [values]} dict."""
    import csv

    from ultralytics.engine.trainer import BaseTrainer

    def read_results_csv(self):
        with open(self.csv, newline="") as f:
            rows = list(csv.reader(f))
        columns = {}
        for i, name in enumerate(rows[0] if rows else []):
            columns[name.strip()] = [float(r[i]) for r in rows[1:]]
        return columns

    BaseTrainer.read_results_csv = read_results_csv


def train(kv):
    import torch
    from ultralytics import YOLO

    try:
        import pandas  # noqa: F401
    except ImportError:
        _patch_results_reader()

    torch.set_num_threads(int(kv.pop("threads", 2)))
    args = {k: typed(v) for k, v in kv.items()}
    args.setdefault("device", "cpu")
    args.setdefault("plots", False)
    args.setdefault("amp", False)
    YOLO("yolov8n.yaml").train(**args)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("speed", "train"):
        sys.exit(__doc__)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    kv = parse(sys.argv[2:])
    (speed if sys.argv[1] == "speed" else train)(kv)
