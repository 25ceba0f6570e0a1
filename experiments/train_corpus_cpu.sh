#!/usr/bin/env bash
# Train the (tiny) diffusion decoder on the training corpus (issue 14) on CPU, resumably.
#
# Config: configs/experiment/train_corpus_cpu.yaml. Data: configs/data/train_clips.yaml, read in
# place from ../shared/data/train_clips (TRAIN_CLIPS=/path for another folder), split by file
# (the validation files are written to RUN_DIR/config.yaml as data.resolved_split). The first run
# encodes 4 augmented 48-frame windows per training clip with the REAL codec at rate points r1-r3
# and caches them (~15 MB each, ~/.cache/actdiff/windows; resumable); the conditions are built on
# the fly by the decoder's build_conditions.
# The model starts from INIT (default: the tiny weights shipped before the corpus) and is
# fine-tuned for MAX_STEPS steps; re-running continues from RUN_DIR/checkpoints/last.ckpt.
# The EMA weights go to EXPORT (default RUN_DIR/export, NOT the package: whether they replace
# actdiff/assets/weights/tiny is decided by benchmarks/bench_decoder_weights.py). The resolved
# config, CSV metrics and console log are copied to LOG_DIR after every run.
#
# Runs under `nice -n 10` with OMP_NUM_THREADS=2 (the machine is shared).
# Environment: PYTHON, TRAIN_CLIPS, RUN_DIR, EXPORT, INIT, MAX_STEPS, LOG_DIR. Extra key=value
# arguments go to `actdiff fit`, e.g. a smoke run:
#   RUN_DIR=/tmp/c MAX_STEPS=2 experiments/train_corpus_cpu.sh data.windows_per_video=1 data.cache_dir=/tmp/c/cache
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
RUN_DIR=${RUN_DIR:-runs/train_corpus_cpu}
EXPORT=${EXPORT:-$RUN_DIR/export}
INIT=${INIT-actdiff/assets/weights/tiny}
MAX_STEPS=${MAX_STEPS:-400}
LOG_DIR=${LOG_DIR:-experiments/logs/train_corpus_cpu}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
if [ -n "${TRAIN_CLIPS:-}" ]; then export ACTDIFF_TRAIN_CLIPS=$TRAIN_CLIPS; fi

resume=()
if [ -f "$RUN_DIR/checkpoints/last.ckpt" ]; then
  echo "resuming from $RUN_DIR/checkpoints/last.ckpt" >&2
  resume=(--resume)
fi
init=()
if [ -n "$INIT" ]; then init=("init_weights=$INIT"); fi

mkdir -p "$RUN_DIR" "$LOG_DIR"
start=$(date +%s)
status=0
nice -n 10 "$PY" -m actdiff.cli fit --config configs/experiment/train_corpus_cpu.yaml "${resume[@]}" \
  "run_dir=$RUN_DIR" "trainer.max_steps=$MAX_STEPS" "export=$EXPORT" trainer.progress_bar=false \
  "${init[@]}" "$@" 2>&1 | tee -a "$RUN_DIR/train.log" || status=$?
echo "wall time: $(( $(date +%s) - start )) s (OMP_NUM_THREADS=$OMP_NUM_THREADS, exit $status)" | tee -a "$RUN_DIR/train.log"

# a resumed run appends to logs/metrics.csv (KeepingCSVLogger): the whole history is one file
cp "$RUN_DIR/config.yaml" "$RUN_DIR/train.log" "$LOG_DIR/"
if [ -f "$RUN_DIR/logs/metrics.csv" ]; then cp "$RUN_DIR/logs/metrics.csv" "$LOG_DIR/"; fi
exit "$status"
