"""Where does a codec override change the decoded frames? A looking tool: it chooses nothing.

One clip, one fast-mode rate point (cpu protocol: 256x384 crop, first ``--frames`` frames), encoded
with the evaluated default config and again with ``--set`` overrides, both decoded by ``--decoder``
(default warp). Prints each stream's bpp and keyframes, the per-frame mean absolute error against
the source (grey levels, RGB) of both, how many frames the override makes better / worse by more
than ``--margin``, and writes a sheet (source | without | with) of the frame it helps most, or with
``--worst`` of the frame it hurts most.

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/override_frames.py data/opencv_samples/cup.mp4 --rate r0 \\
        --set "codec.trajectories.compare_fractions=null" --sheet cup_r0.jpg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from actdiff.codec import decode_video
from actdiff.evaluation.rates import encode_at_point, load_rates
from actdiff.evaluation.results import atomic_write_text
from actdiff.io import read_video
from actdiff.io.files import atomic_output, refuse_outputs


def frame_errors(src: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Mean absolute error per frame ``float64 (T,)`` of ``uint8 (T, H, W, 3)`` frames."""
    return np.abs(rec.astype(np.float64) - src.astype(np.float64)).mean(axis=(1, 2, 3))


def sheet(path: Path, frames: list[np.ndarray], labels: list[str]) -> None:
    """The frames side by side, each labelled."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(np.concatenate(frames, 1))
    draw = ImageDraw.Draw(im)
    width = frames[0].shape[1]
    for i, text in enumerate(labels):
        draw.text((i * width + 4, 4), text, fill=(255, 255, 0))
    with atomic_output(path, overwrite=True) as tmp:  # main refused an existing one without --overwrite
        im.save(tmp, quality=90)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip", help="a video file")
    ap.add_argument("--rate", default="r1")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--set", nargs="+", required=True, metavar="KEY=VALUE", help="config overrides (codec.…)")
    ap.add_argument("--decoder", default="warp")
    ap.add_argument("--margin", type=float, default=0.5, help="grey levels a frame must move by to count")
    ap.add_argument("--sheet", default=None, help="image to write (source | without | with)")
    ap.add_argument("--worst", action="store_true", help="sheet of the frame the override hurts most")
    ap.add_argument("-o", "--output", default=None, help="JSON of the streams' per-frame errors")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output, args.sheet], args.overwrite)
    if not Path(args.clip).is_file():
        raise SystemExit(f"{args.clip}: no such video file")
    video = read_video(args.clip, max_frames=args.frames, size=(256, 384), resize_mode="crop")
    rates = load_rates(names=[args.rate])
    out: dict = {"args": vars(args), "streams": {}}
    recs = {}
    for name, overrides in (("without", []), ("with", list(args.set))):
        enc = encode_at_point(video, args.rate, rates, overrides)
        recs[name] = decode_video(enc.data, args.decoder).frames
        errs = frame_errors(video.frames, recs[name])
        out["streams"][name] = {"bpp": float(enc.stats["bpp"]), "keyframes": enc.stats["keyframes"],
                                "frame_error": errs.tolist()}
        print(f"{name}: {enc.stats['bpp']:.5f} bpp, keyframes {enc.stats['keyframes']}, mean error {errs.mean():.3f}")
    gain = np.array(out["streams"]["without"]["frame_error"]) - np.array(out["streams"]["with"]["frame_error"])
    out["better"], out["worse"] = int((gain > args.margin).sum()), int((gain < -args.margin).sum())
    t = int(np.argmin(gain) if args.worst else np.argmax(gain))
    out["sheet_frame"] = t
    before, after = out["streams"]["without"]["frame_error"][t], out["streams"]["with"]["frame_error"][t]
    print(f"frames better / worse by more than {args.margin} grey levels: {out['better']} / {out['worse']}; "
          f"frame {t}: {before:.2f} -> {after:.2f}")
    if args.sheet:
        sheet(Path(args.sheet), [video.frames[t], recs["without"][t], recs["with"][t]],
              [f"source, frame {t}", "without", "with " + " ".join(args.set)])
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main, sys.argv[1:])
