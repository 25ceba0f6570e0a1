#!/usr/bin/env bash
# Train the 2D diffusion decoder with the warp decoder's frame as its residual base (issue 13): the
# corpus recipe (experiments/train_corpus_cpu.sh, same data, cache and optimiser) with
# model.residual_base=pred — the conditions carry the warp decoder's own frame (channels
# 20-22, actdiff/conditioning/conditions.py) and the model adds its residual to it instead of to
# the cross-fade of the two warped keyframes. Starts from the shipped tiny weights, whose condition
# input is widened with zero weights for the three new channels (it starts as the shipped model
# with its residual moved onto the prediction, the decoder's `base=prediction`).
# The EMA weights go to EXPORT (default RUN_DIR/export, not the package).
#   experiments/train_pred_cpu.sh                      # 2000 steps, resumable
#   RUN_DIR=/tmp/p MAX_STEPS=2 experiments/train_pred_cpu.sh data.windows_per_video=1 data.cache_dir=/tmp/p/cache
set -euo pipefail
cd "$(dirname "$0")/.."
export RUN_DIR=${RUN_DIR:-runs/train_pred_cpu}
export LOG_DIR=${LOG_DIR:-experiments/logs/train_pred_cpu}
exec experiments/train_corpus_cpu.sh model.residual_base=pred model.sampler.base=null "$@"
