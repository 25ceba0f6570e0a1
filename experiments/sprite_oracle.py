"""Would moving objects sent by the encoder help? The warp decoder with oracle sprites from the source.

The decoder alone cannot pair a small moving object between the two keyframes (``sprites``,
docs/video_interface.md, "Small moving objects found by the decoder"): its regions of disagreement
are blobs, not outlines. The encoder has the source and could send each object instead: a mask on
the start keyframe's grid and its path through the segment. This script measures what that would
give at best BEFORE any bit of it is designed, on TRAINING-corpus files only (fast mode, cpu
protocol, never the clips results are reported on):

1. per segment, the pixels of the start keyframe that move against the camera's robust affine fit
   (``experiments/layer_oracle.py``'s :func:`motion_mask`: the source's chained DIS motion, textured
   pixels, ``--block``-px blocks) are split into connected objects of ``--min-area`` px up to
   ``--max-share`` of the frame;
2. an object's path ``p_t`` (px, ``t = 0 … L-1``) is the median chained motion of its confident
   pixels to frame ``t``, each step then moved to where the object's start-frame pixels best match
   frame ``t`` (masked SSD within ±4 px: the chain drifts); an object whose chain holds on less
   than ``--keep`` of its pixels at the segment's end (it left, or was hidden) is dropped;
3. the warp decoder draws frame ``t`` as shipped, then fills where its warps show each object
   (each keyframe's object mask carried along the decoder's own maps) with the other warp, and
   draws the object once: the start keyframe's pixels under the mask moved by ``p_t`` and the end
   keyframe's moved by ``p_t − p_{L-1}``, cross-faded by ``τ = t/(L-1)`` (rigid translation, the
   model a coded object would have).

The sprites are free here; the JSON estimates what coding them would cost (``object_bits``: per
object a box of 4 × 9 bits, one bit per block inside the box, and 2 × 6 bits per second frame of
the path) against the stream's own bits.

    ACTDIFF_TRAIN_CLIPS=... OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python experiments/sprite_oracle.py \\
        --clips mmaction_makeup intel_asl_signing intel_bottles udacity_highway davis_dogs_jump --frames 48 \\
        -o benchmarks/results/sprite_oracle_train_cpu.json --frames-dir experiments/results_prediction/frames

Results: docs/video_interface.md, "Objects sent by the encoder? An oracle".
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List

import cv2
import numpy as np

import actdiff.motion.fusion as fusion
from actdiff.codec import decode_video
from actdiff.codec.decoder import decode_segments
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics
from actdiff.motion.sprites import fill_background, translate
from actdiff.tracking.base import iter_chain

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layer_oracle import add_mask_args, motion_mask, streams_with_flows, texture  # noqa: E402  (the moving-pixel mask of a keyframe)

METRICS = ("psnr", "psnr_lowres", "ms_ssim", "tof", "warping_error")


@dataclass
class OracleSprite:
    """One object: ``mask0`` ``float32 (H, W)`` in [0, 1] on the start keyframe's grid, ``path``
    ``float32 (L, 2)`` px ``(x, y)`` from the source, the keyframes ``uint8 (H, W, 3)``; ``mask1`` is
    ``mask0`` moved to the path's end, ``hole0``/``hole1`` both grown by 2 px (the background filled in)."""

    mask0: np.ndarray
    path: np.ndarray
    key0: np.ndarray
    key1: np.ndarray
    mask1: np.ndarray = field(init=False)
    hole0: np.ndarray = field(init=False)
    hole1: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.mask1 = translate(self.mask0, self.path[-1])
        grow = np.ones((5, 5), np.uint8)
        self.hole0, self.hole1 = cv2.dilate(self.mask0, grow), cv2.dilate(self.mask1, grow)


#: ``segment start → its sprites``, read by :func:`oracle_sprites`.
SPRITES: Dict[int, List[OracleSprite]] = {}


