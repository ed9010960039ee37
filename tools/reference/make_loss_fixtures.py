#!/usr/bin/env python3
"""Writes the detection-loss parity fixtures from Ultralytics 8.3.166 (run with build/refenv/bin/python):

  tests/fixtures/loss_square.safetensors      64x64, B=3, nc=3: overlapping boxes, an image without boxes,
                                              boxes touching the image border, a 3x3 px box, a zero-width box
  tests/fixtures/loss_wide.safetensors        32x128 (H x W), B=2: a full-width box whose DFL targets pass 15 bins
                                              (clamped to 14.99), border boxes, rows not sorted by image
  tests/fixtures/loss_crowd.safetensors       64x64, B=1: 12 overlapping boxes, so anchors are claimed by several
                                              GTs and the max-IoU conflict rule runs
  tests/fixtures/loss_background.safetensors  32x32, B=2, no boxes at all

Only Ultralytics' own v8DetectionLoss (on a yolov8n DetectionModel built with nc=3, default hyperparameters)
produces the expected values. Each file holds:
  head0..head2        F16 (B, 64+nc, H_i, W_i) head outputs; stored as F16 to keep fixtures small, the loss ran on
                      exactly these values in float32
  targets             F32 (N, 6) rows (image index, class, cx, cy, w, h), normalised, in batch order
  items               F32 (3) the logged loss items (box, cls, dfl), gains applied, not multiplied by B
  loss_total          F32 (1) sum(items) * B, the value the trainer backpropagates
  grad0..grad2        F32 d(loss_total)/d(head_i), by autograd
  tal.fg_mask         U8  (B, A) the assigner's foreground mask
  tal.target_gt_idx   I32 (B, A) index of the assigned GT within its image (0 for background)
  tal.target_scores   F32 (B, A, nc) soft class targets
Metadata: batch, nc, image_h, image_w, strides, versions, seed, and assigner diagnostics (conflicts = anchors
claimed by more than one GT before resolution; zero_align_positives = positives whose align metric is 0, which
torch.topk picks in an unspecified tie order and which carry no weight).
"""
import os
import sys

import numpy as np
import torch

import ultralytics
from ultralytics.cfg import get_cfg
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils.loss import v8DetectionLoss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures")
NC = 3
REG_MAX = 16
STRIDES = (8, 16, 32)


def make_criterion():
    model = DetectionModel("yolov8n.yaml", nc=NC, verbose=False)
    model.args = get_cfg()  # default hyperparameters: box 7.5, cls 0.5, dfl 1.5
    return v8DetectionLoss(model)


