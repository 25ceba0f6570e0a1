"""How close ``--target-bpp`` lands in the fast and the RD mode (issue 18: within ±10 % in both).

For every clip (cpu protocol: 384x256, first ``--frames`` frames) and target, encodes with rate
control in both modes and records the achieved rate, the relative error, the number of trial
encodes and the wall time; writes one JSON with the machine.

    PYTHONPATH=. python benchmarks/bench_rd_target.py CLIP... --targets 0.005 0.01 0.02 \\
        -o benchmarks/results/rd_target_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from actdiff.codec.ratecontrol import encode_to_target
from actdiff.config import compose
from actdiff.data import load_protocol
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs

MODES = {"fast": [], "rd": ["codec.mode=rd"]}


def measure(video, mode: str, target: float) -> dict:
    t0 = time.perf_counter()
    res = encode_to_target(video, compose(None, MODES[mode]), target)
    rc = res.stats["rate_control"]
    return {"mode": mode, "target_bpp": target, "achieved_bpp": rc["achieved_bpp"], "error": rc["error"],
            "within_tolerance": rc["within_tolerance"], "encodes": rc["iterations"],
            "wall_seconds": time.perf_counter() - t0, "loadavg": list(os.getloadavg())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--targets", nargs="+", type=float, default=[0.005, 0.01, 0.02])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args()
    refuse_outputs(ap, [args.output], args.overwrite)
    protocol = load_protocol("cpu")
    rows = []
    for clip in args.clips:
        video = protocol.read(Path(clip))
        video.frames = video.frames[: args.frames]
        for target in args.targets:
            for mode in MODES:
                row = {"clip": Path(clip).name, **measure(video, mode, target)}
                rows.append(row)
                print(f"{row['clip']} {mode} target {target:g}: {row['achieved_bpp']:.5f} bpp "
                      f"({100 * row['error']:+.1f} %), {row['encodes']} encodes, {row['wall_seconds']:.0f} s",
                      flush=True)
    doc = {"machine": machine(), "frames": args.frames, "rows": rows,
           "all_within_10_percent": {m: all(r["within_tolerance"] for r in rows if r["mode"] == m) for m in MODES}}
    atomic_write_text(args.output, json.dumps(doc, indent=1) + "\n", overwrite=True)
    print(json.dumps(doc["all_within_10_percent"]))


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
