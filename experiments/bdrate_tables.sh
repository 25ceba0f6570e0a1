#!/usr/bin/env bash
# Rebuild every committed BD-rate table under experiments/ from the committed results JSONs
# (`actdiff bdrate`, seconds, no encoding): the same commands as rate_curves_cpu.sh,
# fr_metric_cpu.sh and holdout_cpu.sh run at their end. BD-rate sign: negative = the ActDiff
# file (A) needs fewer bits than the anchor (B) for the same quality (JVET/CompressAI/DCVC).
#
#   experiments/bdrate_tables.sh            # ACTDIFF=… to use another actdiff executable
set -euo pipefail
cd "$(dirname "$0")/.."
ACT=${ACTDIFF:-.venv/bin/actdiff}
bd() { local out=$1; shift; $ACT bdrate "$@" --markdown "$out" --overwrite >/dev/null; echo "wrote $out"; }
FR="haarpsi ms_ssim vmaf vmaf_neg"

R=experiments/results
for dec in warp diffusion; do
  for codec in x265 x264 svt-av1; do
    bd "$R/bdrate_niqe_${dec}_vs_$codec.md" "$R/actdiff_$dec.json" "$R/$codec.json" --metric niqe
  done
done
bd "$R/bdrate_diffusion_vs_warp.md" "$R/actdiff_diffusion.json" "$R/actdiff_warp.json" --metric niqe warping_error psnr

for clip in carphone bigbuckbunny; do
  D=experiments/results_fr_$clip
  for dec in warp diffusion; do
    bd "$D/bdrate_${dec}_vs_x265.md" "$D/actdiff_$dec.json" "$D/x265.json" --metric $FR
  done
done

for clip in bikes bigbuckbunny; do
  D=experiments/results_holdout_$clip
  for codec in x265 x264 svt-av1; do
    bd "$D/bdrate_niqe_holdout_vs_$codec.md" "$D/actdiff_diffusion_holdout.json" "$R/$codec.json" --metric niqe
  done
done

O=experiments/results_opencv_samples
for dec in warp diffusion; do
  for codec in x265 x264 svt-av1; do
    bd "$O/bdrate_niqe_${dec}_vs_$codec.md" "$O/actdiff_$dec.json" "$O/$codec.json" --metric niqe
  done
  bd "$O/bdrate_fr_${dec}_vs_x265.md" "$O/actdiff_$dec.json" "$O/x265.json" --metric $FR
done
bd "$O/bdrate_niqe_model_bikes_carphone_vs_x265.md" "$O/actdiff_diffusion_model_bikes_carphone.json" "$O/x265.json" --metric niqe
bd "$O/bdrate_fr_model_bikes_carphone_vs_x265.md" "$O/actdiff_diffusion_model_bikes_carphone.json" "$O/x265.json" --metric $FR
