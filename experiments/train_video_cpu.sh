#!/usr/bin/env bash
# Train tiny-video (the shipped tiny 2D decoder inflated with temporal layers) on CPU, resumably.
#
# Config: configs/experiment/train_video_cpu.yaml (model configs/model/tiny_video.yaml: starts from
# actdiff/assets/weights/tiny, trains the temporal layers + ControlNet). Data: the training corpus
# (configs/data/train_clips.yaml, ../shared/data/train_clips, split by file); the first run encodes
# 4 augmented 32-frame windows per training clip with the REAL codec and caches them
# (~/.cache/actdiff/windows, resumable); window conditions are built on the fly by
# build_window_conditions, the decoder's function.
# Re-running continues from RUN_DIR/checkpoints/last.ckpt. The EMA weights go to EXPORT (default
# RUN_DIR/export, NOT the package: benchmarks/bench_video_decoder.py decides whether they ship).
# The resolved config, the CSV metrics and the console log are copied to LOG_DIR (experiments/fit_recipe.sh).
#
# Runs under `nice -n 10` with OMP_NUM_THREADS=2 (the machine is shared).
# Environment: PYTHON, TRAIN_CLIPS, RUN_DIR, EXPORT, MAX_STEPS, LOG_DIR. Extra key=value arguments go
# to `actdiff fit`, e.g. a smoke run:
#   RUN_DIR=/tmp/v MAX_STEPS=2 experiments/train_video_cpu.sh data.windows_per_video=1 data.cache_dir=/tmp/v/cache
set -euo pipefail
cd "$(dirname "$0")/.."

export CONFIG=configs/experiment/train_video_cpu.yaml
export RUN_DIR=${RUN_DIR:-runs/train_video_cpu}
export MAX_STEPS=${MAX_STEPS:-1500}
export LOG_DIR=${LOG_DIR:-experiments/logs/train_video_cpu}
exec experiments/fit_recipe.sh "$@"
