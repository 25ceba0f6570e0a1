"""Ghost count on a synthetic clip: a red textured square crossing a static texture.

Usage::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python experiments/prediction_synthetic.py \
        [--out experiments/results/prediction_synthetic.json]

The clip (``actdiff.training.synthetic.moving_square``: 17 frames 128x192, a 40-px square moving
~8.5 px/frame) is encoded with the default codec and at the low rate point of
``prediction_eval.py``; every in-between frame of every segment is predicted by the plain blend
(old), the fusion (new, default ``FusionParams``) and the fusion without the forward–backward
term (ablation). Per frame: "red" pixels (R − mean(G, B) > 60, the square's colour; the
background has none) outside the square's true box (ghosts and smear), and the fraction of red
pixels inside the segment's start and end boxes minus the true box (the double image proper),
and PSNR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prediction_eval import RATES  # noqa: E402

from actdiff.codec import (
    decode_segments,  # noqa: E402
    encode_video,  # noqa: E402
)
from actdiff.config import compose  # noqa: E402
from actdiff.evaluation.results import atomic_write_text  # noqa: E402
from actdiff.io.files import refuse_outputs  # noqa: E402
from actdiff.motion.fusion import FusionParams, fuse_frame  # noqa: E402
from actdiff.motion.prediction import predict_frame  # noqa: E402
from actdiff.training.synthetic import moving_square  # noqa: E402
from actdiff.types import Video  # noqa: E402

SIDE = 40


def red(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, np.float32)
    return img[..., 0] - img[..., 1:].mean(-1) > 60


def box(xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[xy[1]:xy[1] + SIDE, xy[0]:xy[0] + SIDE] = True
    return m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args()
    refuse_outputs(p, [args.out], args.overwrite)
    frames, boxes = moving_square(side=SIDE)
    shape = frames.shape[1:3]
    methods = {
        "old": None,
        "new": FusionParams(),
        "new_no_fb": FusionParams(use_fb=False),
    }
    result = {}
    for rate, overrides in RATES.items():
        enc = encode_video(Video(frames, 25.0, "moving_square"), compose(None, overrides))
        _, segs = decode_segments(enc.data)
        rows = []
        for seg in segs:
            length = seg.segment.length
            for t in range(1, length - 1):
                f = seg.segment.start + t
                true = box(boxes[f], shape)
                ghost = (box(boxes[seg.segment.start], shape) | box(boxes[seg.segment.end], shape)) & ~true
                row = {"frame": f, "segment": [seg.segment.start, seg.segment.end]}
                for name, params in methods.items():
                    if params is None:
                        img = predict_frame(seg, t, mode="blend")
                    else:
                        img = fuse_frame(seg, t, params)[0]
                    r = red(img)
                    mse = float(np.mean((np.asarray(img, np.float64) - frames[f]) ** 2))
                    row[name] = {"red_outside": int((r & ~true).sum()), "ghost_box_red": float(r[ghost].mean()),
                                 "true_box_red": float(r[true].mean()), "psnr": 10 * np.log10(255**2 / mse)}
                rows.append(row)
        result[rate] = {"bpp": enc.stats["bpp"], "segments": enc.stats["segments"], "frames": rows}
        print(f"{rate}: {enc.stats['bpp']:.4f} bpp, segments {enc.stats['segments']}")
        for name in methods:
            outside = [r[name]["red_outside"] for r in rows]
            print(f"  {name:10s} red px outside the true box per frame {outside}")
            print(f"  {'':10s} mean: outside {np.mean(outside):.0f} px, start/end boxes "
                  f"{np.mean([r[name]['ghost_box_red'] for r in rows]):.3f} red, true box "
                  f"{np.mean([r[name]['true_box_red'] for r in rows]):.3f} red, PSNR "
                  f"{np.mean([r[name]['psnr'] for r in rows]):.2f} dB")
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
