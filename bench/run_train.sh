#!/usr/bin/env bash
# Training throughput on the CPU (or a GPU: device=), yoloop vs Ultralytics 8.3.166: yolov8n from yolov8n.yaml, the
# same synthetic data (yoloop synth), batch, threads and loader workers, one size after the other.
# Each side runs its real trainer (augmenting loader, forward, loss, backward, optimizer, EMA) and
# stamps the end of every batch (yoloop: bench_train's progress callback; Ultralytics: an
# on_train_batch_end callback in ultralytics_train.py); warmup + 1 batches are untimed, the next
# `steps` are timed; no validation, setup or checkpoint time is included. Prints a table:
#   imgsz, batch, yoloop s/img, Ultralytics s/img, ratio (Ultralytics / yoloop: > 1 = yoloop faster),
#   yoloop step s/img (forward..optimizer, no loader wait), yoloop wait s/img (the trainer's wait for
#   its loader) and loader share (wait / (wait + step)), yoloop loader alone s/img, load average.
#
#   bench/run_train.sh [sizes=320:8,640:4] [warmup=2] [steps=6] [threads=2] [workers=2] [n=96]
#                      [device=cpu|cuda|cuda:N]
#
# On a GPU both trainers wait for every step to finish before its stamp (yoloop's trainer
# synchronises; the Ultralytics side calls torch.cuda.synchronize), both in fp32 (amp off), and
# the loader columns give the data pipeline's share of the step on that device.
#
# Environment: BUILD_DIR (default build; configured and bench_train + yoloop built if needed),
# PYTHON (default build/refenv/bin/python from tools/setup.sh --reference). Without Ultralytics
# the Ultralytics column reads "-".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-$root/build/refenv/bin/python}
sizes=320:8,640:4 warmup=2 steps=6 threads=2 workers=2 n=96 device=cpu
for arg in "$@"; do
    case "$arg" in
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        sizes=* | warmup=* | steps=* | threads=* | workers=* | n=* | device=*) declare "${arg%%=*}=${arg#*=}" ;;
        *) echo "run_train: unknown argument $arg" >&2; exit 2 ;;
    esac
done
source "$root/bench/build_bench.sh"
build_bench run_train "$build" "$root" bench_train yoloop
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/yoloop" synth out="$work/data" n="$n" imgsz=640 seed=0 >&2
data=$work/data/data.yaml
have_ul=0
"$python" -c 'import ultralytics' 2>/dev/null && have_ul=1
load() { cut -d' ' -f1-3 /proc/loadavg; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

rows=()
for size in ${sizes//,/ }; do
    imgsz=${size%%:*} batch=${size#*:}
    l0=$(load)
    # bench_train runs under the OpenMP wait policy `yoloop` defaults to (cli/main.c: PASSIVE
    # unless set); Ultralytics runs as it ships.
    y=$(OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} OMP_NUM_THREADS=$threads "$build/bench_train" data="$data" \
        imgsz="$imgsz" batch="$batch" warmup="$warmup" steps="$steps" workers="$workers" threads="$threads" \
        device="$device" | tail -1)
    echo "$y" >&2
    u="-"
    if [ $have_ul = 1 ]; then
        ul=$(OMP_NUM_THREADS=$threads "$python" "$root/bench/ultralytics_train.py" speed data="$data" imgsz="$imgsz" \
            batch="$batch" warmup="$warmup" steps="$steps" workers="$workers" threads="$threads" device="$device" \
            project="$work/ul" 2>"$work/ul.log" | tail -1) || { tail -20 "$work/ul.log" >&2; ul=""; }
        echo "$ul" >&2
        u=$(echo "$ul" | field s_per_img)
        [ -n "$u" ] || u="-"
    fi
    ys=$(echo "$y" | field s_per_img)
    ratio=$(awk -v u="$u" -v y="$ys" 'BEGIN { if (u == "-" || y <= 0) print "-"; else printf "%.2f", u / y }')
    rows+=("$(printf '%5s %5s %12s %12s %6s %14s %14s %7s %14s   %s -> %s' "$imgsz" "$batch" "$ys" "$u" "$ratio" \
        "$(echo "$y" | field step_s_per_img)" "$(echo "$y" | field wait_s_per_img)" \
        "$(echo "$y" | field loader_share)" "$(echo "$y" | field loader_alone_s_per_img)" "$l0" "$(load)")")
done
echo "yolov8n training throughput, device=$device, threads=$threads workers=$workers, $steps timed steps after $((warmup + 1)) untimed," \
    "yoloop OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}"
printf '%5s %5s %12s %12s %6s %14s %14s %7s %14s   %s\n' imgsz batch "yoloop s/img" "ultra s/img" ratio \
    "yl step s/img" "yl wait s/img" "share" "yl loader s/img" "load avg (before -> after)"
printf '%s\n' "${rows[@]}"
