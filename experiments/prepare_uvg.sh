#!/usr/bin/env bash
# Download the UVG test sequences used by configs/data/uvg.yaml (needs internet, ~12 GB of
# raw video after extraction, ~5 GB of archives; 7-Zip (`7z` or `7za`) and curl or wget).
#
# Source: Ultra Video Group, Tampere University — https://ultravideo.fi/dataset.html
# (A. Mercat, M. Viitanen, J. Vanne, "UVG dataset: 50/120fps 4K sequences for video codec
# analysis and development", ACM MMSys 2020). Licence: CC BY-NC 4.0 (see each archive's
# *_Copyright.txt); check it fits your use.
#
# We fetch the 1920x1080, 120 fps, 8-bit 4:2:0 raw ("YUV_RAW") 7z archive of each of the 7
# classic sequences and extract NAME_1920x1080_120fps_420_8bit_YUV.yuv into the target folder.
# With UVG_BITS=10 the 10-bit originals instead (NAME_1920x1080_120fps_420_10bit_YUV.yuv, each
# sample a 16-bit little-endian word; configs/data/uvg_10bit.yaml); both can share a folder.
# UVG publishes no checksums for these archives, so none are checked; instead the script checks
# that each .yuv holds exactly the expected number of 1920x1080 4:2:0 frames (3,110,400 bytes
# each at 8 bits, twice that at 10; 600 frames, 300 for ShakeNDry).
#
# Usage:   [UVG_BITS=10] experiments/prepare_uvg.sh [TARGET_DIR]   (default: data/uvg, 8 bits)
# Then:    actdiff ... data=uvg                             (or data.root=TARGET_DIR,
#          or export ACTDIFF_UVG_ROOT=TARGET_DIR)
# Not run by the tests.
set -euo pipefail

TARGET=${1:-data/uvg}
BASE_URL=${UVG_BASE_URL:-https://ultravideo.fi/video}
BITS=${UVG_BITS:-8}
case "$BITS" in
  8) FRAME_BYTES=$((1920 * 1080 * 3 / 2)) ;;
  10) FRAME_BYTES=$((1920 * 1080 * 3)) ;;
  *) echo "error: UVG_BITS must be 8 or 10, got $BITS" >&2; exit 2 ;;
esac

# sequence name : archive name (ReadySteadyGo's archive is called ReadySetGo) : frames
SEQUENCES=(
  "Beauty:Beauty:600"
  "Bosphorus:Bosphorus:600"
  "HoneyBee:HoneyBee:600"
  "Jockey:Jockey:600"
  "ReadySteadyGo:ReadySetGo:600"
  "ShakeNDry:ShakeNDry:300"
  "YachtRide:YachtRide:600"
)

if command -v 7z >/dev/null; then SEVENZ=7z
elif command -v 7za >/dev/null; then SEVENZ=7za
else echo "error: 7-Zip (7z or 7za) is needed to extract the archives" >&2; exit 2; fi

fetch() {  # url output
  if command -v curl >/dev/null; then curl -fL --retry 3 -C - -o "$2" "$1"
  elif command -v wget >/dev/null; then wget -c -O "$2" "$1"
  else echo "error: curl or wget is needed" >&2; exit 2; fi
}

mkdir -p "$TARGET/archives"
for entry in "${SEQUENCES[@]}"; do
  IFS=: read -r name archive frames <<<"$entry"
  yuv="$TARGET/${name}_1920x1080_120fps_420_${BITS}bit_YUV.yuv"
  expected=$((frames * FRAME_BYTES))
  if [[ -f "$yuv" && $(stat -c %s "$yuv") -eq $expected ]]; then
    echo "ok    $yuv (already there)"; continue
  fi
  zip="$TARGET/archives/${archive}_1920x1080_120fps_420_${BITS}bit_YUV_RAW.7z"
  echo "fetch $BASE_URL/$(basename "$zip")"
  fetch "$BASE_URL/$(basename "$zip")" "$zip"
  "$SEVENZ" x -y -o"$TARGET" "$zip" >/dev/null
  if [[ ! -f "$yuv" ]]; then
    echo "error: $zip did not contain $(basename "$yuv")" >&2; exit 1
  fi
  size=$(stat -c %s "$yuv")
  if [[ $size -ne $expected ]]; then
    echo "error: $yuv has $size bytes, expected $expected ($frames frames)" >&2; exit 1
  fi
  echo "ok    $yuv ($frames frames)"
done
echo "UVG ready in $TARGET (the archives in $TARGET/archives can be deleted)"