def find_objects(src: np.ndarray, fw: np.ndarray, bw: np.ndarray, s0: int, last: int, args) -> List[dict]:
    """Step 1–2 of the module docstring for the segment ``s0 … s0+last``: ``[{mask, path}]``."""
    h, w = src.shape[1:3]
    moving = motion_mask(src, fw, bw, s0, s0 + last, args.threshold, args.block, args.fill)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(moving.astype(np.uint8), connectivity=8)
    objects = [i for i in range(1, count)
               if args.min_area <= stats[i, cv2.CC_STAT_AREA] <= args.max_share * h * w]
    if not objects:
        return []
    textured = texture(cv2.cvtColor(src[s0], cv2.COLOR_RGB2GRAY))
    paths = {i: [] for i in objects}
    alive = {i: 1.0 for i in objects}
    for _, flow, conf in iter_chain(np.ascontiguousarray(fw), np.ascontiguousarray(bw), s0, s0 + last, 1.5):
        for i in objects:
            inside = (labels == i) & textured
            ok = inside & (conf >= 0.5)
            alive[i] = ok.sum() / max(inside.sum(), 1)
            paths[i].append(np.median(flow[ok], 0) if ok.any() else np.full(2, np.nan, np.float32))
    out = []
    for i in objects:
        path = np.asarray(paths[i], np.float32)
        if alive[i] >= args.keep and np.isfinite(path).all():
            out.append({"mask": labels == i, "path": refine_path(src[s0:s0 + last + 1], labels == i, path)})
    return out


