#!/usr/bin/env bash
# Rate–perception curves of the method AS PUBLISHED — the paper decoder (CogVideoX-5B image-to-video +
# Diffusion-as-Shader tracking branch, docs/paper_decoder.md) — at the ActDiff-VC paper's protocol
# (480x720, first 96 frames) on UVG and MCL-JCV, against x264/x265/SVT-AV1, for a GPU machine.
#
#   experiments/prepare_uvg.sh /data/uvg && experiments/prepare_mcl_jcv.sh /data/mcl_jcv
#   python experiments/setup_paper_weights.py weights/das            # once: config.json + prompt embeddings
#   PAPER_WEIGHTS=weights/das ACTDIFF_UVG_ROOT=/data/uvg ACTDIFF_MCL_JCV_ROOT=/data/mcl_jcv \
#     experiments/rate_curves_paper.sh
#
# Each dataset runs `actdiff evaluate --decoder diffusion --weights $PAPER_WEIGHTS --protocol paper
# --rates-file configs/rates/paper.yaml` (segments <= 49 frames, 300 trajectories; the reference's
# 20 DPM steps, dynamic CFG 6, bf16) and the warp decoder and baselines on the same frames. Writes
# experiments/results_paper/<dataset>/… (same files as rate_curves_cpu.sh). Several GPUs: shard
# sequences with `actdiff evaluate --shard i/n` (one process per GPU, CUDA_VISIBLE_DEVICES=i) and
# merge with `--merge` (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PAPER_WEIGHTS:?set PAPER_WEIGHTS to the paper decoder weights folder (docs/paper_decoder.md)}"
for dataset in ${DATASETS:-uvg mcl_jcv}; do
  DATA=$dataset PROTOCOL=paper OUT=${OUT_ROOT:-experiments/results_paper}/$dataset \
    WEIGHTS=$PAPER_WEIGHTS RATES_FILE=${RATES_FILE:-configs/rates/paper.yaml} \
    METRICS=${METRICS:-psnr ms_ssim lpips niqe fid kid} \
    bash experiments/rate_curves_cpu.sh
done
