#!/usr/bin/env bash
# Issue 14's decoder comparison: the corpus-trained weights (CANDIDATE) against the shipped ones
# (BASELINE) and the warp decoder, on the SAME bitstreams of clips outside the corpus's training
# files: the four OpenCV sample clips, carphone, and the corpus's validation files (read from
# RUN_DIR/config.yaml, data.resolved_split.val). Writes OUT (JSON, with the machine) and the
# per-clip panels (source | warp | baseline | candidate) to PNG_DIR, outside the repository.
#
# Resumable: rows are cached in CACHE; run once without CANDIDATE (CANDIDATE=) to compute the warp
# and baseline rows while the candidate trains, then again with it.
# Environment: PYTHON, RUN_DIR, CANDIDATE, BASELINE, TRAIN_CLIPS, OPENCV, CLIPS_DIR, FRAMES, RATES,
# CACHE, PNG_DIR, OUT, OVERWRITE (set: replace an existing OUT; otherwise it stops the script before any
# work). Runs under `nice -n 10`.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
RUN_DIR=${RUN_DIR:-runs/train_corpus_cpu}
CANDIDATE=${CANDIDATE-$RUN_DIR/export}
BASELINE=${BASELINE:-actdiff/assets/weights/tiny}
TRAIN_CLIPS=${TRAIN_CLIPS:-../shared/data/train_clips}
OPENCV=${OPENCV:-data/opencv_samples}
CLIPS_DIR=${CLIPS_DIR:-../shared/data/clips}
FRAMES=${FRAMES:-48}
RATES=${RATES:-r1 r3}
CACHE=${CACHE:-$RUN_DIR/bench_cache}
PNG_DIR=${PNG_DIR:-$RUN_DIR/bench_png}
OUT=${OUT:-benchmarks/results/decoder_weights_corpus_cpu.json}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

val=$("$PY" -c "import sys; from omegaconf import OmegaConf; print(' '.join(OmegaConf.load(sys.argv[1]).data.resolved_split.val))" "$RUN_DIR/config.yaml")
clips=("$OPENCV/vtest.avi" "$OPENCV/megamind.avi" "$OPENCV/cup.mp4" "$OPENCV/box.mp4" "$CLIPS_DIR/carphone_pristine.mp4")
for v in $val; do clips+=("$TRAIN_CLIPS/$v"); done
for c in "${clips[@]}"; do [ -f "$c" ] || { echo "error: $c not found" >&2; exit 2; }; done

cand=()
if [ -n "$CANDIDATE" ]; then cand=(--candidate "$CANDIDATE" -o "$OUT" ${OVERWRITE:+--overwrite}); fi
# shellcheck disable=SC2086
nice -n 10 "$PY" benchmarks/bench_decoder_weights.py "${clips[@]}" --baseline "$BASELINE" "${cand[@]}" \
  --rates $RATES --frames "$FRAMES" --cache "$CACHE" --png-dir "$PNG_DIR"
