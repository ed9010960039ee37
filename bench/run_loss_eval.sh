#!/usr/bin/env bash
# Runs the loss/eval benchmark: bench_loss_eval generates the inputs (our RNG), times yoloop and
# writes inputs, timings and results to a temporary safetensors file; ultralytics_loss_eval.py
# times Ultralytics 8.3.166 on the same inputs with the same threads/reps/warm-up, checks that
# both sides computed the same numbers, and prints one table (ratio = Ultralytics ms / yoloop ms:
# > 1 means yoloop is faster). Arguments are those of bench_loss_eval, e.g.
#
#   bench/run_loss_eval.sh threads=2                      # batch 16 at 640, 5000 images, reps=5
#   bench/run_loss_eval.sh threads=2 reps=3 filter=nms    # only the NMS cases
#
# Environment: BUILD_DIR (default: build) is configured if needed and bench_loss_eval built in
# it; PYTHON (default: build/refenv/bin/python, made by tools/setup.sh --reference) has
# Ultralytics 8.3.166. Exit status: non-zero when a case failed or the two sides disagree.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-$root/build/refenv/bin/python}

for arg in "$@"; do
    case "$arg" in
        -h | --help)
            sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        out=*)
            echo "run_loss_eval: out= is chosen by this script" >&2
            exit 2
            ;;
    esac
done

source "$root/bench/build_bench.sh"
build_bench run_loss_eval "$build" "$root" bench_loss_eval

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -x "$python" ] && "$python" -c 'import ultralytics' 2>/dev/null; then
    # The yoloop table goes to the log: the Python side prints both columns.
    if ! "$build/bench_loss_eval" "$@" out="$work/inputs.safetensors" >"$work/yoloop.txt"; then
        cat "$work/yoloop.txt"
        [ -f "$work/inputs.safetensors" ] || exit 1
    fi
    "$python" "$root/bench/ultralytics_loss_eval.py" "$work/inputs.safetensors"
else
    echo "run_loss_eval: Ultralytics is not importable by $python (tools/setup.sh --reference makes it);" \
        "printing yoloop figures alone" >&2
    "$build/bench_loss_eval" "$@"
fi
