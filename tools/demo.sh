#!/usr/bin/env bash
# Sets up, builds and runs the demo: the continual-learning cycle on a fresh machine, no Label
# Studio server needed (its JSON exports are simulated by `yoloop synth ls_json=`):
#   base dataset -> yolov8n baseline -> yoloop init -> export 1 (old distribution) -> cycle 1
#   (baseline) -> export 2 (shifted images) -> cycle 2 (mAP50 drops -> fine-tune -> compare) ->
#   export 3 (images shifted further) -> cycle 3 (evaluate again; fine-tune on a pool that now holds
#   shifted images when needed) ->
#   models, history, report.
# Knobs (environment): DEMO_DIR=runs/demo  DEMO_EPOCHS=10 (baseline)  DEMO_FT_EPOCHS=4  DEMO_IMGSZ=128
#                      YOLOOP_BUILD_DIR=build
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
B=${YOLOOP_BUILD_DIR:-build}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log; exit 1; }
cmake --build "$B" -j "$(nproc)" --target yoloop >>build.log 2>&1 || { tail -50 build.log; exit 1; }

Y="$B/yoloop"
D=${DEMO_DIR:-runs/demo}
EPOCHS=${DEMO_EPOCHS:-10}
FT_EPOCHS=${DEMO_FT_EPOCHS:-4}
IMGSZ=${DEMO_IMGSZ:-128}
NAMES=dentado,concave,perforation
rm -rf "$D"
mkdir -p "$D/images" "$D/exports"
t0=$(date +%s)
story() { printf '\n\033[1m== [%3ss] %s\033[0m\n' "$(($(date +%s) - t0))" "$*"; }
# Progress lines of training are rewritten in place on a terminal; in a log keep one in a few.
quiet() { grep -v -E '^ +[0-9]+/[0-9]+ ' || true; }

# An "export from Label Studio": synthetic verified images written as a JSON export, with the
# images where an export's images would be (one folder; names made unique per export).
export_batch() {  # k n seed shift
  local k=$1 n=$2 seed=$3 shift=$4 src="$D/src$1"
  "$Y" synth out="$src" n="$n" imgsz=160 seed="$seed" shift="$shift" \
       ls_json="$src/export.json" task_id_base=$((k * 1000)) split=all >/dev/null
  for f in "$src"/images/*/*.png; do cp "$f" "$D/images/e${k}_$(basename "$f")"; done
  sed -E "s#([\"/])synth_#\\1e${k}_synth_#g" "$src/export.json" >"$D/exports/export_$k.json"
  echo "export $k: $n verified tasks (distribution shift $shift) -> $D/exports/export_$k.json"
}

cycle() {  # runs `yoloop cycle`; exit codes 0, 10, 11 are outcomes, not failures
  local rc=0
  "$Y" cycle workspace="$D/ws" | quiet || rc=${PIPESTATUS[0]}
  case $rc in
    0) echo "-> exit 0: nothing to do / baseline / no action" ;;
    10) echo "-> exit 10: a fine-tuned candidate won and is deployed" ;;
    11) echo "-> exit 11: a candidate was fine-tuned but did not win; the deployed model stays" ;;
    *) echo "cycle failed (exit $rc)"; exit "$rc" ;;
  esac
}

story "1. A base dataset: 200 synthetic images of brushed metal with three defect kinds (no shift)"
"$Y" synth out="$D/base" n=200 imgsz=160 seed=0 shift=0

story "2. Train a yolov8n baseline from scratch ($EPOCHS epochs at ${IMGSZ}px: quick, not good; a real run trains longer)"
# Small batches without accumulation and no warm-up: as many optimizer steps as a short run allows.
"$Y" train model=yolov8n.yaml data="$D/base/data.yaml" epochs="$EPOCHS" imgsz="$IMGSZ" batch=8 nbs=8 \
     optimizer=AdamW lr0=0.002 warmup_epochs=0 close_mosaic=2 project="$D" name=baseline | quiet | tail -8

story "3. yoloop init: a workspace with the baseline deployed as v0001 and the base data as replay"
"$Y" init workspace="$D/ws" model="$D/baseline/weights/last.safetensors" names=$NAMES \
     replay="$D/base/data.yaml" golden="$D/base/data.yaml" source=json export="$D/exports" images="$D/images" \
     imgsz="$IMGSZ" lr0=0.001 epochs="$FT_EPOCHS" batch=8
# The recipe lives in yoloop.yaml; the demo's fine-tunes are short: AdamW, no warm-up.
sed -i -E -e 's/^  warmup_epochs: .*/  warmup_epochs: 0/' -e 's/^  optimizer: .*/  optimizer: AdamW/' "$D/ws/yoloop.yaml"
echo "settings: $D/ws/yoloop.yaml"

story "4. Export 1 from Label Studio: reviewers verified 40 images like the training data"
export_batch 1 40 1 0.0
story "5. Cycle 1: the first cycle records the baseline on export 1"
cycle

story "6. Export 2: the production line changed (lighting, texture, defect size): 40 shifted images"
export_batch 2 40 2 0.7
story "7. Cycle 2: evaluate on the 40 new shifted images -> mAP50 drops -> fine-tune on the pool (export 1, no shifted image yet) + replay -> compare on the same 40 -> deploy only if it wins"
cycle

story "8. Export 3: the line drifted further: 40 more shifted images (shift 0.9)"
export_batch 3 40 3 0.9
story "9. Cycle 3: evaluate the deployed model on export 3; if it falls short, fine-tune on a pool that now holds export 2's shifted images"
cycle

story "10. The registry, the history and the report"
"$Y" models workspace="$D/ws" || true
"$Y" history workspace="$D/ws" || true
echo "report: $D/ws/report.html"
story "done in $(($(date +%s) - t0)) s"
