"""Rate control at the cpu protocol: does ``actdiff encode --target-bpp B`` land within ±10 %?

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ratecontrol.py [CLIP ...] \
        [--targets 0.002 0.01 0.05] [-o out.json]

Default clips: bikes.mp4 and carphone_pristine.mp4 from /work/shared/data/clips (else the
bundled sample). Each (clip, target) runs the real CLI::

    actdiff encode CLIP -o OUT.adv --stats OUT.json --size 384x256 --resize-mode crop \
        --frames 96 --target-bpp B --overwrite

(the cpu protocol: 384x256 (WxH) centre crop, first 96 frames) and reads the achieved bpp from the
file size. The stream is then decoded with the warp decoder and compared with the same protocol's
source frames: PSNR and NIQE over all frames, and PSNR over the keyframes alone (what keyframe
downscaling, ``kf scale`` > 1, costs). Prints a Markdown table (clip, target, achieved bpp, within
±10 %, chosen keyframe quality / trajectory budget / max GOP / keyframe scale, keyframes, trial
encodes, seconds, quality).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from actdiff.io.files import atomic_write_bytes, refuse_outputs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"  # ../shared beside the repo
PROTOCOL_ARGS = ["--size", "384x256", "--resize-mode", "crop", "--frames", "96"]


def default_clips() -> list[str]:
    clips = [SHARED / "bikes.mp4", SHARED / "carphone_pristine.mp4"]
    if all(c.is_file() for c in clips):
        return [str(c) for c in clips]
    from actdiff.data import sample_clip_path

    return [str(sample_clip_path())]


def quality(clip: str, stream: Path, keyframes: list[int]) -> dict:
    """PSNR/NIQE of the warp-decoded ``stream`` against the cpu-protocol source, and keyframe PSNR."""
    import numpy as np

    from actdiff.codec import decode_video
    from actdiff.data import load_protocol
    from actdiff.decoders import build_decoder
    from actdiff.metrics import compute_metrics

    src = load_protocol("cpu").read(clip).frames
    rec = decode_video(stream.read_bytes(), build_decoder("warp")).frames
    m = compute_metrics(src, rec, ["psnr", "niqe"])
    kf = np.asarray(keyframes, dtype=int)
    m["keyframe_psnr"] = compute_metrics(src[kf], rec[kf], ["psnr"])["psnr"]
    return m


def run_one(clip: str, target: float, workdir: Path) -> dict:
    """One ``actdiff encode --target-bpp`` run; returns the row of the table."""
    out, stats = workdir / "out.adv", workdir / "out.json"
    cmd = [sys.executable, "-m", "actdiff.cli", "encode", clip, "-o", str(out), "--stats", str(stats),
           *PROTOCOL_ARGS, "--target-bpp", str(target), "--overwrite"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"encode failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    st = json.loads(stats.read_text())
    rc, p = st["rate_control"], st["rate_control"]["params"]
    bpp = 8 * out.stat().st_size / (st["frames"] * st["height"] * st["width"])
    return {"clip": Path(clip).name, "target": target, "bpp": bpp, "within": abs(bpp / target - 1) <= 0.1,
            "reachable": rc["reachable"], "quality": p["quality"], "budget": p["budget_points"],
            "gop": p["max_gop"], "strictness": p.get("strictness", 1.0), "scale": p.get("scale", 1.0),
            "keyframes": len(st["keyframes"]), "encodes": rc["iterations"], "seconds": seconds,
            "command": " ".join(cmd[1:]), **quality(clip, out, st["keyframes"])}


def table(rows: list[dict]) -> str:
    head = ("| clip | target bpp | achieved bpp | within ±10 % | reachable | quality | budget | max GOP "
            "| strictness | kf scale | keyframes | encodes | s | PSNR | NIQE | keyframe PSNR |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['target']:g} | {r['bpp']:.5f} | {'yes' if r['within'] else 'NO'} "
                     f"| {r['reachable']} | {r['quality']} | {r['budget']} | {r['gop']} | {r['strictness']:g} "
                     f"| {r['scale']:g} | {r['keyframes']} | {r['encodes']} | {r['seconds']:.0f} "
                     f"| {r['psnr']:.2f} | {r['niqe']:.2f} | {r['keyframe_psnr']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", help="video files (default: bikes + carphone)")
    ap.add_argument("--targets", nargs="+", type=float, default=[0.002, 0.01, 0.05])
    ap.add_argument("-o", "--output", help="write the rows as JSON")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips or default_clips():
            for target in args.targets:
                rows.append(run_one(clip, target, Path(tmp)))
                print(f"{rows[-1]['clip']} {target:g}: {rows[-1]['bpp']:.5f} bpp", file=sys.stderr, flush=True)
    print(f"command per row: actdiff encode CLIP -o OUT.adv --stats OUT.json {' '.join(PROTOCOL_ARGS)} "
          "--target-bpp B --overwrite  (OMP_NUM_THREADS=1)")
    print(table(rows))
    if args.output:
        atomic_write_bytes(args.output, json.dumps(rows, indent=2).encode(), overwrite=True)
    return 0 if all(r["within"] for r in rows) else 1


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
