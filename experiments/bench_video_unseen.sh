#!/usr/bin/env bash
# Issue 13's decision: the trained tiny-video generator (VIDEO, default the export of
# experiments/train_video_cpu.sh) against the warp decoder, the shipped 2D frame decoder and x265,
# on the SAME bitstreams of clips no shipped model was trained on (the four OpenCV samples and
# carphone; cpu protocol, first FRAMES frames, rate points RATES), with
# benchmarks/bench_video_decoder.py (targets, verdicts and the machine in OUT; panels
# source | warp | 2D | video in PNG_DIR, outside the repository).
# Resumable: rows are cached in CACHE by bitstream SHA-256 and decoder.
# Environment: PYTHON, VIDEO, OPENCV, CLIPS_DIR, FRAMES, RATES, CACHE, PNG_DIR, OUT, VIDEO_SET
# (key=value sampling settings of the video decoder). Runs under `nice -n 10`.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
VIDEO=${VIDEO:-runs/train_video_cpu/export}
OPENCV=${OPENCV:-data/opencv_samples}
CLIPS_DIR=${CLIPS_DIR:-../shared/data/clips}
FRAMES=${FRAMES:-48}
RATES=${RATES:-r1 r3}
CACHE=${CACHE:-runs/bench_video_unseen/cache}
PNG_DIR=${PNG_DIR:-runs/bench_video_unseen/png}
OUT=${OUT:-benchmarks/results/video_decoder_unseen_cpu.json}
VIDEO_SET=${VIDEO_SET:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

clips=("$OPENCV/vtest.avi" "$OPENCV/megamind.avi" "$OPENCV/cup.mp4" "$OPENCV/box.mp4" "$CLIPS_DIR/carphone_pristine.mp4")
for c in "${clips[@]}"; do [ -f "$c" ] || { echo "error: $c not found" >&2; exit 2; }; done
[ -f "$VIDEO/config.json" ] || { echo "error: no video generator in $VIDEO (train it: experiments/train_video_cpu.sh)" >&2; exit 2; }

set_args=()
# shellcheck disable=SC2206
if [ -n "$VIDEO_SET" ]; then set_args=(--video-set $VIDEO_SET); fi
# shellcheck disable=SC2086
nice -n 10 "$PY" benchmarks/bench_video_decoder.py "${clips[@]}" --video "$VIDEO" "${set_args[@]}" \
  --rates $RATES --frames "$FRAMES" --cache "$CACHE" --png-dir "$PNG_DIR" -o "$OUT"
