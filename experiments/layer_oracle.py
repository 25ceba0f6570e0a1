"""Would a coded motion layer help? The warp decoder with an oracle mask of what moves, per keyframe.

The interpolation of the decoded trajectories (edge-aware, ``actdiff/motion/edge_field.py``) drags
background along with a small moving object and holds part of the object back
(``experiments/interp_halo.py``: no placement of the points gives both). A per-pixel choice of which
trajectories a pixel follows is what is missing. This script measures what such a choice would give
BEFORE any bit of it is designed: the encoder, which has the source, marks on each keyframe's grid
the pixels that move against the scene's global motion during the segment; the decoder then draws
each keyframe's field twice, from the trajectories that start inside the mask and from those outside
it, and every keyframe pixel follows its own layer's field (``layered_displacement``, variant
``layered``), or only the unmarked pixels are split off and the marked ones keep the shipped field
(variant ``background``: the halo removed, nothing else).

The mask (:func:`motion_mask`): the source's dense DIS motion of the keyframe's pixels to every frame
of the segment (chained pairwise flows, :func:`actdiff.tracking.base.iter_chain`), its robust affine
fit per frame (the camera), and a pixel is marked where its motion deviates from the fit by more than
``--threshold`` px at any frame where it is still tracked (confidence ≥ 0.5), on textured pixels only
(:func:`texture`: elsewhere DIS guesses); the mark is then quantised to ``--block``-px blocks (a
block is marked when ``--fill`` of its textured pixels are; flat blocks between marked ones are
closed over), so that it
could be coded at the price the JSON estimates (``mask_bits``: each block's binary entropy at the
clip's fraction of marked blocks, a rough bound for a context-free coder). The decoder never sees the
source: the mask is what an encoder would send, not coded yet. TRAINING-corpus files only (never the
clips results are reported on), fast mode, cpu protocol; whole-clip metrics of both decodes on the
same stream.

    ACTDIFF_TRAIN_CLIPS=... OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python experiments/layer_oracle.py \\
        --clips mmaction_makeup intel_asl_signing intel_bottles udacity_highway davis_dogs_jump --frames 48 \\
        -o benchmarks/results/layer_oracle_train_cpu.json

Results: docs/video_interface.md, "A motion layer sent by the encoder?".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, Iterator, Tuple

import cv2
import numpy as np

import actdiff.motion.fusion as fusion
import actdiff.motion.keyflow as keyflow
from actdiff.codec import decode_video
from actdiff.codec.decoder import decode_segments
from actdiff.evaluation.rates import training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics
from actdiff.motion.edge_field import EdgeParams, guided_fields, segment_displacement
from actdiff.motion.interpolate import eval_trend, robust_trend
from actdiff.tracking.base import iter_chain
from actdiff.tracking.dis import DISTracker
from actdiff.types import DecodedSegment

METRICS = ("psnr", "psnr_lowres", "ms_ssim", "tof", "warping_error")
#: ``(segment start, ref) → bool (H, W)`` mask on keyframe ``ref``'s grid, read by :func:`layered_displacement`.
MASKS: Dict[Tuple[int, int], np.ndarray] = {}
#: The decodes compared: ``layered`` (both layers split), ``background`` (only the unmarked pixels
#: split off: they follow the unmarked trajectories, the marked ones the shipped field of all).
VARIANTS = ("layered", "background")
#: The variant :func:`layered_displacement` draws (set by :func:`main`).
VARIANT = ["layered"]


def affine_residual(flow: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """``|flow − A(x, y)|`` px, ``float32 (H, W)``: the deviation of a displacement field ``(H, W, 2)``
    from its robust affine fit (:func:`actdiff.motion.interpolate.robust_trend`, the decoders' own
    Tukey-biweight trend, on the confident pixels of a 4-px grid)."""
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h:4, 0:w:4]
    keep = conf[gy, gx] >= 0.5
    if keep.sum() < 6:
        return np.zeros((h, w), np.float32)
    pts = np.stack([gx[keep], gy[keep]], -1).astype(np.float64)
    coef = robust_trend(pts, flow[gy, gx][keep].astype(np.float64), np.ones(len(pts)), h, w)
    return np.linalg.norm(flow - eval_trend(coef, h, w), axis=-1).astype(np.float32)


def motion_mask(src: np.ndarray, fw: np.ndarray, bw: np.ndarray, key: int, other: int, threshold: float,
                block: int, fill: float) -> np.ndarray:
    """``bool (H, W)``: the pixels of source frame ``key`` that move against the fitted camera
    motion by more than ``threshold`` px on the way to frame ``other`` (either side of ``key``),
    quantised to ``block``-px blocks (module docstring). ``src``: the clip ``uint8 (T, H, W, 3)``,
    ``fw``/``bw``: its pairwise flows."""
    if other < key:  # chain backwards: the flows of the reversed clip
        fw, bw = bw[other:key][::-1], fw[other:key][::-1]
        start, end = 0, key - other
    else:
        start, end = key, other
    h, w = fw.shape[1:3]
    moving = np.zeros((h, w), bool)
    for _, flow, conf in iter_chain(np.ascontiguousarray(fw), np.ascontiguousarray(bw), start, end, 1.5):
        moving |= (affine_residual(flow, conf) > threshold) & (conf >= 0.5)
    textured = texture(cv2.cvtColor(src[key], cv2.COLOR_RGB2GRAY))
    hb, wb = -(-h // block), -(-w // block)

    def blocks(a: np.ndarray) -> np.ndarray:
        pad = np.zeros((hb * block, wb * block), np.float32)
        pad[:h, :w] = a
        return pad.reshape(hb, block, wb, block).sum((1, 3))

    tex = blocks(textured)
    marked = (blocks(moving & textured) >= fill * np.maximum(tex, 1)) & (tex >= block)
    # blocks without texture between marked ones (an object's flat inside) are closed over
    marked = cv2.morphologyEx(marked.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    return np.kron(marked, np.ones((block, block), bool))[:h, :w]


def texture(gray: np.ndarray, floor: float = 2.0) -> np.ndarray:
    """``bool (H, W)``: pixels whose 5x5 structure tensor's smaller eigenvalue exceeds ``floor``
    (grey levels², per pixel): where DIS flow is measured rather than guessed from the surroundings."""
    return cv2.cornerMinEigenVal(gray.astype(np.float32), 5, 3) > floor


def layered_displacement(seg: DecodedSegment, t: int, ref: int, bandwidth: float, params: EdgeParams) -> np.ndarray:
    """:func:`segment_displacement` with keyframe ``ref``'s pixels split by its mask in
    :data:`MASKS`: marked pixels follow the field of the trajectories starting on marked pixels,
    the others the field of the rest (no mask, or no trajectory on it: the shipped field)."""
    mask = MASKS.get((seg.segment.start, ref))
    if mask is None or t == ref:
        return segment_displacement(seg, t, ref, bandwidth, params)
    tr = seg.tracks
    ok = tr.visible[t] & tr.visible[ref]
    start, move = tr.positions[ref][ok], tr.positions[t][ok] - tr.positions[ref][ok]
    h, w = mask.shape
    col = np.clip(np.rint(start[:, 0]), 0, w - 1).astype(int)
    row = np.clip(np.rint(start[:, 1]), 0, h - 1).astype(int)
    inside = mask[row, col]
    if not inside.any() or inside.all():
        return segment_displacement(seg, t, ref, bandwidth, params)
    guide = seg.key_start if ref == 0 else seg.key_end
    if VARIANT[0] == "background":
        bg = guided_fields(guide, [(start[~inside], move[~inside])], bandwidth, params)[0]
        fg = segment_displacement(seg, t, ref, bandwidth, params)
    else:
        bg, fg = guided_fields(guide, [(start[~inside], move[~inside]), (start[inside], move[inside])], bandwidth,
                               params)
    return np.where(mask[..., None], fg, bg).astype(np.float32)


def oracle_masks(src: np.ndarray, segs: list, fw: np.ndarray, bw: np.ndarray, args) -> dict:
    """Fill :data:`MASKS` for every segment of the stream; returns the marked share and bit estimate."""
    MASKS.clear()
    shares = []
    for seg in segs:
        s0, last = seg.segment.start, seg.segment.length - 1
        if last < 2:
            continue
        for ref, key, other in ((0, s0, s0 + last), (last, s0 + last, s0)):
            MASKS[(s0, ref)] = motion_mask(src, fw, bw, key, other, args.threshold, args.block, args.fill)
            shares.append(float(MASKS[(s0, ref)].mean()))
    p = float(np.clip(np.mean(shares) if shares else 0.0, 1e-6, 1 - 1e-6))
    blocks = -(-src.shape[1] // args.block) * -(-src.shape[2] // args.block)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return {"masks": len(shares), "marked_share": p, "mask_bits": float(entropy * blocks * len(shares))}


def add_mask_args(ap: argparse.ArgumentParser) -> None:
    """The streams' and :func:`motion_mask`'s options (shared with ``experiments/sprite_oracle.py``)."""
    ap.add_argument("--clips", nargs="+", required=True, help="names of training-corpus files")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--threshold", type=float, default=2.0, help="px of motion against the camera's fit")
    ap.add_argument("--block", type=int, default=8, help="mask block size, px")
    ap.add_argument("--fill", type=float, default=0.25, help="share of a block's pixels that marks it")


def streams_with_flows(args: argparse.Namespace) -> Iterator[tuple]:
    """``(clip, source uint8 (T, H, W, 3), point, EncodeResult, fw, bw)`` of every stream of ``args``
    (:func:`add_mask_args`), the source's pairwise DIS flows computed once per clip."""
    flows: dict = {}
    for name, src, point, res in training_streams(args.clips, args.rates, args.frames):
        if name not in flows:
            flows = {name: DISTracker("medium").pairwise_flows(src)}
        yield (name, src, point, res, *flows[name])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_mask_args(ap)
    ap.add_argument("--frames-dir", type=Path, default=None,
                    help="write source | shipped | each variant | mask of the middle frame of the longest segment")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    cv2.setNumThreads(1)
    out = {"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine(), "rows": []}
    for name, src, point, res, fw, bw in streams_with_flows(args):
        fusion.segment_displacement = keyflow.segment_displacement = segment_displacement
        shipped = np.asarray(decode_video(res.data, "warp").frames)
        segs = decode_segments(res.data, trusted=True)[1]
        info = oracle_masks(src, segs, fw, bw, args)
        decoded = {}
        fusion.segment_displacement = keyflow.segment_displacement = layered_displacement
        for variant in VARIANTS:
            VARIANT[0] = variant
            decoded[variant] = np.asarray(decode_video(res.data, "warp").frames)
        fusion.segment_displacement = keyflow.segment_displacement = segment_displacement
        row = {"clip": name, "point": point, "bpp": res.stats["bpp"], "bits": res.stats.get("bits_total"), **info,
               "shipped": compute_metrics(src, shipped, METRICS),
               **{v: compute_metrics(src, decoded[v], METRICS) for v in VARIANTS}}
        out["rows"].append(row)
        print(f"{name} {point} {row['bpp']:.4f} bpp, marked {info['marked_share']:.3f} (~{info['mask_bits']:.0f} bits) "
              + " ".join(f"{m} {row['shipped'][m]:.4f}->" + "/".join(f"{row[v][m]:.4f}" for v in VARIANTS)
                         for m in METRICS), flush=True)
        if args.frames_dir is not None:
            write_panel(args.frames_dir / f"layer_oracle_{name}_{point}.jpg", src, shipped, decoded, segs)
        if args.output:
            atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


def write_panel(path: Path, src: np.ndarray, shipped: np.ndarray, decoded: dict, segs: list) -> None:
    """Source | shipped | each variant | start keyframe's mask (red) at the middle of the longest segment."""
    seg = max(segs, key=lambda s: s.segment.length)
    t = seg.segment.start + seg.segment.length // 2
    mask = MASKS.get((seg.segment.start, 0), np.zeros(src.shape[1:3], bool))
    over = src[seg.segment.start].copy()
    over[mask] = (0.5 * over[mask] + [127, 0, 0]).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    panel = np.concatenate([src[t], shipped[t], *(decoded[v][t] for v in VARIANTS), over], 1)
    cv2.imwrite(str(path), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
