"""Peak memory and time of ``actdiff encode`` (and ``decode``) by clip length and size, flows in memory or a file.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_memory.py [CLIP] --size 1920x1080 \\
        --frames 16 32 96 --variant "" --variant codec.tracker.flow_memory_gb=0 -o out.json

Each run is one ``actdiff encode`` in its own process (``os.wait4`` gives that process's peak
resident memory), on CLIP at ``--size`` (resize), its first N frames; without CLIP a synthetic
texture moving 3 px/frame (``--frames`` max frames) is written to a temporary ``.y4m``.
``--decode warp diffusion`` also runs ``actdiff decode`` of each stream of the first variant;
``--evaluate`` also runs ``actdiff evaluate`` (rate point r1, warp decoder, PSNR, the clip at its own
size: the synthetic one at ``--size``) for each length with the defaults. A
``--variant`` is a space-separated list of overrides ("" = the defaults). The table gives peak
resident memory (GB; it counts the resident pages of a memory-mapped file too), peak anonymous
memory (``RssAnon`` sampled every 0.1 s: what a machine without swap must hold), seconds,
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


def measure(cmd: list[str], log: Path) -> tuple[float, float, float, str]:
    """Run ``cmd`` (stdout discarded, stderr to ``log``): ``(seconds, peak resident GB, peak
    anonymous GB, stderr)``; an ``InputError`` with its last line when it fails."""
    anon = 0
    t0 = time.perf_counter()
    with open(log, "w") as errf:  # a file, not a pipe: a full pipe would block the child
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            anon = max(anon, rss_anon(proc.pid))
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds, err = time.perf_counter() - t0, log.read_text()
    if proc.returncode != 0:
        raise InputError(f"{' '.join(cmd[3:5])} failed: {(err.strip().splitlines() or ['?'])[-1]}")
    return seconds, usage.ru_maxrss * 1024 / 1e9, anon / 1e9, err


def encode_run(clip: str, frames: int, size: str, overrides: list[str], out: Path) -> dict:
    """One ``actdiff encode`` in a child process: its peak memory, seconds and stream."""
    cmd = [sys.executable, "-m", "actdiff", "encode", clip, "-o", str(out), "--frames", str(frames), "--size", size,
           "--resize-mode", "resize", "--overwrite", "-q", *overrides]
    seconds, peak, anon, err = measure(cmd, out.with_suffix(".log"))
    data = out.read_bytes()
    w, h = (int(v) for v in size.split("x"))
    return {"command": "encode", "frames": frames, "size": size, "overrides": overrides, "peak_gb": peak,
            "peak_anon_gb": anon, "seconds": seconds, "bytes": len(data), "bpp": 8 * len(data) / (frames * w * h),
            "sha256": hashlib.sha256(data).hexdigest(), "warnings": [ln for ln in err.splitlines() if "WARNING" in ln]}


def decode_run(stream: Path, decoder: str, encoded: dict) -> dict:
    """One ``actdiff decode`` of ``stream`` to ``.y4m`` with ``decoder`` in a child process."""
    out = stream.with_name(f"decoded_{decoder}.y4m")
    cmd = [sys.executable, "-m", "actdiff", "decode", str(stream), "-o", str(out), "--decoder", decoder,
           "--overwrite", "-q"]
    seconds, peak, anon, _ = measure(cmd, out.with_suffix(".log"))
    out.unlink()
    return {**{k: encoded[k] for k in ("frames", "size", "overrides", "bpp", "sha256")}, "command": f"decode {decoder}",
            "peak_gb": peak, "peak_anon_gb": anon, "seconds": seconds}


def evaluate_run(clip: str, frames: int, size: str, out: Path) -> dict:
    """One ``actdiff evaluate`` of ``clip`` at its own size (``native`` protocol), rate point r1, warp
    decoder, PSNR, in a child process: its peak memory, seconds, bpp and PSNR."""
    cmd = [sys.executable, "-m", "actdiff", "evaluate", "--data", clip, "--protocol", "native", "--rates", "r1",
           "--metrics", "psnr", "--frames", str(frames), "-o", str(out), "--overwrite", "-q"]
    seconds, peak, anon, _ = measure(cmd, out.with_suffix(".log"))
    point = next(iter(json.loads(out.read_text())["sequences"].values()))[0]
    return {"command": "evaluate r1", "frames": frames, "size": size, "overrides": [], "peak_gb": peak,
            "peak_anon_gb": anon, "seconds": seconds, "bpp": point["bpp"], "psnr": point["metrics"]["psnr"]}


def show(r: dict) -> None:
    print(f"| {r['command']} | {r['frames']} | {' '.join(r['overrides']) or 'defaults'} | {r['peak_gb']:.2f} | "
          f"{r['peak_anon_gb']:.2f} | {r['seconds']:.0f} | {r['bpp']:.4f} | "
          f"{r['sha256'][:8] if 'sha256' in r else 'PSNR %.2f dB' % r['psnr']} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip", nargs="?", help="video to encode (default: a synthetic moving texture)")
    p.add_argument("--size", default="1920x1080", help="WxH the clip is resized to (default 1920x1080)")
    p.add_argument("--frames", type=int, nargs="+", default=[16, 32], help="clip lengths to encode")
    p.add_argument("--variant", action="append", default=None, metavar="OVERRIDES",
                   help='space-separated overrides of one run per length ("": defaults; repeatable)')
    p.add_argument("--decode", nargs="+", default=[], metavar="DECODER",
                   help="also decode each stream of the first variant with these decoders (warp, diffusion)")
    p.add_argument("--evaluate", action="store_true",
                   help="also run actdiff evaluate (r1, warp decoder, PSNR) on the clip at its own size per length")
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
    rows: list[dict] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip
        if clip is None:
            clip = str(Path(tmp) / "texture.y4m")
            synthetic_clip(Path(clip), max(args.frames), w, h)
        for frames in args.frames:
            for ovs in variants:
                stream = Path(tmp) / "out.adv"
                try:
                    encoded = encode_run(clip, frames, f"{w}x{h}", ovs, stream)
                except InputError as e:  # recorded; the other runs go on
                    failed.append(str(e))
                    continue
                rows.append(encoded)
                show(encoded)
                for name in args.decode if ovs == variants[0] else []:
                    try:
                        rows.append(decode_run(stream, name, encoded))
                        show(rows[-1])
                    except InputError as e:
                        failed.append(str(e))
            if args.evaluate:
                try:
                    rows.append(evaluate_run(clip, frames, f"{w}x{h}", Path(tmp) / "evaluate.json"))
                    show(rows[-1])
                except InputError as e:
                    failed.append(str(e))
    mach = machine()
    print("\n(columns: command | frames | variant | peak resident GB | peak anonymous GB (sampled every 0.1 s) | "
          f"seconds | bpp | stream sha256, or evaluate's PSNR)\nmachine: {mach}")
    if args.output:
        clip = args.clip or "synthetic texture, 3 px/frame"
        doc = {"machine": mach, "clip": clip, "size": f"{w}x{h}", "rows": rows, "failed": failed}
        atomic_write_text(args.output, json.dumps(doc, indent=2) + "\n", overwrite=True)
    if failed:
        raise InputError(f"{len(failed)} run(s) failed (the others are written): {failed[0]}")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
