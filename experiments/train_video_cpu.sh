#!/usr/bin/env bash
# Train tiny-video (the shipped tiny 2D decoder inflated with temporal layers) on CPU, resumably.
#
# Config: configs/experiment/train_video_cpu.yaml (model configs/model/tiny_video.yaml: starts from
# actdiff/assets/weights/tiny, trains the temporal layers + ControlNet). Data: the training corpus
# (configs/data/train_clips.yaml, ../shared/data/train_clips, split by file); the first run encodes
# 2 augmented 32-frame windows per training clip with the REAL codec and caches them
# (~/.cache/actdiff/windows, resumable); window conditions are built on the fly by
# build_window_conditions, the decoder's function.
# Re-running continues from RUN_DIR/checkpoints/last.ckpt. The EMA weights go to EXPORT (default
# RUN_DIR/export, NOT the package: benchmarks/bench_video_decoder.py decides whether they ship).
# The resolved config, the CSV metrics of every part and the console log are copied to LOG_DIR.
#
# Runs under `nice -n 10` with OMP_NUM_THREADS=2 (the machine is shared).
# Environment: PYTHON, TRAIN_CLIPS, RUN_DIR, EXPORT, MAX_STEPS, LOG_DIR. Extra key=value arguments go
# to `actdiff fit`, e.g. a smoke run:
#   RUN_DIR=/tmp/v MAX_STEPS=2 experiments/train_video_cpu.sh data.windows_per_video=1 data.cache_dir=/tmp/v/cache
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
RUN_DIR=${RUN_DIR:-/work/runs/video/train_video_cpu}
EXPORT=${EXPORT:-$RUN_DIR/export}
MAX_STEPS=${MAX_STEPS:-600}
LOG_DIR=${LOG_DIR:-experiments/logs/train_video_cpu}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
if [ -n "${TRAIN_CLIPS:-}" ]; then export ACTDIFF_TRAIN_CLIPS=$TRAIN_CLIPS; fi

resume=()
if [ -f "$RUN_DIR/checkpoints/last.ckpt" ]; then
  echo "resuming from $RUN_DIR/checkpoints/last.ckpt" >&2
  resume=(--resume)
fi

mkdir -p "$RUN_DIR" "$LOG_DIR"
start=$(date +%s)
status=0
nice -n 10 "$PY" -m actdiff.cli fit --config configs/experiment/train_video_cpu.yaml "${resume[@]}" \
  "run_dir=$RUN_DIR" "trainer.max_steps=$MAX_STEPS" "export=$EXPORT" trainer.progress_bar=false \
  "$@" 2>&1 | tee -a "$RUN_DIR/train.log" || status=$?
echo "wall time: $(( $(date +%s) - start )) s (OMP_NUM_THREADS=$OMP_NUM_THREADS, exit $status)" | tee -a "$RUN_DIR/train.log"

# a resumed run appends to logs/metrics.csv (KeepingCSVLogger): the whole history is one file
cp "$RUN_DIR/config.yaml" "$RUN_DIR/train.log" "$LOG_DIR/"
if [ -f "$RUN_DIR/logs/metrics.csv" ]; then cp "$RUN_DIR/logs/metrics.csv" "$LOG_DIR/"; fi
exit $status
