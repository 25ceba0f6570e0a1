"""The diffusion decoder with and without ``coarse_lock`` on the middle frame of a clip's longest segment.

Usage::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python experiments/coarse_lock_frames.py CLIP POINT PANEL.png

``CLIP`` is read with the cpu protocol (256x384, first 96 frames) and encoded in the fast mode at
``POINT`` of ``configs/rates/default.yaml``; the longest segment is decoded twice by the shipped
diffusion decoder (``coarse_lock`` off and on). Prints the middle frame's PSNR and coarse PSNR (8x area
averages) against the source for both and their largest difference; writes source | unlocked |
locked | 16x the absolute difference.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from PIL import Image

from actdiff.codec.decoder import decode_segments
from actdiff.data import load_protocol
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.evaluation.rates import encode_at_point
from actdiff.metrics import compute_metrics


def _label(img: np.ndarray, text: str) -> np.ndarray:
    return cv2.putText(np.ascontiguousarray(img, np.uint8).copy(), text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                       (255, 255, 0), 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("point")
    ap.add_argument("panel")
    args = ap.parse_args(argv)
    video = load_protocol("cpu").read(args.clip)
    header, segs = decode_segments(encode_at_point(video, args.point, overrides=["codec.repeat_psnr=null"]).data)
    seg = max(segs, key=lambda s: s.segment.length)
    t = seg.segment.length // 2
    f = seg.segment.start + t
    outs = {lock: DiffusionDecoder(coarse_lock=lock).decode_segment(header, seg)[t] for lock in (False, True)}
    src = video.frames[f]
    for lock, frame in outs.items():
        m = compute_metrics(src[None], frame[None], ("psnr", "psnr_lowres"))
        print(f"frame {f} (t={t} of {seg.segment.length}) lock={lock}: PSNR {m['psnr']:.3f} "
              f"coarse {m['psnr_lowres']:.3f}")
    diff = np.abs(outs[True].astype(int) - outs[False].astype(int))
    print(f"max |locked - unlocked| {diff.max()}, mean {diff.mean():.3f}")
    panel = [_label(src, f"source {f}"), _label(outs[False], "unlocked"), _label(outs[True], "coarse_lock"),
             _label(np.clip(diff * 16, 0, 255).astype(np.uint8), "|diff| x16")]
    Image.fromarray(np.concatenate(panel, 1)).save(args.panel)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
