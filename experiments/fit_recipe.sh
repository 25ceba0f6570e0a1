#!/usr/bin/env bash
# The resumable CPU training run shared by the recipes (train_corpus_cpu.sh, train_video_cpu.sh):
# `actdiff fit --config CONFIG` into RUN_DIR (continues from RUN_DIR/checkpoints/last.ckpt when it
# exists), EMA weights to EXPORT, optional init_weights=INIT, nice'd, console log appended to
# RUN_DIR/train.log; afterwards the resolved config, console log and CSV metrics (one file: a
# resumed run appends to it) are copied to LOG_DIR. Extra key=value arguments go to `actdiff fit`.
#   CONFIG=... RUN_DIR=... LOG_DIR=... MAX_STEPS=... [EXPORT=...] [INIT=...] experiments/fit_recipe.sh [key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
: "${CONFIG:?}" "${RUN_DIR:?}" "${LOG_DIR:?}" "${MAX_STEPS:?}"
EXPORT=${EXPORT:-$RUN_DIR/export}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
if [ -n "${TRAIN_CLIPS:-}" ]; then export ACTDIFF_TRAIN_CLIPS=$TRAIN_CLIPS; fi

resume=()
if [ -f "$RUN_DIR/checkpoints/last.ckpt" ]; then
  echo "resuming from $RUN_DIR/checkpoints/last.ckpt" >&2
  resume=(--resume)
fi
init=()
if [ -n "${INIT:-}" ]; then init=("init_weights=$INIT"); fi

mkdir -p "$RUN_DIR" "$LOG_DIR"
start=$(date +%s)
status=0
nice -n 10 "$PY" -m actdiff.cli fit --config "$CONFIG" "${resume[@]}" \
  "run_dir=$RUN_DIR" "trainer.max_steps=$MAX_STEPS" "export=$EXPORT" trainer.progress_bar=false \
  "${init[@]}" "$@" 2>&1 | tee -a "$RUN_DIR/train.log" || status=$?
echo "wall time: $(( $(date +%s) - start )) s (OMP_NUM_THREADS=$OMP_NUM_THREADS, exit $status)" | tee -a "$RUN_DIR/train.log"

cp "$RUN_DIR/config.yaml" "$RUN_DIR/train.log" "$LOG_DIR/"
if [ -f "$RUN_DIR/logs/metrics.csv" ]; then cp "$RUN_DIR/logs/metrics.csv" "$LOG_DIR/"; fi
exit "$status"
