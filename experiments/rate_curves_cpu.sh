#!/usr/bin/env bash
# Rate–perception curves at the `cpu` protocol (384x256, first 96 frames) on the shared clips:
# ActDiff (warp and diffusion decoders) against x264, x265 and SVT-AV1, then BD-rates and a plot.
# Writes experiments/results/<codec>.json, bdrate_*.md and rd_niqe.png (re-runs replace them).
#
#   experiments/rate_curves_cpu.sh                 # everything (~40 min on 2 CPU cores)
#   DECODERS=warp experiments/rate_curves_cpu.sh   # skip the diffusion decoder
#   DECODERS=diffusion CODECS= experiments/rate_curves_cpu.sh   # re-run only the diffusion decoder
# Plots and BD-rate tables are made from every results JSON present in $OUT afterwards.
#
# Environment: ACTDIFF, DATA (dataset YAML/name, default shared_clips), PROTOCOL (default cpu),
# OUT, DECODERS, CODECS, METRICS (default: psnr ms_ssim niqe warping_error), WEIGHTS (the diffusion
# decoder's weights folder; default: the shipped model), RATES_FILE (default configs/rates/default.yaml).
# experiments/rate_curves_paper.sh runs the same for UVG/MCL-JCV.
set -euo pipefail
cd "$(dirname "$0")/.."
ACT=${ACTDIFF:-.venv/bin/actdiff}
DATA=${DATA:-shared_clips}
PROTOCOL=${PROTOCOL:-cpu}
OUT=${OUT:-experiments/results}
DECODERS=${DECODERS-warp diffusion}
CODECS=${CODECS-x264 x265 svt-av1}
METRICS=${METRICS:-psnr ms_ssim niqe warping_error}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"

for dec in $DECODERS; do
  extra=()
  [ "$dec" = diffusion ] && [ -n "${WEIGHTS:-}" ] && extra+=(--weights "$WEIGHTS")
  [ -n "${RATES_FILE:-}" ] && extra+=(--rates-file "$RATES_FILE")
  $ACT evaluate --data "$DATA" --protocol "$PROTOCOL" --decoder "$dec" --metrics $METRICS \
    "${extra[@]}" -o "$OUT/actdiff_$dec.json" --overwrite
done
for codec in $CODECS; do
  case $codec in
    svt-av1) crfs="63 60 56 52 48 44 40" ;;
    *) crfs="51 48 45 42 38 34 30 26" ;;
  esac
  $ACT bench "$codec" --data "$DATA" --protocol "$PROTOCOL" --crf $crfs --metrics $METRICS \
    -o "$OUT/$codec.json" --overwrite
done

ALL_DECODERS="warp diffusion"
ALL_CODECS="x264 x265 svt-av1"
jsons=()
for dec in $ALL_DECODERS; do [ -f "$OUT/actdiff_$dec.json" ] && jsons+=("$OUT/actdiff_$dec.json"); done
for codec in $ALL_CODECS; do [ -f "$OUT/$codec.json" ] && jsons+=("$OUT/$codec.json"); done
$ACT plot "${jsons[@]}" --metric niqe -o "$OUT/rd_niqe.png" --overwrite
$ACT plot "${jsons[@]}" --metric psnr -o "$OUT/rd_psnr.png" --overwrite
for dec in $ALL_DECODERS; do
  [ -f "$OUT/actdiff_$dec.json" ] || continue
  for codec in $ALL_CODECS; do
    [ -f "$OUT/$codec.json" ] || continue
    $ACT bdrate "$OUT/actdiff_$dec.json" "$OUT/$codec.json" --metric niqe \
      --markdown "$OUT/bdrate_niqe_${dec}_vs_$codec.md" --overwrite || true
  done
done
echo "results in $OUT (each JSON records the machine it ran on)"
