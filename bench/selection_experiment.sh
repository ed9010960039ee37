#!/usr/bin/env bash
# Active-learning check for `yoloop rank`: does picking the images the model is least sure about
# beat picking at random? On synthetic data (`yoloop synth`), per seed:
#   round 0   a random initial labeled set of INIT images from the pool; train from scratch
#   round r   rank the unlabeled pool with the round r-1 model (STRATEGY, or random), "label" the
#             BUDGET best (their ground truth joins the training set), fine-tune the previous
#             model on all labeled images; validate every round on the fixed val split
# Both arms share the seed's synthetic data, initial set and round-0 model, so the curves differ
# only by the selection. Output: $OUT/results.csv (seed, strategy, round, labeled, map50,
# map50_95) and a table of the mean mAP50 per arm and labeled-set size.
#
# The defaults are the smallest version that runs in about 10 minutes on 2 CPU cores; scale N,
# IMGSZ, EPOCHS, ROUNDS and SEEDS up on a GPU (DEVICE=cuda). Every setting is an environment
# variable:
#   YOLOOP=build/yoloop OUT=runs/selection SEEDS="0 1 2" N=160 IMGSZ=96 INIT=32 BUDGET=16 ROUNDS=2
#   EPOCHS0=40 EPOCHS=10 BATCH=16 MODEL=yolov8n.yaml STRATEGY=combined RANK_CONF=0.1 DEVICE=cpu
set -euo pipefail

YOLOOP=${YOLOOP:-build/yoloop}
OUT=${OUT:-runs/selection}
SEEDS=${SEEDS:-"0 1 2"}
N=${N:-160}
IMGSZ=${IMGSZ:-96}
INIT=${INIT:-32}
BUDGET=${BUDGET:-16}
ROUNDS=${ROUNDS:-2}
EPOCHS0=${EPOCHS0:-40}
EPOCHS=${EPOCHS:-10}
BATCH=${BATCH:-16}
MODEL=${MODEL:-yolov8n.yaml}
STRATEGY=${STRATEGY:-combined}
RANK_CONF=${RANK_CONF:-0.1}
DEVICE=${DEVICE:-cpu}

[ -x "$YOLOOP" ] || { echo "selection_experiment: $YOLOOP not found (build first or set YOLOOP=)" >&2; exit 2; }
YOLOOP=$(cd "$(dirname "$YOLOOP")" && pwd)/$(basename "$YOLOOP")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.csv
echo "seed,strategy,round,labeled,map50,map50_95" > "$RESULTS"
log() { echo "[$(date +%H:%M:%S)] $*"; }

# data.yaml for the labeled images in list $2, validating on the seed's val split ($3).
make_dataset() {
    local dir=$1 list=$2 data=$3
    rm -rf "$dir"
    mkdir -p "$dir/images/train" "$dir/labels/train"
    while read -r img; do
        local stem; stem=$(basename "${img%.*}")
        ln -s "$img" "$dir/images/train/"
        ln -s "$data/labels/train/$stem.txt" "$dir/labels/train/"
    done < "$list"
    ln -s "$data/images/val" "$dir/images/val"
    ln -s "$data/labels/val" "$dir/labels/val"
    { echo "path: $dir"; echo "train: images/train"; echo "val: images/val"; sed -n '/^nc:/,$p' "$data/data.yaml"; } \
        > "$dir/data.yaml"
}

# Trains ($1 = start model, $2 = epochs) on dataset $3 into $4; prints the weights path.
train() {
    "$YOLOOP" train model="$1" data="$3/data.yaml" epochs="$2" imgsz="$IMGSZ" batch="$BATCH" workers=1 \
        optimizer=SGD lr0=0.01 warmup_epochs=1 close_mosaic=0 val=false seed="$SEED" device="$DEVICE" \
        project="$(dirname "$4")" name="$(basename "$4")" > "$4.log" 2>&1 ||
        { echo "train failed, see $4.log" >&2; exit 1; }
    echo "$4/weights/last.safetensors"
}

# Appends one results row for model $1 evaluated on dataset $2.
evaluate() {
    local model=$1 dataset=$2 strategy=$3 round=$4 labeled=$5
    local row
    row=$("$YOLOOP" val model="$model" data="$dataset/data.yaml" imgsz="$IMGSZ" workers=1 device="$DEVICE" 2>&1 |
          awk '$1 == "all" { print $6 "," $7 }')
    [ -n "$row" ] || { echo "val failed for $model" >&2; exit 1; }
    echo "$SEED,$strategy,$round,$labeled,$row" >> "$RESULTS"
    log "seed $SEED $strategy round $round: $labeled labeled, mAP50,mAP50-95 = $row"
}

for SEED in $SEEDS; do
    S=$OUT/seed$SEED
    rm -rf "$S"
    mkdir -p "$S"
    "$YOLOOP" synth out="$S/data" n="$N" imgsz="$IMGSZ" seed="$SEED" val_fraction=0.25 > "$S/synth.log"
    find "$S/data/images/train" -name '*.png' | sort > "$S/pool.txt"
    shuf --random-source=<(yes "$SEED") "$S/pool.txt" | head -n "$INIT" | sort > "$S/init.txt"
    make_dataset "$S/r0" "$S/init.txt" "$S/data"
    log "seed $SEED: pool $(wc -l < "$S/pool.txt"), initial $INIT; training round 0"
    model0=$(train "$MODEL" "$EPOCHS0" "$S/r0" "$S/r0/run")
    for arm in "$STRATEGY" random; do
        evaluate "$model0" "$S/r0" "$arm" 0 "$INIT"
        A=$S/$arm
        mkdir -p "$A"
        cp "$S/init.txt" "$A/labeled.txt"
        model=$model0
        for round in $(seq 1 "$ROUNDS"); do
            grep -vxF -f "$A/labeled.txt" "$S/pool.txt" > "$A/unlabeled.txt" || true
            [ -s "$A/unlabeled.txt" ] || break
            "$YOLOOP" rank model="$model" source="$A/unlabeled.txt" strategy="$arm" seed="$SEED" budget="$BUDGET" \
                imgsz="$IMGSZ" conf="$RANK_CONF" device="$DEVICE" out="$A/picked$round.txt" > "$A/rank$round.log" 2>&1 ||
                { echo "rank failed, see $A/rank$round.log" >&2; exit 1; }
            sort -u "$A/labeled.txt" "$A/picked$round.txt" -o "$A/labeled.txt"
            make_dataset "$A/r$round" "$A/labeled.txt" "$S/data"
            model=$(train "$model" "$EPOCHS" "$A/r$round" "$A/r$round/run")
            evaluate "$model" "$A/r$round" "$arm" "$round" "$(wc -l < "$A/labeled.txt")"
        done
    done
done

echo
echo "mean mAP50 over seeds ($SEEDS) by labeled images:"
awk -F, 'NR > 1 { k = $4 "," $2; s[k] += $5; n[k]++ }
     END { for (k in s) { split(k, p, ","); printf "%s %s %.4f %d\n", p[1], p[2], s[k] / n[k], n[k] } }' "$RESULTS" |
    sort -k1,1n -k2,2 | awk '{ printf "  %4s labeled  %-16s mAP50 %.4f  (%d seeds)\n", $1, $2, $3, $4 }'
echo "rows: $RESULTS"
