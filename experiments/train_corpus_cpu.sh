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

export CONFIG=configs/experiment/train_corpus_cpu.yaml
export RUN_DIR=${RUN_DIR:-runs/train_corpus_cpu}
export INIT=${INIT-actdiff/assets/weights/tiny}
export MAX_STEPS=${MAX_STEPS:-2000}
export LOG_DIR=${LOG_DIR:-experiments/logs/train_corpus_cpu}
exec experiments/fit_recipe.sh "$@"
