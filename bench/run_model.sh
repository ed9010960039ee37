#!/usr/bin/env bash
# Runs the model benchmark: yolov8n eval forward and forward + backward per image, yoloop and
# Ultralytics 8.3.166 on the same weights and images, same threads/reps/warm-up, one table
# (ratio = Ultralytics ms / yoloop ms: > 1 means yoloop is faster) and a check that both eval
# outputs agree. ultralytics_model.py exports DetectionModel('yolov8n.yaml', nc=80) (seed 0) to a
# temporary safetensors file; bench_model loads it strictly, times yoloop and writes its timings,
# images and eval outputs; ultralytics_model.py times Ultralytics and compares. Arguments are
# those of bench_model, e.g.
#
#   bench/run_model.sh threads=2                        # batch 1,8 at imgsz 320,640, reps=5
#   bench/run_model.sh threads=2 batch=8 imgsz=640      # one size
#
# Environment: BUILD_DIR (default: build) is configured if needed and bench_model built in it;
# PYTHON (default: build/refenv/bin/python, made by tools/setup.sh --reference) has Ultralytics
# 8.3.166. Exit status: non-zero when a case failed or the two sides disagree.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-$root/build/refenv/bin/python}

for arg in "$@"; do
    case "$arg" in
        -h | --help)
            sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        out=* | weights=*)
            echo "run_model: ${arg%%=*}= is chosen by this script" >&2
            exit 2
            ;;
    esac
done

source "$root/bench/build_bench.sh"
build_bench run_model "$build" "$root" bench_model

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -x "$python" ] && "$python" -c 'import ultralytics' 2>/dev/null; then
    "$python" "$root/bench/ultralytics_model.py" export "$work/weights.safetensors" seed=0 >&2
    # The yoloop table goes to the log: the Python side prints both columns.
    if ! "$build/bench_model" "$@" weights="$work/weights.safetensors" out="$work/yoloop.safetensors" \
        >"$work/yoloop.txt"; then
        cat "$work/yoloop.txt"
        [ -f "$work/yoloop.safetensors" ] || exit 1
    fi
    "$python" "$root/bench/ultralytics_model.py" compare "$work/yoloop.safetensors"
else
    echo "run_model: Ultralytics is not importable by $python (tools/setup.sh --reference makes it);" \
        "printing yoloop figures alone (own init)" >&2
    "$build/bench_model" "$@"
fi
