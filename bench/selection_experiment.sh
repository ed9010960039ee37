#!/usr/bin/env bash
# Issue #7's selection experiment: after a distribution shift, does labeling the images the model
# is least sure about (`yoloop rank`) reach a given mAP50 with fewer labeled images than labeling
# images picked at random?
#
#   1. old data: `yoloop synth` shift 0 (OLD_N images); one yolov8n BASE trained on it from
#      scratch with the demo's recipe (tools/demo.sh). Shared by every seed and arm; a model
#      that already works, so its uncertainty means something.
#   2. per seed: shifted data, `yoloop synth shift=SHIFT seed=1000+seed` (NEW_N images): its
#      train split is the unlabeled pool, its val split the held-out shifted val set. POOL_OLD > 0
#      adds that many unshifted images (`synth shift=0 seed=2000+seed`) to the pool: a field pool
#      where most images look like the training data and a few show the new condition.
#   3. per seed and arm (STRATEGY, random), ROUNDS rounds: rank the unlabeled pool with the
#      previous round's model (round 1: the base) -- `yoloop rank strategy=STRATEGY` or
#      `strategy=random seed=<seed>` (a seeded hash of each path: a fixed random order per seed)
#      -- and "label" the BUDGET picks (their ground truth joins the labeled set); fine-tune on the
#      labeled set + replay of the old data (replay_ratio REPLAY_RATIO), starting from the base
#      (FROM=base: a round's model depends only on which images are labeled) or from the previous
#      round's model (FROM=previous); `yoloop val` on the seed's shifted val set.
#      Round 0 is the base itself on the shifted val set (0 labeled), the same for both arms.
#   4. mean, sample standard deviation, min and max of mAP50 over the seeds per arm and labeled
#      count, and for each of TARGETS the labeled images each arm needs to reach it (linear
#      interpolation on the mean curve; per seed on its own curve; "-" when never reached).
#
# Settings (environment; the defaults take about 20 minutes on 2 busy CPU cores):
#   YOLOOP=build/yoloop OUT=runs/selection SEEDS="0 1 2" DEVICE=cpu WORKERS=1 IMGSZ=128
#   OLD_N=200 BASE_EPOCHS=10 SHIFT=0.7 NEW_N=400 VAL_FRACTION=0.25 (pool 300, val 100) POOL_OLD=0
#   BUDGET=16 ROUNDS=4 FT_EPOCHS=10 BATCH=8 LR0=0.001 REPLAY_RATIO=0.3 FROM=base
#   STRATEGY=combined RANK_CONF=0.25 TARGETS="0.80 0.85 0.90"
# The fine-tune is the demo's cycle recipe: AdamW, lr0 LR0, no warm-up, nbs = batch (one step per
# batch), close_mosaic 0, val=false.
#
# Every step whose output exists under OUT is skipped (rerun after an interruption); OUT keeps
# the settings it was made with and a run with other settings is refused (use another OUT).
# Output: OUT/results.csv (seed,arm,round,labeled,boxes,map50,map50_95,shifted: labeled images
# from the shifted set) and OUT/summary.txt.
set -euo pipefail

YOLOOP=${YOLOOP:-build/yoloop}
OUT=${OUT:-runs/selection}
SEEDS=${SEEDS:-"0 1 2"}
DEVICE=${DEVICE:-cpu}
WORKERS=${WORKERS:-1}
IMGSZ=${IMGSZ:-128}
OLD_N=${OLD_N:-200}
BASE_EPOCHS=${BASE_EPOCHS:-10}
SHIFT=${SHIFT:-0.7}
NEW_N=${NEW_N:-400}
VAL_FRACTION=${VAL_FRACTION:-0.25}
POOL_OLD=${POOL_OLD:-0}
BUDGET=${BUDGET:-16}
ROUNDS=${ROUNDS:-4}
FT_EPOCHS=${FT_EPOCHS:-10}
BATCH=${BATCH:-8}
LR0=${LR0:-0.001}
REPLAY_RATIO=${REPLAY_RATIO:-0.3}
FROM=${FROM:-base}
STRATEGY=${STRATEGY:-combined}
RANK_CONF=${RANK_CONF:-0.25}
TARGETS=${TARGETS:-"0.80 0.85 0.90"}

