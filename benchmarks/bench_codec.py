"""Codec targets at the cpu protocol: encoder speed, trajectory bits, bpp, warp-decoder quality.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_codec.py [CLIP ...] [--set KEY=VALUE ...] [-o out.json]

Default clip: the bundled sample (48 frames). Each clip is read with the cpu protocol (384x256
crop, first 96 frames), encoded with the default codec config (plus ``--set`` overrides, e.g.
``codec.trajectories.decoded_choice=true``), decoded with the warp decoder.
Prints a Markdown table and the machine; writes JSON when ``-o`` is given.
"""

from __future__ import annotations

import argparse
import json
import time

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.data import load_protocol, sample_clip_path
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics


def bench_clip(path: str, cfg) -> dict:
    video = load_protocol("cpu").read(path)
    encode_video(video, cfg)  # warm-up (imports, OpenCV threads)
    enc = encode_video(video, cfg)
    t0 = time.perf_counter()
    rec = decode_video(enc.data, "warp")
    dec_s = time.perf_counter() - t0
    m = compute_metrics(video.frames, rec.frames, ["psnr", "ms_ssim", "niqe", "warping_error"])
    s = enc.stats
    return {
        "clip": path, "frames": s["frames"], "size": f"{s['width']}x{s['height']}", "bpp": s["bpp"],
        "bits": s["bits"], "keyframes": s["keyframes"], "trajectories": s["trajectories"],
        "bits_per_point_per_frame": s["bits_per_point_per_frame"],
        "encode_fps": s["frames"] / s["encode_seconds"], "decode_fps": s["frames"] / dec_s,
        "metrics": m,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("-o", "--output")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args()
    refuse_outputs(p, [args.output], args.overwrite)
    cfg = compose(None, list(args.set))
    rows = [bench_clip(c, cfg) for c in (args.clips or [str(sample_clip_path())])]
    print("| clip | frames | bpp | keyframes | traj. bits/point/frame | encode fps | warp decode fps "
          "| PSNR | MS-SSIM | NIQE | warping error |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        m = r["metrics"]
        bppf = r["bits_per_point_per_frame"]
        print(f"| {r['clip'].split('/')[-1]} | {r['frames']} | {r['bpp']:.4f} | {len(r['keyframes'])} | "
              f"{bppf:.2f} | {r['encode_fps']:.1f} | {r['decode_fps']:.1f} | {m['psnr']:.2f} | "
              f"{m['ms_ssim']:.3f} | {m['niqe']:.2f} | {m['warping_error']:.4f} |")
    mach = machine()
    print(f"\nmachine: {mach}")
    if args.output:
        doc = {"machine": mach, "overrides": list(args.set), "rows": rows}
        atomic_write_text(args.output, json.dumps(doc, indent=2), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
