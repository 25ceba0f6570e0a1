#!/usr/bin/env bash
# Re-measure ActDiff on the clips no shipped model was trained on (the four OpenCV samples and
# carphone, `cpu` protocol: 384x256, first 96 frames), with the code as it is now: the fast mode
# with the warp and the diffusion decoder (experiments/results_opencv_samples/actdiff_*.json,
# experiments/results_fr_carphone/actdiff_*.json; x264/x265/SVT-AV1 results are kept, their code
# did not change) and the RD mode (benchmarks/bench_rd.py --restart -> experiments/results_rd: its
# decodes are redone, its streams in experiments/results_rd/streams are re-used only when they were
# encoded with the same codec settings and package code, else encoded again: bench_rd.py says so), then the
# BD-rate tables, the README table and figure. Order: the cheap warp passes first.
#
#   ACTDIFF_OPENCV_SAMPLES_ROOT=... ACTDIFF_SHARED_CLIPS=... nice -n 5 experiments/refresh_unseen_cpu.sh
# STEPS (default "fast_warp rd_warp fast_diffusion rd_diffusion tables") selects steps; RD_SINCE (a git
# revision, default c04ba2a^) is the summary's "gain since" reference (bench_rd.py --since). RD_SPLIT
# ("vtest cup|box megamind carphone": clip lists split by |) runs each RD step as one process per list at
# one thread each, into the same documents (bench_rd.py --sequences); default: one process.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ACT="$PY -m actdiff"
STEPS=${STEPS:-fast_warp rd_warp fast_diffusion rd_diffusion tables}
METRICS="haarpsi ms_ssim psnr psnr_lowres niqe vmaf vmaf_neg warping_error tof"
OPENCV=experiments/results_opencv_samples
RD_SINCE=${RD_SINCE:-c04ba2a^}  # summary.md's "gain since": the fast mode's results the day issue 18 was filed
CARPHONE=experiments/results_fr_carphone
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

fast() {  # fast mode, decoder $1, on both datasets
  $ACT evaluate --data opencv_samples --protocol cpu --decoder "$1" --metrics $METRICS \
    -o "$OPENCV/actdiff_$1.json" --overwrite
  $ACT evaluate --data shared_clips --protocol cpu --decoder "$1" --sequences carphone --metrics $METRICS \
    -o "$CARPHONE/actdiff_$1.json" --overwrite
}

rd() {  # RD mode, decoder $1 (RD_SPLIT: one process per clip list, one thread each)
  if [ -z "${RD_SPLIT:-}" ]; then
    $PY benchmarks/bench_rd.py -o experiments/results_rd --decoders "$1" --restart
    return
  fi
  local part pids=()
  IFS='|' read -ra parts <<< "$RD_SPLIT"
  for part in "${parts[@]}"; do
    # shellcheck disable=SC2086  # a part is a list of clip names
    OMP_NUM_THREADS=1 $PY benchmarks/bench_rd.py -o experiments/results_rd --decoders "$1" --restart --sequences $part &
    pids+=($!)
  done
  for part in "${pids[@]}"; do wait "$part"; done  # set -e: a failed part fails the step
}

for step in $STEPS; do  # a typo fails before hours of decoding, not after
  case $step in fast_warp|rd_warp|fast_diffusion|rd_diffusion|tables) ;; *) echo "unknown step $step" >&2; exit 2 ;; esac
done

for step in $STEPS; do
  echo "== $step $(date -u +%H:%M:%S)"
  case $step in
    fast_warp) fast warp ;;
    fast_diffusion) fast diffusion ;;
    rd_warp) rd warp ;;
    rd_diffusion) rd diffusion ;;
    tables)
      $PY benchmarks/bench_rd.py -o experiments/results_rd --decoders warp diffusion --summary-only \
        --since "$RD_SINCE"
      for dec in warp diffusion; do
        $ACT bdrate "$OPENCV/actdiff_$dec.json" "$OPENCV/x265.json" --metric haarpsi ms_ssim vmaf vmaf_neg \
          --markdown "$OPENCV/bdrate_fr_${dec}_vs_x265.md" --overwrite || true
        $ACT bdrate "$CARPHONE/actdiff_$dec.json" "$CARPHONE/x265.json" --metric haarpsi ms_ssim vmaf vmaf_neg \
          --markdown "$CARPHONE/bdrate_${dec}_vs_x265.md" --overwrite || true
        for codec in x264 x265 svt-av1; do
          $ACT bdrate "$OPENCV/actdiff_$dec.json" "$OPENCV/$codec.json" --metric niqe \
            --markdown "$OPENCV/bdrate_niqe_${dec}_vs_$codec.md" --overwrite || true
        done
      done
      for m in niqe psnr; do
        $ACT plot "$OPENCV"/actdiff_warp.json "$OPENCV"/actdiff_diffusion.json "$OPENCV"/x264.json \
          "$OPENCV"/x265.json "$OPENCV"/svt-av1.json --metric $m -o "$OPENCV/rd_$m.png" --overwrite
      done
      $PY experiments/readme_table.py > experiments/readme_table.md
      $PY experiments/readme_figure.py --overwrite ;;
  esac
done
echo "== done $(date -u +%H:%M:%S)"
