#!/usr/bin/env bash
# Choose the tiny-video generator's sampling strength on two of the training corpus's VALIDATION
# files (held out of training by the recipe's split; never the clips results are reported on):
# benchmarks/bench_video_decoder.py at strength 1.0 (the full schedule) and 0.5 (half the schedule,
# started from the noised prediction), cpu protocol, first 48 frames, rate points r1 and r3.
# Writes benchmarks/results/video_decoder_val_strength{1,05}_cpu.json.
# Environment: PYTHON, VIDEO (default runs/train_video_cpu/export), TRAIN_CLIPS, CACHE, OVERWRITE (set:
# replace existing outputs; otherwise an existing one stops the script before any work).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
VIDEO=${VIDEO:-runs/train_video_cpu/export}
TRAIN_CLIPS=${TRAIN_CLIPS:-../shared/data/train_clips}
CACHE=${CACHE:-runs/select_video_sampling/cache}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
clips=("$TRAIN_CLIPS/udacity_highway.mp4" "$TRAIN_CLIPS/mmaction_makeup.mp4")
for c in "${clips[@]}"; do [ -f "$c" ] || { echo "error: $c not found" >&2; exit 2; }; done
for s in 1 05; do
  nice -n 10 "$PY" benchmarks/bench_video_decoder.py "${clips[@]}" --video "$VIDEO" \
    --video-set "strength=${s/05/0.5}" --rates r1 r3 --frames 48 --cache "$CACHE" \
    -o "benchmarks/results/video_decoder_val_strength${s}_cpu.json" ${OVERWRITE:+--overwrite}
done
