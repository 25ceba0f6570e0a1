#!/usr/bin/env bash
# A full-reference perceptual check on a clip held out of training, with weight-free metrics only.
#
# NIQE (no-reference) can score the diffusion decoder better than the source itself, where
# matched-NIQE comparisons with x265 say little (README, "The x265 goal"). This script evaluates
# the diffusion decoder (WEIGHTS, default: the shipped ones), the warp decoder and x265 (CRF 26-51,
# medium, no B-frames) on one shared clip at the cpu protocol with HaarPSI, MS-SSIM, VMAF and
# VMAF NEG (full-reference, no weights to download: libvmaf's models are built into the ffmpeg of
# imageio-ffmpeg) and writes BD-rates on each. NEG ("no enhancement gain") does not reward
# sharpening, which matters for a generative decoder. LPIPS/DISTS would be the usual learned
# choice; their weights cannot be downloaded on the machines this ran on.
#
#   experiments/fr_metric_cpu.sh carphone      # shipped weights (carphone is not in their data)
#   WEIGHTS=runs/train_tiny_cpu_holdout_bigbuckbunny/export experiments/fr_metric_cpu.sh bigbuckbunny
#                                              # after experiments/holdout_cpu.sh bigbuckbunny
# ~10 min on 2 CPU cores per clip. Writes OUT (default experiments/results_fr_CLIP).
set -euo pipefail
cd "$(dirname "$0")/.."
SEQ=${1:?usage: $0 carphone|bikes|bigbuckbunny}
ACT=${ACTDIFF:-.venv/bin/actdiff}
OUT=${OUT:-experiments/results_fr_$SEQ}
WEIGHTS=${WEIGHTS:-}
METRICS="haarpsi ms_ssim psnr niqe vmaf vmaf_neg"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"
weights=()
[ -n "$WEIGHTS" ] && weights=(--weights "$WEIGHTS")
$ACT evaluate --data shared_clips --protocol cpu --decoder warp --sequences "$SEQ" --metrics $METRICS \
  -o "$OUT/actdiff_warp.json" --overwrite
$ACT evaluate --data shared_clips --protocol cpu --decoder diffusion "${weights[@]}" --sequences "$SEQ" \
  --metrics $METRICS -o "$OUT/actdiff_diffusion.json" --overwrite
$ACT bench x265 --data shared_clips --protocol cpu --sequences "$SEQ" --crf 51 48 45 42 38 34 30 26 \
  --metrics $METRICS -o "$OUT/x265.json" --overwrite
for dec in warp diffusion; do
  $ACT bdrate "$OUT/actdiff_$dec.json" "$OUT/x265.json" --metric haarpsi ms_ssim vmaf vmaf_neg \
    --markdown "$OUT/bdrate_${dec}_vs_x265.md" --overwrite || true
done
echo "results in $OUT"
