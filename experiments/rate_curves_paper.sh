#!/usr/bin/env bash
# Rate–perception curves at the ActDiff-VC paper's protocol (720x480, first 96 frames) on UVG and
# MCL-JCV, for a GPU machine: the diffusion decoder runs on CUDA when available.
#
#   experiments/prepare_uvg.sh /data/uvg && experiments/prepare_mcl_jcv.sh /data/mcl_jcv
#   ACTDIFF_UVG_ROOT=/data/uvg ACTDIFF_MCL_JCV_ROOT=/data/mcl_jcv experiments/rate_curves_paper.sh
#
# Writes experiments/results_paper/<dataset>/… (same files as rate_curves_cpu.sh). Several GPUs:
# shard sequences with `actdiff evaluate --shard i/n` and merge with `--merge` (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
for dataset in ${DATASETS:-uvg mcl_jcv}; do
  DATA=$dataset PROTOCOL=paper OUT=${OUT_ROOT:-experiments/results_paper}/$dataset \
    bash experiments/rate_curves_cpu.sh
done
