"""``actdiff info FILE.adv``: describe an encoded file (header, segments, bit split)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from actdiff.codec.bitstream import bit_split, read_bitstream
from actdiff.commands.common import ArgumentParser, add_stream_args, cli_entry
from actdiff.errors import InputError


@cli_entry
def main(argv: Sequence[str]) -> int:
    p = ArgumentParser(prog="actdiff info", description=__doc__)
    p.add_argument("input", help="an .adv file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_stream_args(p)
    args = p.parse_args(argv)
    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    data = path.read_bytes()
    bs = read_bitstream(data)
    from actdiff.codec.decoder import decode_segments
    decode_segments(data, max_pixels=args.max_pixels, weights_dirs=args.keyframe_weights)  # fails where decode fails
    h = bs.header
    info = {
        "file": str(path), "bytes": len(data), "frames": h.num_frames, "width": h.width, "height": h.height,
        "coded_width": h.coded_width, "coded_height": h.coded_height, "fps": h.fps, "seed": h.seed,
        "params": h.params, "bits": bit_split(data),
        "bpp": 8 * len(data) / (h.num_frames * h.width * h.height),
        "segments": [
            {"start": s.segment.start, "end": s.segment.end, "keyframe_bytes": [len(k) for k in s.keyframes],
             "trajectory_bytes": len(s.trajectories), "bandwidth": s.bandwidth}
            for s in bs.sections
        ],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{path}: {len(data)} bytes, {info['bpp']:.5f} bpp, {h.num_frames} frames {h.width}x{h.height} "
          f"(coded {h.coded_width}x{h.coded_height}) @ {h.fps:g} fps, seed {h.seed}")
    print(f"params: {h.params}")
    print(f"bits: {info['bits']}")
    for i, s in enumerate(info["segments"]):
        print(f"  segment {i}: frames {s['start']}-{s['end']}, keyframes {s['keyframe_bytes']} B, "
              f"trajectories {s['trajectory_bytes']} B, bandwidth {s['bandwidth']:.1f} px")
    return 0
