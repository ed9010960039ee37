#!/usr/bin/env python3
"""Writes the evaluation parity fixtures from Ultralytics 8.3.166 (run with build/refenv/bin/python):

  tests/fixtures/eval_nms.safetensors  non_max_suppression cases (multi_label on/off, agnostic, class filter,
                                       max_det and max_nms caps, an image without candidates, equal scores),
                                       box_iou, scale_boxes and GT-label mapping cases
  tests/fixtures/eval_ap.safetensors   a synthetic validation set (boxes already in original-image space) run
                                       through DetectionValidator._process_batch (match_predictions),
                                       DetMetrics (ap_per_class) and ConfusionMatrix.process_batch

Only Ultralytics' own functions produce the expected values. Scores, confidences and IoUs are drawn without ties
(except in the NMS cases "ties" and "class_ties", which pin down torchvision's order of equal scores and
torch.max's choice among equal class scores), because elsewhere the order of equal values is decided by sorts
whose tie order Ultralytics does not define (torch.argsort, numpy's quicksort). The confusion matrix is filled
as the validator fills it at its default conf 0.001, i.e. at conf 0.25 and IoU 0.45.

float64 results are stored bit-exactly as I64 tensors named "*.f64bits" (the fixture dtypes have no F64).
Scalar parameters live in the safetensors metadata as strings.
"""
import os
import sys

import numpy as np
import torch

import ultralytics
from ultralytics.models.yolo.detect import DetectionValidator
from ultralytics.utils import ops
from ultralytics.utils.metrics import ConfusionMatrix, DetMetrics, box_iou

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures")


def f64bits(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64)).view(np.int64)


# ---- NMS, box_iou, scale_boxes -------------------------------------------------------------------


