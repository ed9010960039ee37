#!/usr/bin/env bash
# /predict throughput and latency of `yoloop serve` under concurrent requests on loopback:
# `requests` POST /predict calls, `concurrency` at a time (one curl process, --parallel), each
# with `tasks` tasks whose images (synthetic, imgsz wide) come from a media_root folder the way
# Label Studio's /data/upload/... files do. The image cache is filled by a warm-up pass, so the
# figures are decode + letterbox + model + NMS + JSON, not the download. Reports requests/s,
# images/s and p50/p90/p99 latency. With build/refenv (tools/setup.sh --reference), the same
# load is run against a minimal Ultralytics backend (bench/ultralytics_serve.py) on the same
# weights; otherwise that side is skipped and said so.
#
#   bench/bench_serve.sh                                   # requests=100 concurrency=4 imgsz=640
#   bench/bench_serve.sh requests=400 concurrency=8 threads=2 tasks=1
#
# Options: requests (100), concurrency (4), tasks per request (1), imgsz (640), threads (CPU
# threads for both sides, 0 = all), serve_threads (yoloop serve threads=, 4), conf (0.25).
# Environment: BUILD_DIR (default: build; yoloop is built there if missing), PYTHON (default:
# build/refenv/bin/python), MODEL (a .pt or .safetensors to serve; default: yolov8n with random
# weights, seed 0, written by Ultralytics when it is there, else by one yoloop training step).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-$root/build/refenv/bin/python}
requests=100 concurrency=4 tasks=1 imgsz=640 threads=0 serve_threads=4 conf=0.25
for arg in "$@"; do
    case "$arg" in
        -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        requests=* | concurrency=* | tasks=* | imgsz=* | threads=* | serve_threads=* | conf=*)
            declare "${arg%%=*}=${arg#*=}" ;;
        *) echo "bench_serve: unknown argument $arg" >&2; exit 2 ;;
    esac
done

if [ ! -x "$build/yoloop" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target yoloop >/dev/null
fi
yoloop=$build/yoloop
have_ultralytics=0
if [ -x "$python" ] && "$python" -c 'import torch, ultralytics' 2>/dev/null; then have_ultralytics=1; fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# ---- model and images ----
"$yoloop" synth out="$work/data" n=16 imgsz="$imgsz" seed=3 >/dev/null
mkdir -p "$work/media/upload/1"
cp "$work"/data/images/*/*.png "$work/media/upload/1/"
model=${MODEL:-}
if [ -z "$model" ]; then
    if [ $have_ultralytics = 1 ]; then
        model=$work/yolov8n.pt
        (cd "$work" && "$python" -c "import torch; torch.manual_seed(0)
from ultralytics import YOLO; YOLO('yolov8n.yaml').save('$model')" >/dev/null 2>&1)
    else
        "$yoloop" train model=yolov8n.yaml data="$work/data/data.yaml" epochs=1 imgsz=64 batch=4 val=false \
            project="$work/runs" name=n >/dev/null 2>&1
        model=$work/runs/n/weights/last.safetensors
    fi
fi
images=()
for f in "$work"/media/upload/1/*.png; do images+=("$(basename "$f")"); done
for i in "${!images[@]}"; do
    body="{\"project\":\"1.1\",\"label_config\":\"<View><Image name=\\\"image\\\" value=\\\"\$image\\\"/><RectangleLabels name=\\\"label\\\" toName=\\\"image\\\"><Label value=\\\"0\\\"/><Label value=\\\"2\\\"/><Label value=\\\"dentado\\\"/><Label value=\\\"person\\\"/></RectangleLabels></View>\",\"tasks\":["
    for t in $(seq 0 $((tasks - 1))); do
        img=${images[$(((i + t) % ${#images[@]}))]}
        if [ "$t" -gt 0 ]; then body+=","; fi
        body+="{\"id\":$((i * 100 + t)),\"data\":{\"image\":\"/data/upload/1/$img\"}}"
    done
    echo "$body]}" > "$work/body$i.json"
done

# One pass: $1 = port, $2 = count, $3 = concurrency; prints "code seconds" per request.
load() {
    local cfg=$work/load.cfg
    : > "$cfg"
    for n in $(seq 0 $(($2 - 1))); do
        if [ "$n" -gt 0 ]; then echo next >> "$cfg"; fi
        printf 'url = "http://127.0.0.1:%s/predict"\ndata-binary = "@%s/body%d.json"\nheader = "Content-Type: application/json"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{time_total}\\n"\nsilent\n' \
            "$1" "$work" $((n % ${#images[@]})) >> "$cfg"
    done
    curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$3" -K "$cfg"
}

# $1 = label, $2 = port
measure() {
    load "$2" "${#images[@]}" 1 > /dev/null   # warm-up: every image once (fills the cache)
    local start end
    start=$(date +%s.%N)
    load "$2" "$requests" "$concurrency" > "$work/times.txt"
    end=$(date +%s.%N)
    local wall
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    awk '{ print $1, $2 }' "$work/times.txt" | sort -k2,2g | awk -v label="$1" -v wall="$wall" -v tasks="$tasks" '
        function at(q,   i) { i = int(n * q + 0.5); if (i < 1) i = 1; if (i > n) i = n; return t[i] * 1e3 }
        { n++; t[n] = $2; if ($1 != 200) bad++ }
        END {
            printf "%-12s %5d req  %3d failed  %7.2f req/s  %7.2f img/s  p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms\n",
                label, n, bad, n / wall, n * tasks / wall, at(0.50), at(0.90), at(0.99)
        }'
}

wait_listening() {  # $1 = log file; prints the port
    for _ in $(seq 1 600); do
        port=$(grep -o -m1 -E 'listening on (http://127\.0\.0\.1:)?[0-9]+' "$1" 2>/dev/null | head -1 | grep -o -E '[0-9]+$' || true)
        if [ -n "$port" ]; then echo "$port"; return 0; fi
        sleep 0.1
    done
    echo "bench_serve: the server did not start:" >&2
    cat "$1" >&2
    return 1
}

omp=$([ "$threads" -gt 0 ] && echo "$threads" || nproc)
echo "bench_serve: model $(basename "$model"), imgsz $imgsz, $requests requests x $tasks task(s), concurrency $concurrency, $omp CPU threads, $(nproc) cores"
LABEL_STUDIO_API_KEY=bench OMP_NUM_THREADS=$omp "$yoloop" serve model="$model" cache_dir="$work/cache" port=0 \
    url=http://127.0.0.1:9 media_root="$work/media" imgsz="$imgsz" conf="$conf" threshold="$conf" \
    threads="$serve_threads" max_connections=256 > "$work/yoloop.log" 2>&1 &
pids+=($!)
port=$(wait_listening "$work/yoloop.log")
measure "yoloop" "$port"
kill "${pids[0]}"

if [ $have_ultralytics = 1 ] && [ "${model##*.}" != pt ]; then
    echo "ultralytics  skipped: MODEL=$model is not a .pt file Ultralytics can load"
elif [ $have_ultralytics = 1 ]; then
    OMP_NUM_THREADS=$omp "$python" "$root/bench/ultralytics_serve.py" model="$model" media_root="$work/media" \
        imgsz="$imgsz" conf="$conf" threads="$threads" > "$work/ultralytics.log" 2>&1 &
    pids+=($!)
    port=$(wait_listening "$work/ultralytics.log")
    measure "ultralytics" "$port"
else
    echo "ultralytics  skipped: no $python with torch and ultralytics (tools/setup.sh --reference creates it)"
fi
