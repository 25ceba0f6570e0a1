"""Rate control at the cpu protocol: does ``actdiff encode --target-bpp B`` land within ±10 %?

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ratecontrol.py [CLIP ...] \
        [--targets 0.002 0.01 0.05] [-o out.json]

Default clips: bikes.mp4 and carphone_pristine.mp4 from /work/shared/data/clips (else the
bundled sample). Each (clip, target) runs the real CLI::

    actdiff encode CLIP -o OUT.adv --stats OUT.json --size 256x384 --resize-mode crop \
        --frames 96 --target-bpp B --overwrite

(the cpu protocol: 256x384 centre crop, first 96 frames) and reads the achieved bpp from the
file size. Prints a Markdown table (clip, target, achieved bpp, within ±10 %, chosen keyframe
quality / trajectory budget / max GOP / keyframe scale, keyframes, trial encodes, seconds).
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

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"  # ../shared beside the repo
PROTOCOL_ARGS = ["--size", "256x384", "--resize-mode", "crop", "--frames", "96"]


def default_clips() -> list[str]:
    clips = [SHARED / "bikes.mp4", SHARED / "carphone_pristine.mp4"]
    if all(c.is_file() for c in clips):
        return [str(c) for c in clips]
    from actdiff.data import sample_clip_path

    return [str(sample_clip_path())]


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
            "command": " ".join(cmd[1:])}


def table(rows: list[dict]) -> str:
    head = ("| clip | target bpp | achieved bpp | within ±10 % | reachable | quality | budget | max GOP "
            "| strictness | kf scale | keyframes | encodes | s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['target']:g} | {r['bpp']:.5f} | {'yes' if r['within'] else 'NO'} "
                     f"| {r['reachable']} | {r['quality']} | {r['budget']} | {r['gop']} | {r['strictness']:g} "
                     f"| {r['scale']:g} | {r['keyframes']} | {r['encodes']} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", help="video files (default: bikes + carphone)")
    ap.add_argument("--targets", nargs="+", type=float, default=[0.002, 0.01, 0.05])
    ap.add_argument("-o", "--output", help="write the rows as JSON")
    args = ap.parse_args(argv)
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
        Path(args.output).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["within"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
