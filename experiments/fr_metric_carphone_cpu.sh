#!/usr/bin/env bash
# A full-reference perceptual check on the held-out clip, with weight-free metrics only.
#
# NIQE (no-reference) scores the diffusion decoder better than the source itself on unseen clips,
# so matched-NIQE comparisons with x265 are degenerate there (README, "read with care"). This
# script evaluates the shipped diffusion and warp decoders and x265 (CRF 26-51, medium, no
# B-frames) on carphone (held out of training) at the cpu protocol with HaarPSI, MS-SSIM, VMAF
# and VMAF NEG (full-reference, no weights to download: libvmaf's models are built into the
# ffmpeg of imageio-ffmpeg) and writes BD-rates on each. NEG ("no enhancement gain") does not
# reward sharpening, which matters for a generative decoder. LPIPS/DISTS would be the usual
# learned choice; their weights cannot be downloaded on the machines this ran on.
#
#   experiments/fr_metric_carphone_cpu.sh      # ~10 min on 2 CPU cores
set -euo pipefail
cd "$(dirname "$0")/.."
ACT=${ACTDIFF:-.venv/bin/actdiff}
OUT=${OUT:-experiments/results_fr_carphone}
METRICS="haarpsi ms_ssim psnr niqe vmaf vmaf_neg"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"
for dec in warp diffusion; do
  $ACT evaluate --data shared_clips --protocol cpu --decoder $dec --sequences carphone --metrics $METRICS \
    -o "$OUT/actdiff_$dec.json" --overwrite
done
$ACT bench x265 --data shared_clips --protocol cpu --sequences carphone --crf 51 48 45 42 38 34 30 26 \
  --metrics $METRICS -o "$OUT/x265.json" --overwrite
for dec in warp diffusion; do
  $ACT bdrate "$OUT/actdiff_$dec.json" "$OUT/x265.json" --metric haarpsi ms_ssim vmaf vmaf_neg \
    --markdown "$OUT/bdrate_${dec}_vs_x265.md" --overwrite || true
done
echo "results in $OUT"
