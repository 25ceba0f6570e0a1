"""Frames and metrics of one unseen clip: warp decoder, the default diffusion decoder, and texture once
per keyframe (``residual_from: keyframes``), to LOOK at (nothing is chosen on it).

Encodes the first 96 frames of CLIP (cpu protocol) at rate point POINT with the default codec, decodes
the stream three ways and scores PSNR, coarse PSNR, MS-SSIM, VMAF NEG, tOF, warping error and NIQE;
``--sheet`` writes the middle frame of the two longest segments, or the frames ``--show T ...``
(columns: source, warp, default, keyframes). ``--decode LABEL=JSON`` (repeatable) replaces the three
decodes by others: JSON holds
:func:`actdiff.codec.decode_video`'s decoder options, e.g. ``'sprites={"decoder": "warp",
"prediction_params": {"sprites": true}}'``.

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/keyframe_texture_frames.py data/opencv_samples/vtest.avi \\
        --rate r1 --scale 0.25 -o benchmarks/results/keyframe_texture_vtest_r1_cpu.json \\
        --sheet benchmarks/results/keyframe_texture_vtest_r1_cpu.png
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from PIL import Image

from actdiff.codec import decode_video
from actdiff.data import load_protocol
from actdiff.evaluation.rates import encode_at_point
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics
from actdiff.types import Video

METRICS = ["psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "tof", "warping_error", "niqe"]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("--rate", default="r1", help="rate point of configs/rates/default.yaml")
    ap.add_argument("--scale", type=float, default=0.25, help="residual_scale of the keyframes decode")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--sheet", default=None, help="PNG of the two longest segments' middle frames")
    ap.add_argument("--show", type=int, nargs="+", default=None, metavar="T",
                    help="the frames of the sheet instead (display indices)")
    ap.add_argument("--decode", action="append", default=None, metavar="LABEL=JSON",
                    help="a decode of the stream (decode_video's options); repeat; default: warp, default, keyframes")
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = ap.parse_args(argv)
    decodes = parse_decodes(ap, args.decode) if args.decode else {
        "warp": dict(decoder="warp"), "default": dict(decoder="diffusion"),
        f"keyframes {args.scale:g}": dict(decoder="diffusion", residual_from="keyframes", residual_scale=args.scale)}
    refuse_outputs(ap, [args.output, args.sheet], args.overwrite)
    full = load_protocol("cpu").read(args.clip)
    video = Video(frames=full.frames[:96], fps=full.fps, source=args.clip)
    if args.show and not all(0 <= t < video.num_frames for t in args.show):
        ap.error(f"--show {args.show}: the clip's frames are 0..{video.num_frames - 1}")
    res = encode_at_point(video, args.rate)
    src = np.asarray(video.frames)
    frames, rows = {}, {}
    for label, opts in decodes.items():
        frames[label] = np.asarray(decode_video(res.data, trusted=True, **opts).frames)
        rows[label] = {k: float(v) for k, v in compute_metrics(src, frames[label], METRICS).items()}
        print(label, " ".join(f"{k}={v:.5f}" for k, v in rows[label].items()), flush=True)
    segs = res.stats["segments"]
    shown = args.show or [(a + b) // 2 for a, b in sorted(segs, key=lambda s: s[1] - s[0], reverse=True)[:2]]
    if args.sheet:
        sheet = np.concatenate([np.concatenate([src[t]] + [frames[k][t] for k in decodes], 1) for t in shown], 0)
        Image.fromarray(sheet).save(args.sheet)
    out = {"clip": args.clip, "rate": args.rate, "decodes": decodes, "bpp": res.stats["bpp"], "segments": segs,
           "sheet_frames": shown, "metrics": rows, "machine": machine()}
    atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)
    print(f"segments {segs}; sheet frames {shown}")
    return out


def parse_decodes(ap: argparse.ArgumentParser, specs: list[str]) -> dict:
    """``LABEL=JSON`` strings → ``{label: decode_video options}``; a malformed one is a usage error."""
    out = {}
    for spec in specs:
        label, sep, text = spec.partition("=")
        try:
            opts = json.loads(text) if sep and label else None
        except json.JSONDecodeError:
            opts = None
        if not isinstance(opts, dict):
            ap.error(f"--decode {spec!r}: expected LABEL=JSON with a JSON object")
        out[label] = opts
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
