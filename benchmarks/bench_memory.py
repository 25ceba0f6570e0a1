"""Peak memory and time of ``actdiff encode`` by clip length and size, flows in memory or in a file.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_memory.py [CLIP] --size 1920x1080 \\
        --frames 16 32 96 --variant "" --variant codec.tracker.flow_memory_gb=0 -o out.json

Each run is one ``actdiff encode`` in its own process (``os.wait4`` gives that process's peak
resident memory), on CLIP at ``--size`` (resize), its first N frames; without CLIP a synthetic
texture moving 3 px/frame (``--frames`` max frames) is written to a temporary ``.y4m``. A
``--variant`` is a space-separated list of overrides ("" = the defaults). The table gives peak
resident memory (GB; it counts the resident pages of a memory-mapped file too), peak anonymous
memory (``RssAnon`` sampled every 0.1 s: what a machine without swap must hold), encode seconds,
bpp and the stream's SHA-256 (a variant that only moves data between memory and disk must give
the same stream). Prints the machine; writes JSON with ``-o``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from actdiff.errors import InputError
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import check_input_file, refuse_outputs


def synthetic_clip(path: Path, frames: int, width: int, height: int) -> None:
    """A smooth random texture translating by (3, 1) px/frame, written as 4:2:0 ``.y4m``."""
    import cv2

    from actdiff.io import write_video

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.random((height + frames + 8, width + 3 * frames + 8, 3)).astype(np.float32), (0, 0), 3)
    big = (big - big.min()) / (big.max() - big.min()) * 255
    clip = np.stack([big[t:t + height, 3 * t:3 * t + width] for t in range(frames)]).astype(np.uint8)
    write_video(path, clip, fps=25, y4m_chroma="420")


def rss_anon(pid: int) -> int:
    """Bytes of anonymous resident memory of ``pid`` now (``RssAnon``: what cannot be paged out
    without swap, unlike the pages of a memory-mapped file); 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def encode_run(clip: str, frames: int, size: str, overrides: list[str], out: Path) -> dict:
    """One ``actdiff encode`` in a child process: its peak memory, seconds and stream."""
    cmd = [sys.executable, "-m", "actdiff", "encode", clip, "-o", str(out), "--frames", str(frames), "--size", size,
           "--resize-mode", "resize", "--overwrite", "-q", *overrides]
    log = out.with_suffix(".log")
    t0 = time.perf_counter()
    anon = 0
    with open(log, "w") as errf:  # a file, not a pipe: a full pipe would block the child
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            anon = max(anon, rss_anon(proc.pid))
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    err = log.read_text()
    if proc.returncode != 0:
        raise InputError(f"encode failed ({' '.join(overrides) or 'defaults'}, {frames} frames): "
                         f"{(err.strip().splitlines() or ['?'])[-1]}")
    data = out.read_bytes()
    w, h = (int(v) for v in size.split("x"))
    return {"frames": frames, "size": size, "overrides": overrides, "peak_gb": usage.ru_maxrss * 1024 / 1e9,
            "peak_anon_gb": anon / 1e9,
            "seconds": seconds, "bytes": len(data), "bpp": 8 * len(data) / (frames * w * h),
            "sha256": hashlib.sha256(data).hexdigest(), "warnings": [ln for ln in err.splitlines() if "WARNING" in ln]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip", nargs="?", help="video to encode (default: a synthetic moving texture)")
    p.add_argument("--size", default="1920x1080", help="WxH the clip is resized to (default 1920x1080)")
    p.add_argument("--frames", type=int, nargs="+", default=[16, 32], help="clip lengths to encode")
    p.add_argument("--variant", action="append", default=None, metavar="OVERRIDES",
                   help='space-separated overrides of one run per length ("": defaults; repeatable)')
    p.add_argument("-o", "--output")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args()
    refuse_outputs(p, [args.output], args.overwrite)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size must be WxH, got {args.size!r}")
    if min(args.frames) < 2 or w < 32 or h < 32:
        p.error("--frames must be at least 2 and --size at least 32x32")
    if args.clip:
        check_input_file(args.clip)
    variants = [v.split() for v in (args.variant or [""])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip
        if clip is None:
            clip = str(Path(tmp) / "texture.y4m")
            synthetic_clip(Path(clip), max(args.frames), w, h)
        for frames in args.frames:
            for ovs in variants:
                rows.append(encode_run(clip, frames, f"{w}x{h}", ovs, Path(tmp) / "out.adv"))
                r = rows[-1]
                print(f"| {frames} | {' '.join(ovs) or 'defaults'} | {r['peak_gb']:.2f} | {r['peak_anon_gb']:.2f} | "
                      f"{r['seconds']:.0f} | {r['bpp']:.4f} | {r['sha256'][:8]} |", flush=True)
    mach = machine()
    print("\n(columns: frames | variant | peak resident GB | peak anonymous GB (sampled every 0.1 s) | encode s | "
          f"bpp | stream sha256)\nmachine: {mach}")
    if args.output:
        clip = args.clip or "synthetic texture, 3 px/frame"
        doc = {"machine": mach, "clip": clip, "size": f"{w}x{h}", "rows": rows}
        atomic_write_text(args.output, json.dumps(doc, indent=2) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