def random_head_output(rng, batch, nc, anchors, score_shift, quantize=None):
    """(B, 4+nc, A) like the Detect head in eval mode: xywh in pixels of a 640x640 input, sigmoid scores.
    Boxes jitter around a few cluster centres so NMS has real work."""
    pred = np.zeros((batch, 4 + nc, anchors), np.float32)
    for b in range(batch):
        centres = rng.uniform(40, 600, size=(max(2, anchors // 25), 2))
        sizes = rng.uniform(16, 220, size=(len(centres), 2))
        k = rng.integers(0, len(centres), size=anchors)
        pred[b, 0:2] = (centres[k] + rng.normal(0, 3, size=(anchors, 2)) * (sizes[k] / 60)).T
        pred[b, 2:4] = (sizes[k] * rng.uniform(0.85, 1.15, size=(anchors, 2))).T
        logits = rng.normal(score_shift, 2.0, size=(nc, anchors))
        scores = 1 / (1 + np.exp(-logits))
        if quantize:
            scores = np.round(scores * quantize) / quantize
        pred[b, 4:] = scores
    return pred


def has_score_ties(pred, conf, multi_label):
    for b in range(pred.shape[0]):
        s = pred[b, 4:]
        v = s[s > np.float32(conf)] if multi_label else s.max(0)[s.max(0) > np.float32(conf)]
        if len(np.unique(v)) != len(v):
            return True
    return False


def nms_cases(rng):
    cases = [
        dict(name="val_ml", batch=3, nc=3, anchors=300, conf=0.001, iou=0.7, multi_label=True, shift=-3.0),
        dict(name="predict", batch=2, nc=5, anchors=400, conf=0.25, iou=0.7, multi_label=False, shift=-2.0),
        dict(name="caps", batch=2, nc=4, anchors=250, conf=0.001, iou=0.5, multi_label=True, shift=-2.5,
             max_det=40, max_nms=150),
        dict(name="agnostic_filter", batch=2, nc=3, anchors=200, conf=0.1, iou=0.6, multi_label=False, shift=-2.0,
             agnostic=True, classes=[0, 2], empty_image=1),
        dict(name="ties", batch=1, nc=2, anchors=120, conf=0.2, iou=0.5, multi_label=False, shift=-0.5,
             quantize=8),
        # disjoint boxes, 4 score levels: equal best scores between classes of one anchor and between anchors
        dict(name="class_ties", batch=1, nc=3, anchors=64, conf=0.2, iou=0.7, multi_label=False, shift=0.0,
             quantize=4, grid=True),
    ]
    tensors, meta = {}, {"ultralytics": ultralytics.__version__, "torch": torch.__version__,
                         "nms.cases": " ".join(c["name"] for c in cases)}
    for c in cases:
        while True:
            pred = random_head_output(rng, c["batch"], c["nc"], c["anchors"], c["shift"], c.get("quantize"))
            if c.get("grid"):  # 8 x 8 cells of 80 px, boxes of 40 px: no overlaps
                a = np.arange(c["anchors"])
                pred[:, 0] = 40 + 80 * (a % 8)
                pred[:, 1] = 40 + 80 * (a // 8)
                pred[:, 2:4] = 40
            if c.get("empty_image") is not None:
                pred[c["empty_image"], 4:] *= np.float32(0.05)  # no score above conf
            if c.get("quantize") or not has_score_ties(pred, c["conf"], c["multi_label"]):
                break
        out, keep = ops.non_max_suppression(
            torch.from_numpy(pred.copy()), c["conf"], c["iou"], classes=c.get("classes"),
            agnostic=c.get("agnostic", False), multi_label=c["multi_label"], max_det=c.get("max_det", 300),
            max_nms=c.get("max_nms", 30000), return_idxs=True)
        n = c["name"]
        tensors[f"{n}.pred"] = pred
        tensors[f"{n}.dets"] = torch.cat(out).numpy().astype(np.float32).reshape(-1, 6)
        tensors[f"{n}.anchor"] = torch.cat([k.reshape(-1) for k in keep]).numpy().astype(np.int32)
        tensors[f"{n}.counts"] = np.array([len(o) for o in out], np.int32)
        meta[f"{n}.conf"] = repr(c["conf"])
        meta[f"{n}.iou"] = repr(c["iou"])
        meta[f"{n}.multi_label"] = int(c["multi_label"])
        meta[f"{n}.agnostic"] = int(c.get("agnostic", False))
        meta[f"{n}.max_det"] = c.get("max_det", 300)
        meta[f"{n}.max_nms"] = c.get("max_nms", 30000)
        meta[f"{n}.classes"] = " ".join(str(k) for k in c.get("classes", []))
        print(f"nms {n}: kept {[len(o) for o in out]}")
    return tensors, meta


def iou_case(rng):
    a = np.array([[10, 10, 50, 60], [0, 0, 1, 1], [100, 100, 100, 140], [5, 5, 45, 55], [300, 20, 400, 90]],
                 np.float32)
    b = np.concatenate([a[:2], rng.uniform(0, 420, size=(6, 2)).astype(np.float32)[:, [0, 1, 0, 1]]
                        + np.array([0, 0, 1, 1], np.float32) * rng.uniform(1, 120, size=(6, 4)).astype(np.float32)])
    b = b.astype(np.float32)
    return {"iou.a": a, "iou.b": b, "iou.out": box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()}


def scale_cases(rng):
    cases = [  # (img1_shape, img0_shape, ratio_pad)
        ((480, 640), (720, 1280), None),
        ((640, 640), (375, 500), None),
        ((512, 672), (480, 640), ((512 / 480 * 0.99, 0.0), (13, 7))),
        ((384, 640), (1080, 1920), ((384 / 1080, 640 / 1920), (0, 12))),
    ]
    tensors, meta = {}, {"scale.count": len(cases)}
    for k, (img1, img0, rp) in enumerate(cases):
        h1, w1 = img1
        xy = rng.uniform(-40, [w1 + 40, h1 + 40], size=(12, 2))
        wh = rng.uniform(1, 200, size=(12, 2))
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        out = ops.scale_boxes(img1, torch.from_numpy(boxes.copy()), img0, ratio_pad=rp).numpy()
        tensors[f"scale{k}.in"] = boxes
        tensors[f"scale{k}.out"] = out
        meta[f"scale{k}.img1"] = f"{h1} {w1}"
        meta[f"scale{k}.img0"] = f"{img0[0]} {img0[1]}"
        meta[f"scale{k}.ratio_pad"] = "none" if rp is None else f"{rp[0][0]!r} {rp[1][0]!r} {rp[1][1]!r}"
    return tensors, meta


def labels_case():
    """GT labels as DetectionValidator._prepare_batch maps them to the original image."""
    rng = np.random.default_rng(7)  # its own stream: the other fixtures do not move when this one changes
    imgsz, ori, rp = (512, 672), (480, 640), ((1.0, 1.0), (16, 16))
    xy = rng.uniform(0.02, 0.98, size=(10, 2))
    wh = rng.uniform(0.01, 0.6, size=(10, 2))
    xywhn = np.concatenate([xy, wh], 1).astype(np.float32)
    bbox = ops.xywh2xyxy(torch.from_numpy(xywhn.copy())) * torch.tensor(imgsz)[[1, 0, 1, 0]]
    out = ops.scale_boxes(imgsz, bbox, ori, ratio_pad=rp).numpy()
    return {"labels.xywhn": xywhn, "labels.out": out}, {
        "labels.img1": f"{imgsz[0]} {imgsz[1]}", "labels.img0": f"{ori[0]} {ori[1]}",
        "labels.ratio_pad": f"{rp[0][0]!r} {rp[1][0]!r} {rp[1][1]!r}"}


# ---- matching, AP, confusion matrix ----------------------------------------------------------------


def jitter_box(rng, box, scale):
    w, h = box[2] - box[0], box[3] - box[1]
    d = rng.normal(0, scale, size=4) * np.array([w, h, w, h])
    return box + d


def synthetic_set(rng, images=220, nc=5):
    """Per image: GT boxes/classes and predictions (boxes, conf, cls) in original-image pixels.
    Class 3 has GT but is never predicted; class 4 is predicted but has no GT."""
    gt_classes, fp_classes = [0, 1, 2, 3], [0, 1, 2, 4]
    imgs = []
    raw_scores = []
    for i in range(images):
        w0, h0 = rng.integers(200, 900), rng.integers(200, 900)
        kind = i % 11
        n_gt = 0 if kind == 3 else int(rng.poisson(3))
        gtb, gtc = [], []
        for _ in range(n_gt):
            bw, bh = rng.uniform(8, w0 / 2), rng.uniform(8, h0 / 2)
            x1, y1 = rng.uniform(0, w0 - bw), rng.uniform(0, h0 - bh)
            gtb.append([x1, y1, x1 + bw, y1 + bh])
            gtc.append(int(rng.choice(gt_classes, p=[0.4, 0.3, 0.2, 0.1])))
        pb, pc, ps = [], [], []
        if kind != 7:  # every 11th image keeps its GT but gets no prediction
            for box, c in zip(gtb, gtc):
                if rng.random() < 0.8:
                    k = 1 + int(rng.random() < 0.3)  # sometimes a duplicate
                    for _ in range(k):
                        pb.append(jitter_box(rng, np.array(box), rng.choice([0.02, 0.06, 0.15])))
                        if c == 3:
                            pc.append(1)
                        else:
                            pc.append(c if rng.random() < 0.9 else int(rng.choice(fp_classes)))
                        ps.append(rng.normal(1.0, 1.0))
            for _ in range(int(rng.poisson(2))):
                bw, bh = rng.uniform(8, w0 / 2), rng.uniform(8, h0 / 2)
                x1, y1 = rng.uniform(0, w0 - bw), rng.uniform(0, h0 - bh)
                pb.append(np.array([x1, y1, x1 + bw, y1 + bh]))
                pc.append(int(rng.choice(fp_classes)))
                ps.append(rng.normal(-1.0, 1.0))
        pb = np.array(pb, np.float64).reshape(-1, 4)
        pb[:, [0, 2]] = pb[:, [0, 2]].clip(0, w0)
        pb[:, [1, 3]] = pb[:, [1, 3]].clip(0, h0)
        imgs.append(dict(gt_boxes=np.array(gtb, np.float32).reshape(-1, 4), gt_cls=np.array(gtc, np.int32),
                         pred_boxes=pb.astype(np.float32), pred_cls=np.array(pc, np.int32)))
        raw_scores.extend(ps)
    # Distinct float32 confidences that keep the order of the raw scores: ties would make the order of
    # equal confidences depend on numpy's unstable sort.
    ranks = np.argsort(np.argsort(raw_scores, kind="stable"), kind="stable")
    conf = (0.002 + 0.996 * (ranks + 0.5) / len(ranks)).astype(np.float32)
    assert len(np.unique(conf)) == len(conf)
    k = 0
    for im in imgs:
        n = len(im["pred_cls"])
        # NMS output order: descending confidence within each image
        order = np.argsort(-conf[k:k + n], kind="stable")
        im["pred_conf"] = conf[k:k + n][order]
        im["pred_boxes"] = im["pred_boxes"][order]
        im["pred_cls"] = im["pred_cls"][order]
        k += n
    return imgs, nc


def ap_fixture(rng):
    imgs, nc = synthetic_set(rng)
    names = {i: f"class{i}" for i in range(nc)}
    validator = DetectionValidator()
    metrics = DetMetrics(names=names)
    confusion = ConfusionMatrix(names=list(names.values()))
    tps = []
    for im in imgs:
        pred = {"bboxes": torch.from_numpy(im["pred_boxes"]), "conf": torch.from_numpy(im["pred_conf"]),
                "cls": torch.from_numpy(im["pred_cls"].astype(np.float32))}
        gt = {"bboxes": torch.from_numpy(im["gt_boxes"]), "cls": torch.from_numpy(im["gt_cls"].astype(np.float32))}
        cls = gt["cls"].numpy()
        no_pred = len(pred["cls"]) == 0
        stat = validator._process_batch(pred, gt)  # box_iou + match_predictions, as update_metrics runs them
        metrics.update_stats({**stat, "target_cls": cls, "target_img": np.unique(cls),
                              "conf": np.zeros(0) if no_pred else pred["conf"].numpy(),
                              "pred_cls": np.zeros(0) if no_pred else pred["cls"].numpy()})
        confusion.process_batch(pred, gt, conf=validator.args.conf)  # conf 0.001 -> Ultralytics uses 0.25
        tps.append(stat["tp"])
    metrics.process()
    box = metrics.box
    cat = lambda key: np.concatenate([im[key] for im in imgs])
    t = {
        "image.gt_count": np.array([len(im["gt_cls"]) for im in imgs], np.int32),
        "image.pred_count": np.array([len(im["pred_cls"]) for im in imgs], np.int32),
        "gt.boxes": cat("gt_boxes").reshape(-1, 4),
        "gt.cls": cat("gt_cls"),
        "pred.boxes": cat("pred_boxes").reshape(-1, 4),
        "pred.conf": cat("pred_conf"),
        "pred.cls": cat("pred_cls"),
        "pred.tp": np.concatenate(tps).astype(np.uint8).reshape(-1, 10),
        "iouv": validator.iouv.numpy(),
        "ap_class_index": np.asarray(box.ap_class_index, np.int32),
        "all_ap.f64bits": f64bits(box.all_ap),
        "p.f64bits": f64bits(box.p),
        "r.f64bits": f64bits(box.r),
        "f1.f64bits": f64bits(box.f1),
        "p_curve.f64bits": f64bits(box.p_curve),
        "r_curve.f64bits": f64bits(box.r_curve),
        "prec_values.f64bits": f64bits(box.prec_values),
        "maps.f64bits": f64bits(box.maps),
        "mean_results.f64bits": f64bits([*box.mean_results(), box.map75, metrics.fitness]),
        "nt_per_class": metrics.nt_per_class.astype(np.int32),
        "nt_per_image": metrics.nt_per_image.astype(np.int32),
        "confusion": confusion.matrix.astype(np.float32),
    }
    meta = {"ultralytics": ultralytics.__version__, "nc": nc, "images": len(imgs),
            "mean_results": "mp mr map50 map map75 fitness",
            "map50": repr(float(box.map50)), "map": repr(float(box.map)), "mp": repr(float(box.mp)),
            "mr": repr(float(box.mr)), "fitness": repr(float(metrics.fitness))}
    print(f"ap: {len(imgs)} images, {len(t['gt.cls'])} GT, {len(t['pred.cls'])} predictions; "
          f"P {box.mp:.6f} R {box.mr:.6f} mAP50 {box.map50:.6f} mAP50-95 {box.map:.6f} classes {box.ap_class_index}")
    return t, meta


def main():
    assert ultralytics.__version__ == "8.3.166", f"expected Ultralytics 8.3.166, found {ultralytics.__version__}"
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(20250731)

    tensors, meta = nms_cases(rng)
    tensors.update(iou_case(rng))
    t, m = scale_cases(rng)
    tensors.update(t)
    meta.update(m)
    t, m = labels_case()
    tensors.update(t)
    meta.update(m)
    path = os.path.join(OUT, "eval_nms.safetensors")
    write_safetensors(path, tensors, meta)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    t, m = ap_fixture(rng)
    path = os.path.join(OUT, "eval_ap.safetensors")
    write_safetensors(path, t, m)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
