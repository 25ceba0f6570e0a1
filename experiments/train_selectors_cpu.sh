#!/usr/bin/env bash
# Train the two learned selectors on CPU with their recipes:
#   keyframe selector (KEYFRAME_SELECTORS "learned")   configs/experiment/train_keyframe_selector.yaml
#   weight map        (WEIGHT_MAPS "learned")          configs/experiment/train_trajectory_selector.yaml
#
# Data: the training corpus (configs/data/train_clips.yaml: ../shared/data/train_clips, or
# TRAIN_CLIPS=/path), first 96 frames of each clip at 256x384, split by file (15 % of the files
# validate: the same files as the decoder recipe experiments/train_corpus_cpu.sh holds out). The
# first minutes of each run compute the real tracker's flows and the labels/targets of every clip.
#
# Each net is exported to the save_pretrained folder RUN_ROOT/<name>/ (config.json +
# diffusion_pytorch_model.safetensors). They are NOT copied into the package unless EXPORT_DIR is
# given (e.g. EXPORT_DIR=actdiff/assets/weights/selectors, after benchmarks/bench_selectors.py showed
# that they win on unseen clips); then only weights smaller than MAX_SHIP_BYTES are copied. The
# resolved config, the CSV metrics and the console log of each run are copied to LOG_DIR/<name>/.
#
# Runs under `nice -n 10` (the machine is shared). Environment overrides: PYTHON, TRAIN_CLIPS,
# RUN_ROOT, EXPORT_DIR, LOG_DIR, MAX_SHIP_BYTES, SELECTORS ("keyframe trajectory" or one of them).
# Extra key=value arguments go to every `actdiff fit` run, e.g. a smoke test:
#   RUN_ROOT=/tmp/sel LOG_DIR=/tmp/sel/logs experiments/train_selectors_cpu.sh trainer.max_steps=5
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
RUN_ROOT=${RUN_ROOT:-runs/selectors}
EXPORT_DIR=${EXPORT_DIR:-}
LOG_DIR=${LOG_DIR:-experiments/logs/train_selectors_cpu}
MAX_SHIP_BYTES=${MAX_SHIP_BYTES:-2000000}
SELECTORS=${SELECTORS:-keyframe trajectory}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

if [ -n "${TRAIN_CLIPS:-}" ]; then export ACTDIFF_TRAIN_CLIPS=$TRAIN_CLIPS; fi
mkdir -p "$RUN_ROOT" "$LOG_DIR"

for sel in $SELECTORS; do
  run_dir="$RUN_ROOT/train_${sel}_selector"
  weights="$RUN_ROOT/$sel"
  rm -rf "$run_dir" "$weights"   # from scratch: the labels depend on the current codec code
  mkdir -p "$run_dir"
  echo "== $sel selector -> $weights (run $run_dir)" >&2
  start=$(date +%s)
  nice -n 10 "$PY" -m actdiff.cli fit --config "configs/experiment/train_${sel}_selector.yaml" \
    "run_dir=$run_dir" "export=$weights" trainer.progress_bar=false "$@" 2>&1 | tee "$run_dir/train.log"
  echo "wall time: $(( $(date +%s) - start )) s (OMP_NUM_THREADS=$OMP_NUM_THREADS)" | tee -a "$run_dir/train.log"

  size=$(stat -c %s "$weights/diffusion_pytorch_model.safetensors")
  if [ -z "$EXPORT_DIR" ]; then
    echo "weights in $weights ($size bytes); not shipped (EXPORT_DIR not set)" | tee -a "$run_dir/train.log"
  elif [ "$size" -lt "$MAX_SHIP_BYTES" ]; then
    mkdir -p "$EXPORT_DIR/$sel"
    cp "$weights/config.json" "$weights/diffusion_pytorch_model.safetensors" "$EXPORT_DIR/$sel/"
    echo "shipped $EXPORT_DIR/$sel/ ($size bytes of weights)" | tee -a "$run_dir/train.log"
  else
    echo "warning: $weights is $size bytes (>= $MAX_SHIP_BYTES): not copied into the package" \
      | tee -a "$run_dir/train.log" >&2
  fi

  mkdir -p "$LOG_DIR/$sel"
  cp "$run_dir/config.yaml" "$run_dir/train.log" "$LOG_DIR/$sel/"
  metrics=$(find "$run_dir" -name metrics.csv | head -n 1)
  if [ -n "$metrics" ]; then cp "$metrics" "$LOG_DIR/$sel/metrics.csv"; fi
done
