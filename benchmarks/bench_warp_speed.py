"""Seconds per frame of the default encoder and of the warp decoder, with hashes of what they made.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_warp_speed.py [CLIP ...] [--size WxH] \\
        [--frames 48] [--repeats 2] [--label REV] -o out.json

Each CLIP (default: a synthetic texture moving 3 px/frame, ``bench_memory.synthetic_clip``) is
read at ``--size`` (its own size when not given), its first ``--frames`` frames encoded once
with the default codec (timed) and decoded ``--repeats`` times with the warp decoder
(``decode_video``; the fastest run counts). Printed and written per clip: encode s/frame, decode
s/frame, the SHA-256 of the stream and of the decoded frames (a change meant to be only faster
must leave both as they were), the machine and its load average. To compare two revisions, run
this script with ``PYTHONPATH`` set to each revision's checkout, one after the other on an idle
machine (``--label`` names the row).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_memory import synthetic_clip  # noqa: E402

from actdiff.codec import decode_video, encode_video  # noqa: E402
from actdiff.commands.common import parse_size, script_entry  # noqa: E402
from actdiff.config import compose  # noqa: E402
from actdiff.evaluation.results import atomic_write_text, machine, versions  # noqa: E402
from actdiff.io import read_video  # noqa: E402
from actdiff.io.files import check_input_file, refuse_outputs  # noqa: E402


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bench_clip(path: str, size: tuple[int, int] | None, frames: int, repeats: int) -> dict:
    """One clip's row (``size``: ``(W, H)`` or its own): encode and best-of-``repeats`` warp decode,
    seconds per frame and hashes."""
    video = read_video(path, max_frames=frames, size=None if size is None else (size[1], size[0]))
    cfg = compose("experiment/codec")
    t = time.perf_counter()
    enc = encode_video(video, cfg)
    encode_s = time.perf_counter() - t
    best, decoded = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        decoded = decode_video(enc.data)
        best = min(best, time.perf_counter() - t)
    n = int(decoded.frames.shape[0])
    h, w = decoded.frames.shape[1:3]
    return {"clip": path, "size": f"{w}x{h}", "frames": n, "bpp": enc.stats["bpp"],
            "encode_s_per_frame": encode_s / n, "decode_s_per_frame": best / n, "decode_repeats": repeats,
            "stream_sha256": _sha(enc.data), "frames_sha256": _sha(np.ascontiguousarray(decoded.frames).tobytes())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", help="videos (default: a synthetic texture at --size, 1920x1080 if not given)")
    ap.add_argument("--size", help="WxH to read the clips at (default: their own size)")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--label", default="", help="a name for these rows (e.g. the revision measured)")
    ap.add_argument("-o", "--output", help="results JSON")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    for clip in args.clips:
        check_input_file(clip)
    size = parse_size(args.size) if args.size else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = list(args.clips)
        if not clips:
            w, h = size or (1920, 1080)
            clips = [str(Path(tmp) / f"synthetic_{w}x{h}.y4m")]
            synthetic_clip(Path(clips[0]), args.frames, w, h)
        for clip in clips:
            row = {"label": args.label, **bench_clip(clip, size, args.frames, args.repeats)}
            row["clip"] = "synthetic texture, 3 px/frame" if not args.clips else clip
            rows.append(row)
            print(f"{row['label']} {row['clip']} {row['size']} x{row['frames']}: encode "
                  f"{row['encode_s_per_frame']:.3f} s/frame, warp decode {row['decode_s_per_frame']:.3f} s/frame, "
                  f"stream {row['stream_sha256'][:8]}, frames {row['frames_sha256'][:8]}", flush=True)
    mach = {**machine(), "load_average_1min": os.getloadavg()[0]}
    print(f"machine: {mach}")
    if args.output:
        atomic_write_text(Path(args.output), json.dumps({"machine": mach, "versions": versions(), "rows": rows},
                                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    script_entry(main)
