#!/usr/bin/env bash
# Put the MCL-JCV source sequences where configs/data/mcl_jcv.yaml expects them.
#
# Source: USC Media Communications Lab, MCL-JCV dataset — http://mcl.usc.edu/mcl-jcv-dataset/
# (H. Wang et al., "MCL-JCV: a JND-based H.264/AVC video quality assessment dataset",
# ICIP 2016). The page hands out the data through its own download links (and may ask you to
# agree to its terms); they change over time, so this script does not hard-code a URL:
#
#   1. Open http://mcl.usc.edu/mcl-jcv-dataset/ in a browser and download the source
#      ("SRC") sequences: 30 raw 8-bit 4:2:0 files videoSRC01_1920x1080_<fps>.yuv … videoSRC30_….
#   2. Run:  experiments/prepare_mcl_jcv.sh DOWNLOADED [TARGET_DIR]   (default target data/mcl_jcv)
#      DOWNLOADED is the downloaded archive (.zip, .7z, .tar, .tar.gz) or a folder holding the
#      .yuv files (searched recursively).
#
# USC publishes no checksums, so none are checked. The script checks that all 30 files listed in
# configs/data/mcl_jcv.yaml are present and hold a whole number of 1920x1080 4:2:0 frames
# (3,110,400 bytes each), and prints the frame counts so you can compare them with the YAML
# (whose per-sequence fps/frames come from the file names; see the comment there).
# Then: actdiff ... data=mcl_jcv (or data.root=TARGET_DIR, or export ACTDIFF_MCL_JCV_ROOT=TARGET_DIR).
# Not run by the tests.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  sed -n '2,24p' "$0"; exit 2
fi
SRC=$1
TARGET=${2:-data/mcl_jcv}
FRAME_BYTES=$((1920 * 1080 * 3 / 2))
HERE=$(cd "$(dirname "$0")" && pwd)
YAML="$HERE/../configs/data/mcl_jcv.yaml"

mkdir -p "$TARGET"
if [[ -d "$SRC" ]]; then
  FROM=$SRC
else
  FROM=$(mktemp -d "$TARGET/.extract.XXXX")
  trap 'rm -rf "$FROM"' EXIT
  case "$SRC" in
    *.zip) unzip -q "$SRC" -d "$FROM" ;;
    *.7z) 7z x -y -o"$FROM" "$SRC" >/dev/null ;;
    *.tar|*.tar.gz|*.tgz) tar -xf "$SRC" -C "$FROM" ;;
    *) echo "error: do not know how to extract $SRC (give a folder, .zip, .7z or .tar[.gz])" >&2; exit 2 ;;
  esac
fi

status=0
for file in $(grep -o 'videoSRC[0-9]*_1920x1080_[0-9]*\.yuv' "$YAML"); do
  if [[ ! -f "$TARGET/$file" ]]; then
    found=$(find "$FROM" -name "$file" -print -quit)
    if [[ -z "$found" ]]; then echo "missing $file" >&2; status=1; continue; fi
    if [[ -d "$SRC" ]]; then ln -s "$(cd "$(dirname "$found")" && pwd)/$file" "$TARGET/$file"
    else mv "$found" "$TARGET/$file"; fi
  fi
  size=$(stat -L -c %s "$TARGET/$file")
  if (( size % FRAME_BYTES )); then
    echo "error: $file has $size bytes, not a whole number of 1920x1080 4:2:0 frames" >&2; status=1
  else
    echo "ok    $file  $((size / FRAME_BYTES)) frames"
  fi
done
if [[ $status -ne 0 ]]; then echo "MCL-JCV incomplete in $TARGET" >&2; exit 1; fi
echo "MCL-JCV ready in $TARGET"
