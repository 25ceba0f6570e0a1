"""One clip at one rate point, encoded and decoded by this checkout: the stream's and frames' hashes
and the metrics beside NIQE, so two checkouts can be compared bit for bit (did a change move decoding?),
plus a sheet of mid-segment frames (source | each decoder) to look at.

    OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/decode_check.py data/opencv_samples/vtest.avi --rate r1 \\
        -o benchmarks/results/decode_check_vtest_r1_cpu.json --sheet benchmarks/results/decode_check_vtest_r1_cpu.png

The clip is read under the ``cpu`` protocol (256x384 crop, first ``--frames`` frames).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from actdiff.codec import decode_segments, decode_video
from actdiff.evaluation.rates import encode_at_point
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import atomic_output, refuse_outputs
from actdiff.metrics import compute_metrics

METRICS = ["psnr", "ms_ssim", "psnr_lowres", "vmaf_neg", "warping_error", "tof", "niqe"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("--rate", default="r1")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--decoders", nargs="+", default=["warp", "diffusion"])
    ap.add_argument("--metrics", nargs="+", default=METRICS)
    ap.add_argument("--sheet", default=None, help="PNG: the middle frame of every segment of 3+ frames, one row each")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output, args.sheet], args.overwrite)
    if not Path(args.clip).is_file():
        raise SystemExit(f"{args.clip}: no such video file")
    video = read_video(args.clip, max_frames=args.frames, size=(256, 384), resize_mode="crop")
    enc = encode_at_point(video, args.rate)
    _, segs = decode_segments(enc.data, trusted=True)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent).stdout.strip()
    out: dict = {"clip": Path(args.clip).name, "rate": args.rate, "rev": rev, "machine": machine(),
                 "bitstream_sha": _sha(enc.data), "bpp": float(enc.stats["bpp"]),
                 "segments": [[s.segment.start, s.segment.end] for s in segs], "decoders": {}}
    recs = {}
    for name in args.decoders:
        t0 = time.perf_counter()
        recs[name] = decode_video(enc.data, name).frames
        seconds = time.perf_counter() - t0
        m = compute_metrics(video.frames, recs[name], args.metrics)
        out["decoders"][name] = {**{k: float(v) for k, v in m.items()}, "frames_sha": _sha(recs[name].tobytes()),
                                 "decode_seconds": seconds}
        print(f"{name}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items())
              + f" frames {out['decoders'][name]['frames_sha']}", flush=True)
    mids = [(s.segment.start + s.segment.end) // 2 for s in segs if s.segment.length >= 3]
    out["sheet_frames"] = mids
    if args.sheet and mids:
        rows = [np.concatenate([video.frames[t]] + [recs[n][t] for n in args.decoders], 1) for t in mids]
        with atomic_output(args.sheet, overwrite=True) as tmp:
            Image.fromarray(np.concatenate(rows, 0)).save(tmp)
    atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main, sys.argv[1:])
