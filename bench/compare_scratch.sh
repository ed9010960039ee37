#!/usr/bin/env bash
# From-scratch training comparison: yolov8n from yolov8n.yaml on the synthetic defect dataset,
# the same recipe for yoloop and Ultralytics 8.3.166 (one after the other), then each tool's
# final-epoch val metrics from its results.csv and, as a cross-check, `yoloop val` of
# Ultralytics' best.pt. Arguments (key=value, defaults in brackets):
#
#   bench/compare_scratch.sh [out=runs/compare_scratch] [n=300] [imgsz=160] [epochs=10] [batch=16]
#                            [optimizer=SGD] [lr0=0.01] [workers=2] [seed=0] [close_mosaic=epochs/10]
#
# close_mosaic defaults to Ultralytics' 10 of 100 epochs scaled to `epochs` (at least 1).
# Environment: BUILD_DIR (default build) holds yoloop; PYTHON (default build/refenv/bin/python,
# from tools/setup.sh --reference) has Ultralytics. Either side is skipped when it already has a
# results.csv with `epochs` rows in out/, so a rerun after an interruption resumes the other side.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-$root/build/refenv/bin/python}
out=runs/compare_scratch n=300 imgsz=160 epochs=10 batch=16 optimizer=SGD lr0=0.01 workers=2 seed=0
close_mosaic=
for arg in "$@"; do
    case "$arg" in
        -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        out=* | n=* | imgsz=* | epochs=* | batch=* | optimizer=* | lr0=* | workers=* | seed=* | close_mosaic=*)
            declare "${arg%%=*}=${arg#*=}" ;;
        *) echo "compare_scratch: unknown argument $arg" >&2; exit 2 ;;
    esac
done
[ -n "$close_mosaic" ] || close_mosaic=$(( epochs / 10 > 0 ? epochs / 10 : 1 ))
mkdir -p "$out"
out=$(cd "$out" && pwd)
data=$out/data/data.yaml
yoloop=$build/yoloop
[ -x "$yoloop" ] || { echo "compare_scratch: $yoloop is missing (build it first)" >&2; exit 1; }

rows() { [ -f "$1" ] && echo $(( $(wc -l <"$1") - 1 )) || echo 0; }
stamp() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)] $*"; }

[ -f "$data" ] || "$yoloop" synth out="$out/data" n="$n" imgsz="$imgsz" seed="$seed"
recipe="epochs=$epochs imgsz=$imgsz batch=$batch optimizer=$optimizer lr0=$lr0 workers=$workers seed=$seed close_mosaic=$close_mosaic"

if [ "$(rows "$out/yoloop/results.csv")" -lt "$epochs" ]; then
    rm -rf "$out/yoloop"
    stamp "yoloop train $recipe"
    /usr/bin/time -f "yoloop wall %e s" "$yoloop" train model=yolov8n.yaml data="$data" $recipe \
        project="$out" name=yoloop >"$out/yoloop.log" 2>&1
fi
if [ "$(rows "$out/ultralytics/results.csv")" -lt "$epochs" ]; then
    rm -rf "$out/ultralytics"
    stamp "ultralytics train $recipe"
    /usr/bin/time -f "ultralytics wall %e s" "$python" "$root/bench/ultralytics_train.py" train data="$data" \
        $recipe project="$out" name=ultralytics exist_ok=true threads=2 >"$out/ultralytics.log" 2>&1
fi
stamp "yoloop val of Ultralytics' best.pt"
"$yoloop" val model="$out/ultralytics/weights/best.pt" data="$data" imgsz="$imgsz" batch="$batch" \
    >"$out/yoloop_val_ultralytics_best.log" 2>&1 || true

# Last row of each results.csv: metrics/mAP50(B), metrics/mAP50-95(B) by header name.
last_row() {
    "$python" - "$1" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = {k.strip(): v.strip() for k, v in rows[-1].items()}
print(f"{r['epoch']:>5} {float(r['metrics/precision(B)']):8.4f} {float(r['metrics/recall(B)']):8.4f} "
      f"{float(r['metrics/mAP50(B)']):8.4f} {float(r['metrics/mAP50-95(B)']):10.4f}")
PY
}
stamp "done; recipe: $recipe, n=$n"
printf '%-34s %5s %8s %8s %8s %10s\n' source epoch P R mAP50 mAP50-95
printf '%-34s %s\n' "yoloop (results.csv)" "$(last_row "$out/yoloop/results.csv")"
printf '%-34s %s\n' "ultralytics (results.csv)" "$(last_row "$out/ultralytics/results.csv")"
all=$(grep -E '^ *all ' "$out/yoloop_val_ultralytics_best.log" | tail -1 || true)
printf '%-34s %s\n' "yoloop val ultralytics best.pt" "${all:-(failed: see yoloop_val_ultralytics_best.log)}"
grep -h "wall" "$out/yoloop.log" "$out/ultralytics.log" 2>/dev/null || true
