"""Is an object where the source has it? Phase-correlation shift of decoded against source frames in a region.

Usage::

    PYTHONPATH=$PWD OMP_NUM_THREADS=2 .venv/bin/python experiments/region_shift.py CLIP POINT \\
        --region Y0 Y1 X0 X1 [--frames 15 27 46] [--decoder warp]

``CLIP`` is read with the cpu protocol (256x384 crop, first 96 frames), encoded in the fast mode at
``POINT`` of ``configs/rates/default.yaml`` and decoded (``--decoder``: a name or a JSON
``codec.decoder`` section). Per frame it prints the shift ``(dx, dy)`` in pixels that best maps the
source's region onto the decoded one (``cv2.phaseCorrelate`` with a Hann window; response in
[0, 1], low when the two hardly match), the source's own shift from frame 0 in that region (how far
the content moved) and the frame's PSNR. A misplaced object shows as a shift of pixels where
the source moved; a few tenths of a pixel is interpolation.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from actdiff.codec import decode_video
from actdiff.data import load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.rates import encode_at_point


def region_shift(src: np.ndarray, rec: np.ndarray, region: tuple[int, int, int, int]) -> tuple[float, float, float]:
    """``(dx, dy, response)``: the shift (px) that maps ``src``'s region ``(y0, y1, x0, x1)`` onto
    ``rec``'s (both ``uint8 (H, W, 3)`` RGB) by phase correlation, and its response in [0, 1]."""
    y0, y1, x0, x1 = region
    a, b = (cv2.cvtColor(np.ascontiguousarray(f[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
            for f in (src, rec))
    (dx, dy), response = cv2.phaseCorrelate(a, b, cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F))
    return float(dx), float(dy), float(response)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("point", help="rate point of configs/rates/default.yaml, e.g. r1")
    ap.add_argument("--region", type=int, nargs=4, required=True, metavar=("Y0", "Y1", "X0", "X1"))
    ap.add_argument("--frames", type=int, nargs="+", default=[15, 27, 31, 46, 75])
    ap.add_argument("--decoder", default="warp")
    args = ap.parse_args(argv)
    decoder = json.loads(args.decoder) if args.decoder.startswith("{") else args.decoder
    video = load_protocol("cpu").read(args.clip)
    src = video.frames
    if not all(0 <= f < len(src) for f in args.frames):
        raise SystemExit(f"error: --frames must lie in 0 … {len(src) - 1}")
    rec = decode_video(encode_at_point(video, args.point).data, build_decoder(decoder)).frames
    for f in args.frames:
        dx, dy, resp = region_shift(src[f], rec[f], tuple(args.region))
        sx, sy, _ = region_shift(src[0], src[f], tuple(args.region))
        psnr = 10 * np.log10(255.0**2 / np.mean((src[f].astype(np.float64) - rec[f]) ** 2))
        print(f"{args.point} frame {f}: decoded vs source ({dx:+.1f}, {dy:+.1f}) px, response {resp:.2f}; "
              f"source vs frame 0 ({sx:+.1f}, {sy:+.1f}) px; PSNR {psnr:.1f} dB", flush=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
