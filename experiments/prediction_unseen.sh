#!/usr/bin/env bash
# The warp decoder's two predictions on the same bitstreams of the unseen OpenCV clips (cpu protocol,
# rate point r1, vtest and box: long segments with motion): plain cross-fade (`codec.decoder.prediction=blend`) vs the ghost-free
# fusion (`select`, the default), full-reference, coarse-scale (psnr_lowres), temporal (warping
# error, tOF) and no-reference (NIQE) metrics. Writes experiments/results_prediction/.
set -euo pipefail
cd "$(dirname "$0")/.."
ACT=${ACTDIFF:-.venv/bin/actdiff}
OUT=experiments/results_prediction
METRICS="psnr psnr_lowres ms_ssim vmaf_neg warping_error tof niqe"
mkdir -p "$OUT"
for pred in blend select; do
  $ACT evaluate --data opencv_samples --protocol cpu --decoder warp --rates r1 --sequences vtest box \
    -o "$OUT/warp_$pred.json" --overwrite --metrics $METRICS -- codec.decoder.prediction=$pred
done
