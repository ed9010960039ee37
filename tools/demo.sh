#!/usr/bin/env bash
# Sets up, builds and runs the demo: forward and backward of YOLOv8 on a synthetic batch.
# Extra key=value arguments go to `yoloop demo` (e.g. tools/demo.sh scale=s imgsz=640 device=cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc)" --target yoloop >>build.log 2>&1 || { tail -50 build.log; exit 1; }
build/yoloop demo "$@"
