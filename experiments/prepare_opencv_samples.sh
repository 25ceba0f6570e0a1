#!/usr/bin/env bash
# Fetch the real sample videos that ship inside OpenCV's source tree, for configs/data/opencv_samples.yaml:
# four clips no ActDiff model was trained on (more "unseen real clips" than ../shared has).
#
# Source: the opencv-python 4.10.0.84 source distribution on PyPI (a package registry, so this
# works where dataset sites are unreachable), checked against PyPI's published sha256. From it we
# extract every distinct, complete video of opencv/samples/data plus the two videos of the
# docs/tutorials:
#
#   vtest.avi     768x576, 10 fps, 795 frames, MPEG-4 (MS v3)   static camera, pedestrians
#   megamind.avi  720x528, 23.976 fps, 270 frames, MPEG-4 Part 2 animated film trailer excerpt
#   cup.mp4       640x480, ~26.8 fps, 217 frames, H.264         hand-held, a cup on a table
#   box.mp4       640x480, ~30 fps, 455 frames, H.264           hand-held, a box being moved
#
# Left out: Megamind_bugy.avi (a copy of Megamind.avi with dropped frames) and tree.avi (truncated:
# its index declares 444 frames, the file holds 68, and actdiff's reader refuses truncated files).
# Rights: OpenCV's code is Apache-2.0; the sample media carry their own, unstated, terms (the
# trailer excerpt belongs to its studio). Use them for local evaluation only: nothing fetched here
# is committed or redistributed. Unlike ../shared's clips these sources are themselves lossy
# (MPEG-4, H.264), which no-reference metrics see: `evaluate` records the sources' own
# NIQE under `source` in its results JSON.
#
# Usage:  experiments/prepare_opencv_samples.sh [TARGET_DIR]   (default: data/opencv_samples)
# Then:   actdiff evaluate --data opencv_samples ...  (or data.root=TARGET_DIR, or
#         export ACTDIFF_OPENCV_SAMPLES_ROOT=TARGET_DIR). Not run by the tests.
set -euo pipefail

TARGET=${1:-data/opencv_samples}
VERSION=4.10.0.84
URL=https://files.pythonhosted.org/packages/4a/e7/b70a2d9ab205110d715906fc8ec83fbb00404aeb3a37a0654fdb68eb0c8c/opencv-python-$VERSION.tar.gz
SHA256=72d234e4582e9658ffea8e9cae5b63d488ad06994ef12d81dc303b17472f3526
PREFIX=opencv-python-$VERSION/opencv
# member inside the sdist : name in TARGET
FILES=(
  "samples/data/vtest.avi:vtest.avi"
  "samples/data/Megamind.avi:megamind.avi"
  "doc/js_tutorials/js_assets/cup.mp4:cup.mp4"
  "samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4:box.mp4"
)

have_all=1
for entry in "${FILES[@]}"; do [[ -f "$TARGET/${entry#*:}" ]] || have_all=0; done
if [[ $have_all -eq 1 ]]; then echo "ok    $TARGET (already there)"; exit 0; fi

mkdir -p "$TARGET"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
archive="$tmp/opencv-python-$VERSION.tar.gz"
echo "fetch $URL"
if command -v curl >/dev/null; then curl -fsSL --retry 3 -o "$archive" "$URL"
elif command -v wget >/dev/null; then wget -q -O "$archive" "$URL"
else echo "error: curl or wget is needed" >&2; exit 2; fi
echo "$SHA256  $archive" | sha256sum -c --quiet - \
  || { echo "error: $archive does not match PyPI's sha256 $SHA256" >&2; exit 1; }

members=()
for entry in "${FILES[@]}"; do members+=("$PREFIX/${entry%%:*}"); done
tar -xzf "$archive" -C "$tmp" "${members[@]}"
for entry in "${FILES[@]}"; do
  # copy to a temporary name first so that an interrupted run leaves no half-written clip
  cp "$tmp/$PREFIX/${entry%%:*}" "$TARGET/.${entry#*:}.part"
  mv "$TARGET/.${entry#*:}.part" "$TARGET/${entry#*:}"
  echo "ok    $TARGET/${entry#*:}"
done
