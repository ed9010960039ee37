#!/usr/bin/env python3
"""Writes tests/fixtures/augment_cv2.safetensors: what OpenCV gives for the two pixel operations of
the train-time augmentation, for test_augment.c to match byte for byte.

- warp_src (45, 61, 3) u8, warp_m (4, 3, 3) f32 (float32 values, so C reads them exactly),
  warp_out (4, 40, 48, 3) u8 = cv2.warpAffine(src, M[:2], (48, 40), borderValue=(114, 114, 114)),
  Ultralytics' RandomPerspective call.
- hsv_src (16, 128, 3) u8 RGB (every fifth pixel grey), hsv_gains (4, 3) f32, hsv_out (4, 16, 128, 3)
  u8: Ultralytics' RandomHSV (>= 8.3.83) with those gains, on the BGR view of the image. Rows of 128
  pixels keep OpenCV's HSV -> BGR on its vectorised path (its scalar tail rounds instead of
  truncating, which our C code does not copy).
Needs opencv-python(-headless) and numpy.
"""
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import write_safetensors  # noqa: E402


def affine(scale, degrees, shear_x, shear_y, tx, ty, in_w, in_h):
    """M = T S R C as Ultralytics builds it (perspective 0)."""
    C = np.eye(3)
    C[0, 2], C[1, 2] = -in_w / 2, -in_h / 2
    R = np.eye(3)
    R[:2] = cv2.getRotationMatrix2D(angle=degrees, center=(0, 0), scale=scale)
    S = np.eye(3)
    S[0, 1], S[1, 0] = np.tan(np.radians(shear_x)), np.tan(np.radians(shear_y))
    T = np.eye(3)
    T[0, 2], T[1, 2] = tx, ty
    return (T @ S @ R @ C).astype(np.float32)


def random_hsv(rgb, gains):
    r = gains.astype(np.float64)
    x = np.arange(0, 256, dtype=r.dtype)
    lut_hue = ((x + r[0] * 180) % 180).astype(np.uint8)
    lut_sat = np.clip(x * (r[1] + 1), 0, 255).astype(np.uint8)
    lut_sat[0] = 0
    lut_val = np.clip(x * (r[2] + 1), 0, 255).astype(np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    hue, sat, val = cv2.split(cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV))
    im_hsv = cv2.merge((cv2.LUT(hue, lut_hue), cv2.LUT(sat, lut_sat), cv2.LUT(val, lut_val)))
    out = cv2.cvtColor(im_hsv, cv2.COLOR_HSV2BGR)
    return np.ascontiguousarray(out[..., ::-1])


def main():
    rng = np.random.default_rng(2024)
    warp_src = rng.integers(0, 256, (45, 61, 3), dtype=np.uint8)
    matrices = np.stack([
        affine(0.55, 0, 0, 0, 24 * 0.93, 20 * 1.07, 61, 45),   # shrink, mosaic-like translation
        affine(1.43, 0, 0, 0, 24 * 1.1, 20 * 0.9, 61, 45),     # enlarge
        affine(1.0, 12.5, 4.0, -3.0, 25.0, 19.0, 61, 45),      # rotation and shear
        affine(0.8, -7.0, 0, 0, -5.0, 31.0, 61, 45),           # mostly outside: border blending
    ])
    warp_out = np.stack([cv2.warpAffine(warp_src, m[:2].astype(np.float64), dsize=(48, 40),
                                        borderValue=(114, 114, 114)) for m in matrices])
    hsv_src = rng.integers(0, 256, (16, 128, 3), dtype=np.uint8)
    flat = hsv_src.reshape(-1, 3)
    flat[::5] = flat[::5, :1]  # grey pixels
    gains = np.array([[0.015, 0.7, 0.4], [-0.015, -0.7, -0.4], [0.0071, -0.33, 0.21], [-0.011, 0.52, -0.09]],
                     dtype=np.float32)
    hsv_out = np.stack([random_hsv(hsv_src, g) for g in gains])
    out = Path(__file__).resolve().parents[2] / "tests/fixtures/augment_cv2.safetensors"
    write_safetensors(out, {"warp_src": warp_src, "warp_m": matrices, "warp_out": warp_out,
                            "hsv_src": hsv_src, "hsv_gains": gains, "hsv_out": hsv_out},
                      metadata={"opencv": cv2.__version__, "writer": "tools/reference/make_augment_fixtures.py"})
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
