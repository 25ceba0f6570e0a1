"""Encoding speed of the fast and RD modes at 256x384 (cpu protocol), wall-clock and CPU time.

On a shared machine the wall-clock rate depends on what else runs; the process CPU time (one
thread: ``OMP_NUM_THREADS=1``, OpenCV single-threaded) is what the encoder itself costs, so both
are reported with the load average, and the machine's speed at fixed single-threaded work before
and after the run (``calibration``: AVIF and DIS on a synthetic frame pair) to compare days. RD
mode at the λ points of ``configs/rates/rd.yaml``, each from a fresh search (no cache shared
between points), flows included. ``--threads N`` sets the
OpenCV and torch threads and the RD search's worker threads (``codec.rd.threads``) alike.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_rd_speed.py CLIP... -o benchmarks/results/rd_speed_cpu.json
    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_rd_speed.py --threads 2 CLIP... -o ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from actdiff.codec import encode_video
from actdiff.config import compose
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.evaluation.results import atomic_write_text
from actdiff.image_codecs import codec_from_params
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs

ROOT = Path(__file__).resolve().parent.parent


def timed(video, overrides: list[str], threads: int) -> dict:
    cfg = compose(None, [*overrides, f"codec.rd.threads={threads}"])
    w0, c0 = time.perf_counter(), time.process_time()
    res = encode_video(video, cfg)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    n = video.num_frames
    return {"bpp": res.stats["bpp"], "keyframes": len(res.stats["keyframes"]), "wall_seconds": wall,
            "detail_mix_seconds": res.stats.get("detail_mix_seconds"),
            "cpu_seconds": cpu, "fps_wall": n / wall, "fps_cpu": n / cpu, "loadavg": list(os.getloadavg())}


def calibration(repeats: int = 10) -> dict:
    """Seconds of fixed single-threaded work on this machine, to compare runs across machines
    and days (the same code's speed varied 2-3x between sessions of one shared machine): AVIF
    speed-6 encodes and DIS flows of a fixed synthetic 256x384 frame pair."""
    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.uniform(0, 255, (256, 384, 3)).astype(np.float32), (0, 0), 2).astype(np.uint8)
    b = np.roll(a, (2, 3), (0, 1))
    codec = codec_from_params({"name": "avif", "quality": 50, "speed": 6})
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    n = cv2.getNumThreads()
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    for _ in range(repeats):
        codec.encode(a)
    t1 = time.perf_counter()
    for _ in range(repeats):
        dis.calc(ga, gb, None)
    t2 = time.perf_counter()
    cv2.setNumThreads(n)
    return {"repeats": repeats, "avif_speed6_seconds": t1 - t0, "dis_medium_seconds": t2 - t1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1,
                    help="OpenCV, torch and RD search threads (1: the encoder's own cost; 2: what 2 idle cores give)")
    ap.add_argument("--points", nargs="+", default=None, metavar="NAME",
                    help="only these points (fast and the names of configs/rates/rd.yaml, e.g. fast rd3 rd6)")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides of every encode, e.g. codec.rd.decoder=... (recorded)")
    args = ap.parse_args()
    refuse_outputs(ap, [args.output], args.overwrite)
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    runs = {"fast": []} | {name: codec_overrides(ovs) for name, ovs in
                           load_rates(ROOT / "configs/rates/rd.yaml").items()}
    if args.points:
        unknown = sorted(set(args.points) - set(runs))
        if unknown:
            ap.error(f"unknown points {unknown}; known: {sorted(runs)}")
        runs = {k: v for k, v in runs.items() if k in args.points}
    calib = calibration()
    print("calibration:", {k: round(v, 3) for k, v in calib.items()}, flush=True)
    rows = []
    for clip in args.clips:
        video = read_video(clip, max_frames=args.frames, size=(256, 384), resize_mode="crop")
        for name, ovs in runs.items():
            row = {"clip": Path(clip).name, "frames": video.num_frames, "point": name,
                   **timed(video, [*args.set, *ovs], args.threads)}
            rows.append(row)
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    if args.output:
        machine = {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
                   "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "threads": args.threads,
                   "overrides": args.set, "points": args.points, "calibration": calib,
                   "calibration_after": calibration()}
        atomic_write_text(args.output, json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
