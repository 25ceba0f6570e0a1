"""Side-by-side crops: source | old blend | new fusion (| fusion weight a1), for looking at ghosts.

Usage::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python experiments/prediction_crops.py \
        --item /work/shared/data/train_clips/davis_car_turn.mp4:12:150,20,234,180 [--item ...] \
        [--rate default] [--cache /tmp/pred_cache] [--scale 1] -o crops.png

Each ``--item`` is ``CLIP:FRAME:X,Y,W,H`` (frame index and crop box in the cpu-protocol frames,
256x384); the frame must lie strictly inside a segment. Rows are items; columns are the source
frame, the plain blend (``prediction=blend``), the fusion (default
:class:`~actdiff.motion.fusion.FusionParams`) and its weight map ``a1`` (white: from K1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prediction_eval import bitstream  # noqa: E402

from actdiff.codec import decode_segments  # noqa: E402
from actdiff.io.files import atomic_output, refuse_outputs  # noqa: E402
from actdiff.motion.fusion import fuse_frame  # noqa: E402
from actdiff.motion.prediction import predict_frame  # noqa: E402


def row(clip: str, frame: int, box: tuple[int, int, int, int], rate: str, cache: Path | None) -> np.ndarray:
    """``uint8 (h, 4w, 3)`` RGB: source | blend | fusion | a1 over ``box`` of ``frame``."""
    data, src, _ = bitstream(Path(clip), rate, cache)
    header, segs = decode_segments(data)
    if header.repeated:
        raise SystemExit(f"error: {clip}'s stream leaves repeated frames out; this tool pairs frames one to one")
    seg = next((s for s in segs if s.segment.start < frame < s.segment.end), None)
    if seg is None:
        raise SystemExit(f"error: frame {frame} of {clip} is a keyframe or out of range")
    t, length = frame - seg.segment.start, seg.segment.length
    old = predict_frame(seg, t, mode="blend")
    new, diag = fuse_frame(seg, t)
    a1 = np.repeat(diag["a1"][..., None] * 255, 3, -1)
    x, y, w, h = box
    cols = [np.asarray(c, np.float32)[y:y + h, x:x + w] for c in (src[frame], old, new, a1)]
    print(f"{Path(clip).stem} frame {frame}: segment {seg.segment.start}-{seg.segment.end}, t={t}/{length - 1}")
    return np.clip(np.rint(np.concatenate(cols, 1)), 0, 255).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--item", action="append", required=True, help="CLIP:FRAME:X,Y,W,H")
    p.add_argument("--rate", default="default")
    p.add_argument("--cache", default=None)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args()
    refuse_outputs(p, [args.out], args.overwrite)
    rows = []
    for item in args.item:
        clip, frame, box = item.rsplit(":", 2)
        rows.append(row(clip, int(frame), tuple(int(v) for v in box.split(",")), args.rate,
                        Path(args.cache) if args.cache else None))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    img = np.concatenate(rows, 0)
    if args.scale != 1:
        img = cv2.resize(img, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_AREA)
    with atomic_output(args.out, overwrite=True) as tmp:
        cv2.imwrite(str(tmp), img[..., ::-1])


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
