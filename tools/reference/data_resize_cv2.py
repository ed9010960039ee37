#!/usr/bin/env python3
"""Writes tests/fixtures/data/resize_cv2.txt: cv2.resize(INTER_LINEAR) outputs for test_image_io.

Each case: a line "case <seed> <w> <h> <W> <H>", then the resized HxWx3 bytes as hex (96 characters
a line). The input is w x h x 3 bytes from the LCG below (test_image_io.c makes the same bytes), so
only the outputs need committing. Needs opencv-python(-headless) and numpy.
"""
import sys
from pathlib import Path

import cv2
import numpy as np

CASES = [  # (seed, w, h, W, H): up, down, exact 2x (INTER_AREA inside cv2), thin, tall
    (1, 23, 17, 31, 22),
    (2, 23, 17, 9, 7),
    (3, 22, 16, 11, 8),
    (4, 5, 13, 12, 31),
    (5, 31, 11, 16, 6),
]


def lcg_bytes(seed, n):
    state, out = seed, bytearray(n)
    for i in range(n):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (state >> 16) & 0xFF
    return bytes(out)


def main():
    out = Path(__file__).resolve().parents[2] / "tests/fixtures/data/resize_cv2.txt"
    lines = [f"# cv2 {cv2.__version__} resize INTER_LINEAR; written by tools/reference/data_resize_cv2.py"]
    for seed, w, h, W, H in CASES:
        src = np.frombuffer(lcg_bytes(seed, w * h * 3), np.uint8).reshape(h, w, 3)
        dst = cv2.resize(src, (W, H), interpolation=cv2.INTER_LINEAR).tobytes().hex()
        lines.append(f"case {seed} {w} {h} {W} {H}")
        lines += [dst[i:i + 96] for i in range(0, len(dst), 96)]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
