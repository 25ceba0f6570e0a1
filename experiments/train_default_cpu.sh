#!/usr/bin/env bash
# Train the default (tiny) diffusion decoder on CPU and export its EMA weights to
# actdiff/assets/weights/tiny/ (what `actdiff decode` loads for decoder.name=diffusion).
#
# About one hour on 2 CPU cores (MAX_STEPS=3000 at ~1 s/step, batch 4, 128x192 crops).
# Data: the bundled sample clip + two shared clips (CLIPS, comma-separated); the first epoch encodes random
# windows with the REAL codec and caches the conditions (~/.cache/actdiff/conditions).
# Re-running continues from RUN_DIR/checkpoints/last.ckpt.
#
# Environment overrides: PYTHON, SAMPLE, CLIPS (folder, dataset YAML or "" for none),
# RUN_DIR, EXPORT, MAX_STEPS. Extra key=value arguments go to `actdiff fit`, e.g.
#   experiments/train_default_cpu.sh trainer.max_steps=20 run_dir=/tmp/smoke export=/tmp/smoke/w
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
SAMPLE=${SAMPLE:-actdiff/assets/sample/bigbuckbunny_256x384.mp4}
# carphone_pristine.mp4 is held out of training so that the benchmarks have an unseen real clip.
CLIPS=${CLIPS-../shared/data/clips/bikes.mp4,../shared/data/clips/bigbuckbunny.mp4}
RUN_DIR=${RUN_DIR:-runs/train_tiny_cpu}
EXPORT=${EXPORT:-actdiff/assets/weights/tiny}
MAX_STEPS=${MAX_STEPS:-3000}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

sources="[$SAMPLE"
IFS=',' read -r -a clip_list <<< "$CLIPS"
for clip in "${clip_list[@]}"; do
  if [ -e "$clip" ]; then
    sources+=",$clip"
  else
    echo "warning: $clip not found; training without it" >&2
  fi
done
sources+="]"

resume=()
if [ -f "$RUN_DIR/checkpoints/last.ckpt" ]; then
  echo "resuming from $RUN_DIR/checkpoints/last.ckpt" >&2
  resume=(--resume)
fi

exec "$PY" -m actdiff.cli fit --config configs/experiment/train_tiny_cpu.yaml "${resume[@]}" \
  "data.sources=$sources" "run_dir=$RUN_DIR" "trainer.max_steps=$MAX_STEPS" "export=$EXPORT" "$@"
