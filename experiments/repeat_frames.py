"""Look at repeated frames decoded: source | every frame coded | repeats left out (``codec.repeat_psnr``).

One clip (cpu protocol: 256x384 crop, first ``--frames`` frames; a path, or a training-corpus name
with ``--train``), one fast-mode rate point, the warp decoder. The panel shows the frames around a
repeated frame inside a segment, one row per frame: the source, the stream coded with
``repeat_psnr=null`` and with the default. The JSON beside it holds each stream's bits, the frame
indices shown, and each shown frame's PSNR and its change from the frame before (mean absolute
difference, [0, 255]): where the source stands still, the default's frame stands still too. A
looking tool: it chooses nothing.

    ACTDIFF_TRAIN_CLIPS=... PYTHONPATH=. python experiments/repeat_frames.py mmaction_makeup --train \\
        --point r2 -o experiments/results_rd/frames/makeup_repeats_r2.jpg
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from actdiff.codec import decode_video
from actdiff.data import load_dataset, load_protocol
from actdiff.evaluation.rates import encode_at_point
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import atomic_output, refuse_outputs

VARIANTS = {"every frame": ["codec.repeat_psnr=null"], "repeats": []}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def middle_repeat(repeated: list[int], segments: list[list[int]]) -> int:
    """The repeated display frame nearest the middle of the longest segment (display indices)."""
    a, b = max(segments, key=lambda s: s[1] - s[0])
    inside = [t for t in repeated if a < t - 1 and t + 1 < b] or list(repeated)
    return min(inside, key=lambda t: abs(t - (a + b) / 2))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("--train", action="store_true", help="clip is a training-corpus name")
    ap.add_argument("--point", default="r2")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("-o", "--output", type=Path, required=True, help="image; its numbers go to OUTPUT.json")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output, args.output.with_suffix(".json")], args.overwrite)
    path = next(iter(load_dataset("train_clips", sequences=[args.clip]))).path if args.train else args.clip
    video = load_protocol({"name": "cpu", "height": 256, "width": 384, "max_frames": args.frames,
                           "resize_mode": "crop"}).read(str(path))
    src = np.asarray(video.frames)
    enc = {k: encode_at_point(video, args.point, overrides=v) for k, v in VARIANTS.items()}
    rec = {k: np.asarray(decode_video(e.data, "warp").frames) for k, e in enc.items()}
    repeated = enc["repeats"].stats["repeated_frames"]
    if not repeated:
        raise SystemExit(f"error: {args.clip} has no repeated frame at the default threshold")
    t = middle_repeat(repeated, enc["repeats"].stats["segments"])
    shown = [t - 1, t, t + 1]
    rows = [np.concatenate([src[f], *(rec[k][f] for k in VARIANTS)], 1) for f in shown]
    with atomic_output(args.output, overwrite=True) as tmp:
        Image.fromarray(np.concatenate(rows, 0)).save(tmp, quality=90)

    def change(x: np.ndarray, f: int) -> float:
        return float(np.abs(x[f].astype(np.float64) - x[f - 1]).mean())

    out = {"clip": args.clip, "point": args.point, "frames_shown": shown, "columns": ["source", *VARIANTS],
           "repeated_frames": repeated, "machine": machine(),
           "streams": {k: {"bits": int(e.stats["bits_total"]), "bpp": e.stats["bpp"], "segments": e.stats["segments"]}
                       for k, e in enc.items()},
           "per_frame": {str(f): {"source_change": change(src, f),
                                  **{k: {"psnr": psnr(src[f], rec[k][f]), "change": change(rec[k], f)}
                                     for k in VARIANTS}} for f in shown}}
    atomic_write_text(args.output.with_suffix(".json"), json.dumps(out, indent=1) + "\n", overwrite=True)
    print(json.dumps(out["per_frame"], indent=1))
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
