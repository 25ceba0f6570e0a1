"""Which regions the sprite search (``FusionParams.sprites``) weighs in each segment, and why each is
kept or dropped: a looking tool, it chooses nothing.

Encodes the first ``--frames`` frames of CLIP (cpu protocol) at a rate point of
``configs/rates/default.yaml`` with the default codec and runs :func:`actdiff.motion.sprites.segment_sprites`
on every decoded segment with the warp decoder's default motion (keyflow on). Per segment: how many
regions are an object in the start keyframe, and for each its area, the shift found and the outcome
(``sprite`` or the first test it failed, :func:`actdiff.motion.sprites.find_sprites`). ``--sheets DIR``
writes a PNG per segment: both keyframes, the sprites' masks tinted red.

    OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/sprite_candidates.py CLIP --rate r1 -o OUT.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from actdiff.codec import decode_segments
from actdiff.data import load_protocol
from actdiff.evaluation.rates import encode_at_point
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.motion.fusion import FusionParams
from actdiff.motion.keyflow import KeyflowParams
from actdiff.motion.sprites import Sprite, SpriteParams, segment_sprites
from actdiff.types import Video


def tinted(key: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """``key`` ``uint8 (H, W, 3)`` with every mask (``(H, W)`` in [0, 1]) tinted red."""
    out = key.astype(np.float32)
    for m in masks:
        out = out * (1 - 0.5 * m[..., None]) + np.array([255.0, 0, 0]) * 0.5 * m[..., None]
    return out.clip(0, 255).astype(np.uint8)


def segment_rows(data: bytes, sheets: Path | None = None) -> list[dict]:
    """One row per segment of the stream ``data``: its frames, the regions weighed and the sprites."""
    fusion = FusionParams()
    _, segments = decode_segments(data, trusted=True)[:2]
    rows = []
    for seg in segments:
        trace: list[dict] = []
        found: list[Sprite] = segment_sprites(seg, float(seg.bandwidth), SpriteParams(), KeyflowParams(),
                                              fusion.edge(), trace)
        rows.append({"start": seg.segment.start, "end": seg.segment.end, "sprites": len(found),
                     "outcomes": dict(Counter(r["outcome"] for r in trace)), "regions": trace})
        if sheets is not None and seg.segment.length >= 3:
            pair = [tinted(seg.key_start, [s.mask0 for s in found]), tinted(seg.key_end, [s.mask1 for s in found])]
            Image.fromarray(np.concatenate(pair, 1)).save(sheets / f"segment_{seg.segment.start:04d}.png")
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("--rate", default="r1", help="rate point of configs/rates/default.yaml")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--sheets", default=None, help="a new folder for one PNG per segment")
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output, args.sheets], args.overwrite)
    full = load_protocol("cpu").read(args.clip)
    res = encode_at_point(Video(frames=full.frames[:args.frames], fps=full.fps, source=args.clip), args.rate)
    sheets = Path(args.sheets) if args.sheets else None
    if sheets is not None:
        sheets.mkdir(parents=True, exist_ok=True)
    rows = segment_rows(res.data, sheets)
    total = Counter()
    for r in rows:
        total.update(r["outcomes"])
        print(f"segment {r['start']}-{r['end']}: {r['sprites']} sprites; {r['outcomes']}")
    out = {"clip": args.clip, "rate": args.rate, "bpp": res.stats["bpp"], "outcomes": dict(total),
           "segments": rows, "machine": machine()}
    atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)
    print(f"all segments: {dict(total)}")
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