def refine_path(frames: np.ndarray, mask: np.ndarray, path: np.ndarray, radius: int = 4) -> np.ndarray:
    """``path`` ``float32 (L, 2)`` px with each step moved to where the start frame's pixels under
    ``mask`` (bool ``(H, W)``) best match frame ``t`` (masked SSD, whole pixels within ``±radius``
    of the chained estimate): the chain drifts by a few px over a segment."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    tmpl, tmask = grey[0][y0:y1, x0:x1], mask[y0:y1, x0:x1].astype(np.float32)
    h, w = grey[0].shape
    out = path.copy()
    for t in range(1, len(frames)):
        cx, cy = (int(round(v)) for v in path[t])
        wx0, wy0 = x0 + cx - radius, y0 + cy - radius
        wx1, wy1 = x1 + cx + radius, y1 + cy + radius
        if wx0 < 0 or wy0 < 0 or wx1 > w or wy1 > h:
            continue  # near the border: keep the chain's estimate
        res = cv2.matchTemplate(grey[t][wy0:wy1, wx0:wx1], tmpl, cv2.TM_SQDIFF, mask=tmask)
        by, bx = np.unravel_index(int(res.argmin()), res.shape)
        out[t] = (cx - radius + bx, cy - radius + by)
    return out


def object_bits(mask: np.ndarray, length: int, block: int) -> int:
    """The rough coded size (bits) of one object (module docstring)."""
    ys, xs = np.nonzero(mask)
    blocks = (-(-(ys.max() + 1 - ys.min()) // block)) * (-(-(xs.max() + 1 - xs.min()) // block))
    return 36 + int(blocks) + 12 * ((length + 1) // 2)


def oracle_sprites(seg, *_args) -> List[OracleSprite]:
    """Stands in for :func:`actdiff.motion.sprites.segment_sprites` (the decoder's own finder)."""
    return SPRITES.get(seg.segment.start, [])


def draw_oracle(image: np.ndarray, w0: np.ndarray, w1: np.ndarray, map0: np.ndarray, map1: np.ndarray,
                tau: float, sprites: List[OracleSprite]) -> np.ndarray:
    """Stands in for :func:`actdiff.motion.sprites.draw_sprites` (step 3 of the module docstring)."""
    out = image
    for s in sprites:
        t, end = int(round(tau * (len(s.path) - 1))), s.path[-1]
        out = fill_background(out, w0, w1, map0, map1, s.hole0, s.hole1)
        a0 = (1 - tau) * translate(s.mask0, s.path[t])
        a1 = tau * translate(s.mask1, s.path[t] - end)
        colour = (translate(s.key0.astype(np.float32), s.path[t]) * a0[..., None]
                  + translate(s.key1.astype(np.float32), s.path[t] - end) * a1[..., None])
        alpha = np.clip(a0 + a1, 0, 1)[..., None]
        out = out * (1 - alpha) + colour / np.clip(a0 + a1, 1e-6, None)[..., None] * alpha
    return out.astype(np.float32)


@contextmanager
def oracle_drawing() -> Iterator[None]:
    """While open, the warp decoder with ``prediction_params={"sprites": True}`` draws the sprites
    of :data:`SPRITES` instead of finding its own."""
    saved = fusion.segment_sprites, fusion.draw_sprites
    fusion.segment_sprites, fusion.draw_sprites = oracle_sprites, draw_oracle
    try:
        yield
    finally:
        fusion.segment_sprites, fusion.draw_sprites = saved


def fill_sprites(src: np.ndarray, segs: list, fw: np.ndarray, bw: np.ndarray, args) -> dict:
    """Fill :data:`SPRITES` for every segment; returns counts and the bit estimate."""
    SPRITES.clear()
    count, bits = 0, 0
    for seg in segs:
        s0, last = seg.segment.start, seg.segment.length - 1
        if last < 2:
            continue
        found = find_objects(src, fw, bw, s0, last, args)
        SPRITES[s0] = [OracleSprite(cv2.GaussianBlur(o["mask"].astype(np.float32), (0, 0), 1.0), o["path"],
                                    seg.key_start, seg.key_end) for o in found]
        count += len(found)
        bits += sum(object_bits(o["mask"], last + 1, args.block) for o in found)
    return {"objects": count, "object_bits": bits}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mask_args(ap)
    ap.add_argument("--min-area", type=int, default=128, help="smallest object, px")
    ap.add_argument("--max-share", type=float, default=0.1, help="largest object, share of the frame")
    ap.add_argument("--keep", type=float, default=0.5, help="share of an object's chains that must hold")
    ap.add_argument("--frames-dir", type=Path, default=None,
                    help="write source | shipped | oracle | objects (PNG) of the middle of the longest segment")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    cv2.setNumThreads(1)
    out = {"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine(), "rows": []}
    for name, src, point, res, fw, bw in streams_with_flows(args):
        shipped = np.asarray(decode_video(res.data, "warp").frames)
        segs = decode_segments(res.data, trusted=True)[1]
        info = fill_sprites(src, segs, fw, bw, args)
        with oracle_drawing():
            oracle = np.asarray(decode_video(res.data, "warp", prediction_params={"sprites": True}).frames)
        row = {"clip": name, "point": point, "bpp": res.stats["bpp"], "bits": res.stats.get("bits_total"), **info,
               "shipped": compute_metrics(src, shipped, METRICS), "oracle": compute_metrics(src, oracle, METRICS)}
        out["rows"].append(row)
        print(f"{name} {point} {row['bpp']:.4f} bpp ({row['bits']} bits), {info['objects']} objects "
              f"(~{info['object_bits']} bits) " + " ".join(f"{m} {row['shipped'][m]:.4f}->{row['oracle'][m]:.4f}"
                                                       for m in METRICS), flush=True)
        if args.frames_dir is not None:
            write_panel(args.frames_dir / f"sprite_oracle_{name}_{point}.png", src, shipped, oracle, segs)
        if args.output:
            atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


def write_panel(path: Path, src: np.ndarray, shipped: np.ndarray, oracle: np.ndarray, segs: list) -> None:
    """Source | shipped | oracle | start keyframe with its objects (red) at the middle of the longest segment."""
    seg = max(segs, key=lambda s: s.segment.length)
    t = seg.segment.start + seg.segment.length // 2
    over = src[seg.segment.start].copy()
    for s in SPRITES.get(seg.segment.start, []):
        m = s.mask0 > 0.5
        over[m] = (0.5 * over[m] + [127, 0, 0]).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    panel = np.concatenate([src[t], shipped[t], oracle[t], over], 1)
    cv2.imwrite(str(path), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