def level_shapes(image_h, image_w):
    return [(-(-image_h // s), -(-image_w // s)) for s in STRIDES]


def random_heads(rng, batch, image_h, image_w):
    """Box logits around 0, class logits biased negative as after bias_init; rounded to float16."""
    heads = []
    for h, w in level_shapes(image_h, image_w):
        box = rng.normal(0.0, 1.5, size=(batch, 4 * REG_MAX, h, w))
        cls = rng.normal(-3.0, 1.5, size=(batch, NC, h, w))
        heads.append(np.concatenate([box, cls], 1).astype(np.float16))
    return heads


def craft_anchor(heads, image, level, y, x, distances, cls, rng):
    """Makes one anchor predict a box near `distances` (l, t, r, b in grid units) with class `cls` likely,
    so that the assigner picks it for a GT the random head alone would not fit (tiny box, DFL clamp)."""
    logits = heads[level][image]
    for side, d in enumerate(distances):
        bins = np.arange(REG_MAX)
        logits[side * REG_MAX : (side + 1) * REG_MAX, y, x] = (-1.5 * (bins - d) ** 2 + rng.normal(0, 0.3, REG_MAX)).clip(-8)
    logits[4 * REG_MAX + cls, y, x] = 1.0


def run_loss(criterion, heads, targets, dtype):
    feats = [torch.tensor(h.astype(np.float32), dtype=dtype, requires_grad=True) for h in heads]
    t = torch.tensor(targets, dtype=torch.float32).reshape(-1, 6)
    batch = {"batch_idx": t[:, 0], "cls": t[:, 1:2], "bboxes": t[:, 2:6]}

    record = {}
    assigner = criterion.assigner
    original_forward = type(assigner).forward

    def recording_forward(pd_scores, pd_bboxes, anc_points, gt_labels, gt_bboxes, mask_gt):
        out = original_forward(assigner, pd_scores, pd_bboxes, anc_points, gt_labels, gt_bboxes, mask_gt)
        record["fg_mask"] = out[3].clone()
        record["target_gt_idx"] = out[4].clone()
        record["target_scores"] = out[2].clone()
        record["conflicts"] = record["zero_align_positives"] = 0
        if gt_bboxes.shape[1] > 0:
            mask_pos, align, _ = assigner.get_pos_mask(pd_scores, pd_bboxes, gt_labels, gt_bboxes, anc_points, mask_gt)
            record["conflicts"] = int((mask_pos.sum(-2) > 1).sum())
            record["zero_align_positives"] = int(((mask_pos > 0) & (align <= 0)).sum())
        return out

    assigner.forward = recording_forward
    try:
        loss, items = criterion(feats, batch)
    finally:
        del assigner.forward
    total = loss.sum()
    total.backward()
    return items, total, [f.grad for f in feats], record


def write_case(criterion, name, seed, image_hw, heads, targets, description):
    image_h, image_w = image_hw
    batch = heads[0].shape[0]
    items, total, grads, rec = run_loss(criterion, heads, targets, torch.float32)
    # The same loss in float64 (Ultralytics' graph runs in the head dtype; only the 3-vector is float32)
    # shows how much of a float32 difference is rounding.
    items64, total64, grads64, _ = run_loss(criterion, heads, targets, torch.float64)
    f64_grad_diff = max(float((g - g64.float()).abs().max()) for g, g64 in zip(grads, grads64))

    tensors = {f"head{i}": h for i, h in enumerate(heads)}
    tensors["targets"] = np.asarray(targets, np.float32).reshape(-1, 6)
    tensors["items"] = items.numpy().astype(np.float32)
    tensors["loss_total"] = np.array([float(total)], np.float32)
    for i, g in enumerate(grads):
        tensors[f"grad{i}"] = g.numpy().astype(np.float32)
    tensors["tal.fg_mask"] = rec["fg_mask"].numpy().astype(np.uint8)
    tensors["tal.target_gt_idx"] = rec["target_gt_idx"].numpy().astype(np.int32)
    tensors["tal.target_scores"] = rec["target_scores"].numpy().astype(np.float32)
    metadata = {
        "description": description,
        "batch": batch,
        "nc": NC,
        "image_h": image_h,
        "image_w": image_w,
        "strides": ",".join(map(str, STRIDES)),
        "gains": f"box={criterion.hyp.box},cls={criterion.hyp.cls},dfl={criterion.hyp.dfl}",
        "seed": seed,
        "ultralytics": ultralytics.__version__,
        "torch": torch.__version__,
        "num_fg": int(rec["fg_mask"].sum()),
        "target_scores_sum": float(rec["target_scores"].sum()),
        "conflicts": rec["conflicts"],
        "zero_align_positives": rec["zero_align_positives"],
        "f32_vs_f64_items": ",".join(f"{float(a - b):.3g}" for a, b in zip(items, items64)),
        "f32_vs_f64_max_grad_diff": f"{f64_grad_diff:.3g}",
        "generator": "tools/reference/make_loss_fixtures.py",
    }
    path = os.path.join(OUT, f"loss_{name}.safetensors")
    write_safetensors(path, tensors, metadata)

    back, meta = read_safetensors(path)  # round trip
    assert all(np.array_equal(back[k], np.asarray(v)) for k, v in tensors.items()), name
    print(
        f"{name:10s} B={batch} {image_h}x{image_w} rows={len(targets)} items={items.numpy()} total={float(total):.6g} "
        f"fg={meta['num_fg']} conflicts={meta['conflicts']} zero_align_pos={meta['zero_align_positives']} "
        f"f64 grad diff={meta['f32_vs_f64_max_grad_diff']} size={os.path.getsize(path)} B"
    )


def case_square(criterion):
    seed = 101
    rng = np.random.default_rng(seed)
    heads = random_heads(rng, 3, 64, 64)
    # 3x3 px box centred on the P3 anchor (2, 2) of image 2: only that anchor contains it, so make it predict
    # a small box.
    craft_anchor(heads, 2, 0, 2, 2, (0.2, 0.2, 0.2, 0.2), 1, rng)
    targets = [
        (2, 2, 0.15, 0.50, 0.30, 0.60),  # touches the left border (x1 = 0)
        (0, 0, 0.30, 0.35, 0.40, 0.50),
        (0, 1, 0.38, 0.40, 0.45, 0.45),  # overlaps the previous one
        (0, 2, 0.70, 0.65, 0.50, 0.55),
        (0, 0, 0.62, 0.70, 0.30, 0.25),
        (0, 1, 0.50, 0.50, 0.95, 0.95),  # covers nearly everything: shares anchors with all others
        (2, 0, 0.85, 0.80, 0.30, 0.40),  # touches the right and bottom borders
        (2, 1, 20 / 64, 20 / 64, 3 / 64, 3 / 64),  # 3x3 px
        (2, 2, 0.60, 0.30, 0.00, 0.10),  # zero width: contains no anchor, never positive
    ]
    write_case(criterion, "square", seed, (64, 64), heads, targets,
               "64x64 B=3 nc=3; image 1 has no boxes; border, 3px and zero-width boxes in image 2")


def case_wide(criterion):
    seed = 202
    rng = np.random.default_rng(seed)
    heads = random_heads(rng, 2, 32, 128)
    # Full-width box in image 0: the P3 anchors at its left and right ends see a distance of 15.5 grid units to
    # the far side, past the last DFL bin; make them fit the box so that they become positives.
    craft_anchor(heads, 0, 0, 1, 0, (0.5, 1.0, 15.0, 2.0), 1, rng)
    craft_anchor(heads, 0, 0, 2, 15, (15.0, 2.0, 0.5, 1.0), 1, rng)
    targets = [
        (1, 2, 0.70, 0.50, 0.30, 0.80),
        (0, 1, 0.50, 0.50, 1.00, 0.75),  # x1 = 0, x2 = 128
        (1, 0, 0.90, 0.75, 0.20, 0.50),  # touches the right and bottom borders
        (0, 0, 0.30, 0.40, 0.25, 0.60),
        (1, 1, 0.20, 0.30, 0.10, 0.20),
    ]
    write_case(criterion, "wide", seed, (32, 128), heads, targets,
               "32x128 (HxW) B=2 nc=3; full-width box with DFL targets clamped to 14.99; rows interleaved")


def case_crowd(criterion):
    seed = 303
    rng = np.random.default_rng(seed)
    heads = random_heads(rng, 1, 64, 64)
    targets = []
    for _ in range(12):
        cx, cy = rng.uniform(0.3, 0.7, 2)
        w, h = rng.uniform(0.2, 0.6, 2)
        targets.append((0, int(rng.integers(0, NC)), cx, cy, w, h))
    write_case(criterion, "crowd", seed, (64, 64), heads, targets, "64x64 B=1 nc=3; 12 overlapping boxes")


def case_background(criterion):
    seed = 404
    rng = np.random.default_rng(seed)
    heads = random_heads(rng, 2, 32, 32)
    write_case(criterion, "background", seed, (32, 32), heads, [], "32x32 B=2 nc=3; no boxes in the batch")


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    criterion = make_criterion()
    case_square(criterion)
    case_wide(criterion)
    case_crowd(criterion)
    case_background(criterion)


if __name__ == "__main__":
    main()