case "$FROM" in base | previous) ;; *) echo "selection_experiment: FROM=$FROM: expected base or previous" >&2; exit 2 ;; esac
[ "$STRATEGY" != random ] || { echo "selection_experiment: STRATEGY=random is the baseline arm already" >&2; exit 2; }
[ -x "$YOLOOP" ] || { echo "selection_experiment: $YOLOOP not found (build first or set YOLOOP=)" >&2; exit 2; }
YOLOOP=$(cd "$(dirname "$YOLOOP")" && pwd)/$(basename "$YOLOOP")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log() { echo "[$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }

# Seeds and the summary's targets may change between runs on the same OUT; nothing else may.
settings="IMGSZ=$IMGSZ OLD_N=$OLD_N BASE_EPOCHS=$BASE_EPOCHS SHIFT=$SHIFT NEW_N=$NEW_N VAL_FRACTION=$VAL_FRACTION
BUDGET=$BUDGET FT_EPOCHS=$FT_EPOCHS BATCH=$BATCH LR0=$LR0 REPLAY_RATIO=$REPLAY_RATIO FROM=$FROM
STRATEGY=$STRATEGY RANK_CONF=$RANK_CONF"
[ "$POOL_OLD" = 0 ] || settings="$settings POOL_OLD=$POOL_OLD"
if [ -f "$OUT/settings.txt" ]; then
    [ "$(cat "$OUT/settings.txt")" = "$settings" ] ||
        { echo "selection_experiment: $OUT was made with other settings ($OUT/settings.txt); use another OUT" >&2; exit 2; }
else
    echo "$settings" > "$OUT/settings.txt"
fi

# 1. old data and the base model (the demo's baseline recipe)
[ -f "$OUT/old/data.yaml" ] || "$YOLOOP" synth out="$OUT/old" n="$OLD_N" imgsz=160 seed=0 shift=0 > "$OUT/old.log"
BASE=$OUT/base/weights/last.safetensors
if [ ! -f "$BASE" ]; then
    rm -rf "$OUT/base"
    log "base: yolov8n from scratch on the old data, $BASE_EPOCHS epochs"
    "$YOLOOP" train model=yolov8n.yaml data="$OUT/old/data.yaml" epochs="$BASE_EPOCHS" imgsz="$IMGSZ" batch=8 nbs=8 \
        optimizer=AdamW lr0=0.002 warmup_epochs=0 close_mosaic=2 workers="$WORKERS" seed=0 device="$DEVICE" \
        project="$OUT" name=base > "$OUT/base.log" 2>&1 || { tail -20 "$OUT/base.log" >&2; exit 1; }
fi
log "base: $(grep '^final:' "$OUT/base.log" || echo 'trained earlier') (old val)"

# Writes "map50,map50_95" of model $1 on data.yaml $2 into $3 (skipped when $3 exists).
evaluate() {
    [ -s "$3" ] && return 0
    local row
    row=$("$YOLOOP" val model="$1" data="$2" imgsz="$IMGSZ" workers="$WORKERS" device="$DEVICE" 2>"$3.err" |
          awk '$1 == "all" { print $6 "," $7; exit }') || true
    [ -n "$row" ] || { echo "val of $1 failed, see $3.err" >&2; exit 1; }
    echo "$row" > "$3"
}

# The YOLO label file of an image .../images/<split>/<stem>.png: .../labels/<split>/<stem>.txt.
label_of() { sed 's#/images/\([a-z]*\)/\([^/]*\)\.png$#/labels/\1/\2.txt#'; }

# A data.yaml in $1 whose train split is the images listed in $2 (each with its own label file),
# val = $3's val. Links are named <dataset folder>_<stem>: two synth folders share stems.
make_dataset() {
    local dir=$1 list=$2 data=$3
    rm -rf "$dir/images" "$dir/labels"
    mkdir -p "$dir/images/train" "$dir/labels/train"
    while read -r img; do
        local name; name=$(basename "$(dirname "$(dirname "$(dirname "$img")")")")_$(basename "${img%.*}")
        ln -s "$img" "$dir/images/train/$name.png"
        ln -s "$(echo "$img" | label_of)" "$dir/labels/train/$name.txt"
    done < "$list"
    ln -s "$data/images/val" "$dir/images/val"
    ln -s "$data/labels/val" "$dir/labels/val"
    { echo "path: $dir"; echo "train: images/train"; echo "val: images/val"; sed -n '/^nc:/,$p' "$data/data.yaml"; } \
        > "$dir/data.yaml"
}

for SEED in $SEEDS; do
    S=$OUT/seed$SEED
    mkdir -p "$S"
    [ -f "$S/new/data.yaml" ] || { rm -rf "$S/new"; "$YOLOOP" synth out="$S/new" n="$NEW_N" imgsz=160 seed=$((1000 + SEED)) \
        shift="$SHIFT" val_fraction="$VAL_FRACTION" > "$S/synth.log"; }
    find "$S/new/images/train" -name '*.png' | sort > "$S/pool.txt"
    if [ "$POOL_OLD" -gt 0 ]; then
        [ -f "$S/pool_old/data.yaml" ] || { rm -rf "$S/pool_old"; "$YOLOOP" synth out="$S/pool_old" n=$((POOL_OLD * 2)) \
            imgsz=160 seed=$((2000 + SEED)) shift=0 val_fraction=0.4 > "$S/synth_pool_old.log"; }
        find "$S/pool_old/images/train" -name '*.png' | sort | sed -n "1,${POOL_OLD}p" > "$S/pool_old.txt"  # sed reads it all: no SIGPIPE
        [ "$(wc -l < "$S/pool_old.txt")" = "$POOL_OLD" ] || { echo "too few unshifted pool images in $S/pool_old" >&2; exit 1; }
        sort "$S/pool.txt" "$S/pool_old.txt" > "$S/pool.tmp" && mv "$S/pool.tmp" "$S/pool.txt"
    fi
    evaluate "$BASE" "$S/new/data.yaml" "$S/base_val.txt"
    log "seed $SEED: pool $(wc -l < "$S/pool.txt"), val $(find "$S/new/images/val" -name '*.png' | wc -l);" \
        "base on shifted val: mAP50,mAP50-95 = $(cat "$S/base_val.txt")"
    for arm in "$STRATEGY" random; do
        A=$S/$arm
        mkdir -p "$A"
        : > "$A/labeled0.txt"
        model=$BASE
        for round in $(seq 1 "$ROUNDS"); do
            R=$A/r$round
            mkdir -p "$R"
            if [ ! -s "$R/labeled.txt" ]; then
                grep -vxF -f "$A/labeled$((round - 1)).txt" "$S/pool.txt" > "$R/unlabeled.txt" || true
                [ -s "$R/unlabeled.txt" ] || { log "seed $SEED $arm: pool exhausted"; break; }
                "$YOLOOP" rank model="$model" source="$R/unlabeled.txt" strategy="$arm" seed="$SEED" budget="$BUDGET" \
                    imgsz="$IMGSZ" conf="$RANK_CONF" device="$DEVICE" out="$R/picked.txt" > "$R/rank.log" 2>&1 ||
                    { echo "rank failed, see $R/rank.log" >&2; exit 1; }
                sort -u "$A/labeled$((round - 1)).txt" "$R/picked.txt" > "$R/labeled.tmp"
                mv "$R/labeled.tmp" "$R/labeled.txt"
            fi
            cp "$R/labeled.txt" "$A/labeled$round.txt"
            weights=$R/run/weights/last.safetensors
            if [ ! -f "$weights" ]; then
                make_dataset "$R/data" "$R/labeled.txt" "$S/new"
                start=$BASE
                [ "$FROM" = base ] || start=$model
                rm -rf "$R/run"
                "$YOLOOP" train model="$start" data="$R/data/data.yaml" replay="$OUT/old/data.yaml" \
                    replay_ratio="$REPLAY_RATIO" epochs="$FT_EPOCHS" imgsz="$IMGSZ" batch="$BATCH" nbs="$BATCH" \
                    optimizer=AdamW lr0="$LR0" warmup_epochs=0 close_mosaic=0 val=false workers="$WORKERS" \
                    seed="$SEED" device="$DEVICE" project="$R" name=run > "$R/train.log" 2>&1 ||
                    { tail -20 "$R/train.log" >&2; exit 1; }
            fi
            model=$weights
            evaluate "$model" "$S/new/data.yaml" "$R/val.txt"
            log "seed $SEED $arm round $round: $(wc -l < "$R/labeled.txt") labeled" \
                "($(label_of < "$R/picked.txt" | xargs cat | wc -l) boxes picked)," \
                "mAP50,mAP50-95 = $(cat "$R/val.txt")"
        done
    done
done

# Results, from the per-round files (this run's seeds only).
RESULTS=$OUT/results.csv
{
    echo "seed,arm,round,labeled,boxes,map50,map50_95,shifted"
    for SEED in $SEEDS; do
        S=$OUT/seed$SEED
        for arm in "$STRATEGY" random; do
            echo "$SEED,$arm,0,0,0,$(cat "$S/base_val.txt"),0"
            for round in $(seq 1 "$ROUNDS"); do
                R=$S/$arm/r$round
                [ -s "$R/val.txt" ] || continue
                boxes=$(label_of < "$R/labeled.txt" | xargs cat | wc -l)
                shifted=$(grep -c "^$S/new/" "$R/labeled.txt" || true)
                echo "$SEED,$arm,$round,$(wc -l < "$R/labeled.txt"),$boxes,$(cat "$R/val.txt"),$shifted"
            done
        done
    done
} > "$RESULTS"

{
    echo "selection experiment: seeds $SEEDS; $(tr '\n' ' ' < "$OUT/settings.txt")"
    echo
    echo "mAP50 on the shifted val set by labeled images (mean, sample sd, min..max over seeds; boxes = mean labeled boxes;"
    echo "shifted = mean labeled images from the shifted set):"
    awk -F, 'NR > 1 { k = $4 SUBSEP $2; n[k]++; s[k] += $6; q[k] += $6 * $6; b[k] += $5; sh[k] += $8
                      if (!(k in lo) || $6 < lo[k]) lo[k] = $6; if (!(k in hi) || $6 > hi[k]) hi[k] = $6 }
             END { for (k in n) { split(k, p, SUBSEP); m = s[k] / n[k]
                                  v = n[k] > 1 ? (q[k] - n[k] * m * m) / (n[k] - 1) : 0; if (v < 0) v = 0
                                  printf "%s %s %.4f %.4f %.4f %.4f %.1f %d %.1f\n", p[1], p[2], m, sqrt(v), lo[k], hi[k], b[k] / n[k], n[k], sh[k] / n[k] } }' \
        "$RESULTS" | sort -k1,1n -k2,2 |
        awk 'BEGIN { printf "  %7s  %-10s %7s %7s  %-15s %6s %5s %7s\n", "labeled", "arm", "mean", "sd", "min..max", "boxes", "seeds", "shifted" }
             { printf "  %7s  %-10s %7.4f %7.4f  %.4f..%.4f %6.1f %5d %7.1f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
    echo
    echo "labeled images needed to reach a mAP50 target (linear interpolation between rounds; - = not reached):"
    for target in $TARGETS; do
        for arm in "$STRATEGY" random; do
            awk -F, -v t="$target" -v arm="$arm" '
                function cross(lab, val, cnt,   i, x) {  # first crossing of t on a curve sorted by labeled
                    if (val[1] >= t) return lab[1]
                    for (i = 2; i <= cnt; i++) if (val[i] >= t) return lab[i-1] + (t - val[i-1]) / (val[i] - val[i-1]) * (lab[i] - lab[i-1])
                    return -1 }
                NR > 1 && $2 == arm { sum[$4] += $6; cnt[$4]++; v[$1, $4] = $6; labs[$4] = 1
                                      if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 } }
                END { m = 0; for (l in labs) L[++m] = l + 0
                      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (L[j] < L[i]) { x = L[i]; L[i] = L[j]; L[j] = x }
                      for (i = 1; i <= m; i++) M[i] = sum[L[i]] / cnt[L[i]]
                      c = cross(L, M, m); line = sprintf("  target %s  %-10s mean curve: %s   per seed:", t, arm, c < 0 ? "-" : sprintf("%.1f", c))
                      for (k = 1; k <= ns; k++) { s = order[k]; for (i = 1; i <= m; i++) V[i] = v[s, L[i]]; c = cross(L, V, m)
                                         line = line sprintf(" %s=%s", s, c < 0 ? "-" : sprintf("%.1f", c)) }
                      print line }' "$RESULTS"
        done
    done
    echo
    echo "paired by seed: d = mean over rounds 1-$ROUNDS of ($STRATEGY - random) mAP50; t = mean(d) / (sd(d) / sqrt(seeds)):"
    awk -F, -v arm="$STRATEGY" 'NR > 1 && $3 > 0 { k = $1 SUBSEP $3; if ($2 == arm) a[k] = $6; else if ($2 == "random") r[k] = $6
                                                    if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 } }
         END { line = "  per seed:"; n = 0; s = 0; q = 0; pos = 0
               for (i = 1; i <= ns; i++) { sd = order[i]; c = 0; t = 0
                   for (k in a) { split(k, p, SUBSEP); if (p[1] == sd && (k in r)) { t += a[k] - r[k]; c++ } }
                   if (c == 0) continue
                   d = t / c; line = line sprintf(" %s=%+.4f", sd, d); n++; s += d; q += d * d; if (d > 0) pos++ }
               print line
               if (n < 2) { print "  fewer than 2 seeds: no t"; exit }
               m = s / n; v = (q - n * m * m) / (n - 1); if (v < 0) v = 0
               tstat = v > 0 ? sprintf("%.2f", m / sqrt(v / n)) : "inf"
               printf "  mean d %+.4f, sd %.4f, positive in %d of %d seeds, t %s (df %d)\n", m, sqrt(v), pos, n, tstat, n - 1 }' "$RESULTS"
    echo
    echo "rows: $RESULTS"
} | tee "$OUT/summary.txt"
