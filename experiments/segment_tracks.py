"""What each segment of a stream carries: trajectories, how many move, and the interpolation bandwidth.

Usage::

    PYTHONPATH=. python experiments/segment_tracks.py STREAM.adv
    PYTHONPATH=. python experiments/segment_tracks.py CLIP --lambda 8 [--max-frames 96] [-o seg.json]

With a clip, it is first encoded in the RD mode at ``--lambda`` (the ``cpu`` protocol: 256x384 crop,
first ``--max-frames`` frames), as ``experiments/rd_frames.py`` does. Per segment: its frames, the
number of trajectories, the bandwidth (pixels) of their interpolation, how many move more than 1 px
and more than 10 px from the first frame to the last, and the largest such displacement. With the
normalised convolution's zero-motion prior (``actdiff.motion.interpolate.NC_PRIOR``), an isolated
point's motion fills a disc of about ``sqrt(2 ln(1 / NC_PRIOR))`` bandwidths: printed too.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from actdiff.codec import encode_video
from actdiff.codec.decoder import decode_segments
from actdiff.config import compose
from actdiff.data import load_protocol
from actdiff.io.files import atomic_write_bytes, refuse_outputs
from actdiff.motion.interpolate import NC_PRIOR


def segment_rows(data: bytes) -> list[dict]:
    """One row per segment of the stream ``data`` (see the module docstring)."""
    _, segments = decode_segments(data)
    disc = math.sqrt(2 * math.log(1 / NC_PRIOR))
    rows = []
    for s in segments:
        p = s.tracks.positions
        moved = np.linalg.norm(p[-1] - p[0], axis=1) if p.shape[1] else np.zeros(0)
        rows.append({"frames": [s.segment.start, s.segment.end], "trajectories": int(p.shape[1]),
                     "bandwidth_px": round(float(s.bandwidth), 2), "moving_over_1px": int((moved > 1).sum()),
                     "moving_over_10px": int((moved > 10).sum()),
                     "largest_move_px": round(float(moved.max()), 1) if len(moved) else 0.0,
                     "isolated_point_disc_radius_px": round(disc * float(s.bandwidth), 1)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="a stream (.adv) or a clip to encode in the RD mode")
    ap.add_argument("--lambda", dest="lam", type=float, default=8.0, help="λ when SOURCE is a clip")
    ap.add_argument("--max-frames", type=int, default=96)
    ap.add_argument("-o", "--output", default=None, help="also write the rows as JSON")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    src = Path(args.source)
    if not src.is_file():
        raise SystemExit(f"error: {src} is not a file")
    if src.suffix == ".adv":
        data, what = src.read_bytes(), str(src)
    else:
        video = load_protocol({"name": "cpu", "height": 256, "width": 384, "max_frames": args.max_frames,
                               "resize_mode": "crop"}).read(str(src))
        enc = encode_video(video, compose(None, ["codec.mode=rd", f"codec.rd.lambda={args.lam}",
                                                 "codec.repeat_psnr=null"]))  # segments index the source's frames
        data, what = enc.data, f"{src} RD λ={args.lam:g}, {enc.stats['bpp']:.4f} bpp"
    rows = segment_rows(data)
    print(what)
    for r in rows:
        print("  " + ", ".join(f"{k} {v}" for k, v in r.items()))
    if args.output:
        doc = json.dumps({"source": what, "segments": rows}, indent=1) + "\n"
        atomic_write_bytes(args.output, doc.encode(), overwrite=True)
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
