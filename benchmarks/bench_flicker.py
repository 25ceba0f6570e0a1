"""Temporal flicker vs perceptual quality of the diffusion decoder's settings, on the same bitstreams.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_flicker.py CLIP [CLIP ...] [--frames 48]
        [--variants "temporal_blend=0" "temporal_blend=0.8" ...] [-o out.json]

Each clip is read with the cpu protocol (384x256, first ``--frames`` frames) and encoded ONCE
with the default codec. That bitstream is decoded by the warp decoder and by the diffusion
decoder (default shipped weights) under each variant (``key=value`` pairs separated by commas:
``strength``, ``noise_mode``, ``temporal_blend``, ``steps``, ``sampler``; an empty string = the
weights' defaults). Prints PSNR, NIQE, warping error (``actdiff.metrics.temporal``), its ratio to
the warp decoder's (target of the diffusion decoder: at most 1.5), decode frames/s, and the
machine.
"""

from __future__ import annotations

import argparse
import json
import time

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.data import load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics
from actdiff.types import Video

DEFAULT_VARIANTS = (
    "temporal_blend=0",
    "temporal_blend=0,noise_mode=per_frame",
    "temporal_blend=0,noise_mode=warped",
    "temporal_blend=0,strength=0.6",
    "temporal_blend=0.6",
    "",
    "noise_mode=warped",
)
FLOATS = ("strength", "temporal_blend")
METRICS = ["psnr", "niqe", "warping_error"]


def parse_variant(text: str) -> dict:
    """``"a=1,b=x"`` → ``{"a": 1.0, "b": "x"}`` (``steps`` int, ``strength``/``temporal_blend`` float)."""
    out: dict = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        out[key] = float(value) if key in FLOATS else int(value) if key == "steps" else value
    return out


def run_clip(path: str, frames: int, variants: list[str]) -> list[dict]:
    full = load_protocol("cpu").read(path)
    video = Video(frames=full.frames[:frames], fps=full.fps, source=path)
    enc = encode_video(video, compose(None, []))
    rows = []
    for label, name, kw in [("warp", "warp", {})] + [(v or "weights' defaults", "diffusion", parse_variant(v))
                                                     for v in variants]:
        dec = build_decoder(name, **kw)
        t0 = time.perf_counter()
        rec = decode_video(enc.data, dec)
        seconds = time.perf_counter() - t0
        m = compute_metrics(video.frames, rec.frames, METRICS)
        settings = dec.settings() if hasattr(dec, "settings") else {"name": name}
        rows.append({"clip": path.split("/")[-1], "variant": label, "settings": settings, "bpp": enc.stats["bpp"],
                     "decode_fps": video.num_frames / seconds, **m})
        print(f"  {rows[-1]['clip']} {label}: {m}", flush=True)
    warp = rows[0]["warping_error"]
    for r in rows:
        r["flicker_ratio"] = r["warping_error"] / warp
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS))
    p.add_argument("-o", "--output")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args()
    refuse_outputs(p, [args.output], args.overwrite)
    rows = [r for c in args.clips for r in run_clip(c, args.frames, args.variants)]
    print("\n| clip | decoder | bpp | PSNR | NIQE | warping error | × warp | decode fps |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        dec = "warp" if r["variant"] == "warp" else f"diffusion {r['variant']}"
        print(f"| {r['clip']} | {dec} | {r['bpp']:.4f} | {r['psnr']:.2f} | {r['niqe']:.2f} | "
              f"{r['warping_error']:.4f} | {r['flicker_ratio']:.2f} | {r['decode_fps']:.2f} |")
    mach = machine()
    print(f"\nmachine: {mach}")
    if args.output:
        doc = {"machine": mach, "frames": args.frames, "rows": rows}
        atomic_write_text(args.output, json.dumps(doc, indent=2), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
