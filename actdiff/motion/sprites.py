"""Small moving objects the stream has no motion for, found between the two decoded keyframes.

At these rates a walker often carries no trajectory: the field says the scene is still, both
keyframes' warps keep the walker where each keyframe shows it, and any blend of the two draws
it twice, half-transparent (docs/video_interface.md, "Do the trajectories land on the moving
objects?"). The decoder holds both keyframes, so it can look for such objects itself (no bits):

1. each keyframe is compared with the other brought onto its grid by the segment's end-to-end
   motion; blurred luma differences above ``kappa`` form regions of disagreement;
2. a region is an *object in this keyframe* when its colour there stands out from the ring
   around it more than the other keyframe's colour does (the other keyframe shows the background
   that continues the ring); a region of the start keyframe that is an object there is searched
   for in the end keyframe (masked template matching, ``±search`` px around where the motion
   puts it); it is a sprite when the match is much better than at the motion's own position, it
   lands on a region that is an object in the end keyframe, and matching that region back lands
   where it came from (``consistency`` px);
3. frame ``t`` (``τ = t / (L-1)``) is the fused prediction with, for each sprite, the background
   filled in from the keyframe that shows it (where the object was, the end keyframe's warp;
   where it will be, the start keyframe's) and the object drawn once, both keyframes' views of
   it moved by the shift not in the motion (``τ·e`` and ``−(1−τ)·e``) and cross-faded.

Everything comes from decoded data and is deterministic; off by default
(``FusionParams.sprites``), measured in docs/video_interface.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from actdiff.motion.edge_field import EdgeParams
from actdiff.motion.keyed_lock import SegmentCache
from actdiff.motion.keyflow import KeyflowParams, cached_corrections, tracks_motions
from actdiff.motion.warp import backward_warp, pixel_grid
from actdiff.types import DecodedSegment


@dataclass(frozen=True)
class SpriteParams:
    """Knobs of :func:`find_sprites` (pixels at the coded size, grey levels in [0, 255]).

    Attributes:
        kappa: blurred luma difference at which the keyframes disagree.
        blur: Gaussian sigma (px) of the luma before differencing.
        min_area: smallest region (px) searched.
        max_area: largest region searched, as a share of the frame.
        search: search radius (px) around where the motion puts a region.
        min_shift: px; a shift beyond the motion smaller than this is left to the fusion.
        max_ratio: the best match's error must be below this share of the error at the motion's
            own position.
        consistency: px by which matching back may miss where the region came from.
        ring: width (px) of the ring around a region whose colour is the background's.
        feather: Gaussian sigma (px) softening the masks' edges.
    """

    kappa: float = 20.0
    blur: float = 1.5
    min_area: int = 40
    max_area: float = 0.03
    search: int = 96
    min_shift: float = 4.0
    max_ratio: float = 0.5
    consistency: float = 3.0
    ring: int = 4
    feather: float = 1.0


class Sprite(NamedTuple):
    """One object: ``mask0``/``mask1`` ``float32 (H, W)`` in [0, 1], where it is on the start /
    end keyframe's grid; ``shift`` ``float32 (2,)`` px ``(x, y)``, its move from the start
    keyframe to the end keyframe beyond the segment's motion; ``hole0``/``hole1``: the masks grown
    by ``feather`` + 1 px, where the background is filled in (no rim of the object left behind)."""

    mask0: np.ndarray
    mask1: np.ndarray
    shift: np.ndarray
    hole0: np.ndarray
    hole1: np.ndarray


def _luma(img: np.ndarray, blur: float) -> np.ndarray:
    y = cv2.cvtColor(np.ascontiguousarray(img, np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(y, (0, 0), blur) if blur > 0 else y


def _objects(key: np.ndarray, other_on_key: np.ndarray, p: SpriteParams) -> Tuple[np.ndarray, List[int]]:
    """Labels ``int32 (H, W)`` of the regions where ``key`` and the other keyframe (on ``key``'s
    grid) disagree, and those that are an object in ``key`` (step 2 of the module docstring)."""
    h, w = key.shape[:2]
    diff = _filled(np.abs(_luma(key, p.blur) - _luma(other_on_key, p.blur)) > p.kappa)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(diff.astype(np.uint8), connectivity=8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * p.ring + 1, 2 * p.ring + 1))
    found = []
    for i in range(1, count):
        if not p.min_area <= stats[i, cv2.CC_STAT_AREA] <= p.max_area * h * w:
            continue
        inside = labels == i
        ring = (cv2.dilate(inside.astype(np.uint8), kernel) > 0) & ~diff
        if ring.sum() < p.ring:
            continue
        background = key[ring].astype(np.float32).mean(0)
        here = np.abs(key[inside].astype(np.float32) - background).mean()
        there = np.abs(other_on_key[inside].astype(np.float32) - background).mean()
        if here > there:
            found.append(i)
    return labels, found


def _filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` (bool ``(H, W)``) with the holes inside its regions filled: where an object's luma
    crosses the background's (a bright band on a dark body) the difference dips below ``kappa``
    and would cut the object in pieces."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(out, contours, -1, 1, thickness=cv2.FILLED)
    return out.astype(bool)


def _match(src: np.ndarray, mask: np.ndarray, dst: np.ndarray, centre: np.ndarray,
           p: SpriteParams) -> Optional[Tuple[np.ndarray, float, float]]:
    """Where the masked patch of grey ``src`` under ``mask`` (bool ``(H, W)``) best fits in grey
    ``dst`` within ``±search`` px of the offset ``centre`` (px): ``(offset, best error, error at
    centre)``, errors per masked pixel; ``None`` when the box does not fit."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    tmpl, tmask = src[y0:y1, x0:x1], mask[y0:y1, x0:x1].astype(np.float32)
    cx, cy = int(round(centre[0])), int(round(centre[1]))
    h, w = dst.shape
    wx0, wy0 = max(0, x0 + cx - p.search), max(0, y0 + cy - p.search)
    wx1, wy1 = min(w, x1 + cx + p.search), min(h, y1 + cy + p.search)
    if wx1 - wx0 < x1 - x0 or wy1 - wy0 < y1 - y0:
        return None
    res = cv2.matchTemplate(dst[wy0:wy1, wx0:wx1], tmpl, cv2.TM_SQDIFF, mask=tmask) / tmask.sum()
    best = float(res.min())
    by, bx = np.unravel_index(int(res.argmin()), res.shape)
    zy, zx = y0 + cy - wy0, x0 + cx - wx0
    at_centre = float(res[zy, zx]) if 0 <= zy < res.shape[0] and 0 <= zx < res.shape[1] else np.inf
    return np.array([wx0 + bx - x0, wy0 + by - y0], np.float32), best, at_centre


def _soft(mask: np.ndarray, feather: float) -> np.ndarray:
    m = mask.astype(np.float32)
    return np.clip(cv2.GaussianBlur(m, (0, 0), feather), 0, 1) if feather > 0 else m


def _sprite(mask0: np.ndarray, mask1: np.ndarray, shift: np.ndarray, feather: float) -> Sprite:
    r = int(np.ceil(feather)) + 1
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    hole0, hole1 = (cv2.dilate(m.astype(np.uint8), grow) > 0 for m in (mask0, mask1))
    return Sprite(_soft(mask0, feather), _soft(mask1, feather), shift.astype(np.float32),
                  _soft(hole0, feather), _soft(hole1, feather))


def find_sprites(key0: np.ndarray, key1: np.ndarray, f01: np.ndarray, f10: np.ndarray,
                 params: SpriteParams | None = None, trace: Optional[List[dict]] = None) -> List[Sprite]:
    """The sprites between RGB keyframes ``key0``, ``key1`` ``uint8 (H, W, 3)`` given the
    segment's end-to-end motion ``f01`` (on ``key0``'s grid, to ``key1``) and ``f10`` (the other
    way), ``float32 (H, W, 2)`` px. ``trace``: gets one entry per region that is an object in the
    start keyframe: its ``area`` (px), the ``shift`` found (px, when one was) and the ``outcome``
    (``sprite`` or the first test it failed: ``no fit``, ``ratio``, ``small``, ``no landing``, ``back``)."""
    p = params or SpriteParams()
    h, w = key0.shape[:2]
    grid = pixel_grid(h, w)
    on0 = np.clip(backward_warp(key1.astype(np.float32), grid + f01), 0, 255).astype(np.uint8)
    on1 = np.clip(backward_warp(key0.astype(np.float32), grid + f10), 0, 255).astype(np.uint8)
    labels0, objects0 = _objects(key0, on0, p)
    labels1, objects1 = _objects(key1, on1, p)
    g0, g1 = _luma(key0, 0), _luma(key1, 0)
    sprites = []
    for i in objects0:
        mask = labels0 == i
        outcome, shift, landed = _test(mask, f01, g0, g1, labels1, objects1, p)
        if trace is not None:
            trace.append({"area": int(mask.sum()), "outcome": outcome,
                          "shift": None if shift is None else [round(float(v), 2) for v in shift]})
        if outcome == "sprite":
            sprites.append(_sprite(mask, labels1 == landed, shift, p.feather))
    return sprites


def _test(mask: np.ndarray, f01: np.ndarray, g0: np.ndarray, g1: np.ndarray, labels1: np.ndarray,
          objects1: List[int], p: SpriteParams) -> Tuple[str, Optional[np.ndarray], Optional[int]]:
    """Step 2's tests of one start-keyframe object ``mask``: ``(outcome, shift, end region)``."""
    ys, xs = np.nonzero(mask)
    motion = f01[int(ys.mean()), int(xs.mean())]
    fit = _match(g0, mask, g1, motion, p)
    if fit is None:
        return "no fit", None, None
    shift = fit[0] - motion
    if not fit[1] <= p.max_ratio * fit[2]:
        return "ratio", shift, None
    if np.hypot(*shift) < p.min_shift:
        return "small", shift, None
    landed = _landing(mask, fit[0], labels1, objects1)
    if landed is None:
        return "no landing", shift, None
    back = _match(g1, labels1 == landed, g0, -fit[0], p)
    if back is None or np.hypot(*(back[0] + fit[0])) > p.consistency:
        return "back", shift, None
    return "sprite", shift, landed


def _landing(mask: np.ndarray, offset: np.ndarray, labels1: np.ndarray, objects1: List[int]) -> Optional[int]:
    """The end keyframe's object region that ``mask`` moved by ``offset`` covers most (at least
    half of the moved mask), or ``None``."""
    moved = translate(mask.astype(np.float32), offset) > 0.5
    if not objects1 or not moved.any():
        return None
    counts = np.bincount(labels1[moved], minlength=labels1.max() + 1)
    best = max(objects1, key=lambda j: counts[j])
    return best if counts[best] >= 0.5 * moved.sum() else None


def translate(img: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``img`` ``(H, W[, C])`` moved by ``offset`` ``(x, y)`` px (bilinear, zeros outside)."""
    h, w = img.shape[:2]
    m = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def fill_background(image: np.ndarray, w0: np.ndarray, w1: np.ndarray, map0: np.ndarray, map1: np.ndarray,
                    hole0: np.ndarray, hole1: np.ndarray) -> np.ndarray:
    """``image`` with an object's keyframe views removed: where the start keyframe's ``hole0`` (its
    grid, ``float32 (H, W)`` in [0, 1]) lands at ``t`` along ``map0`` the end keyframe's warp ``w1``
    shows, and where ``hole1`` lands along ``map1`` the start's ``w0`` (blended where both land)."""
    h0 = backward_warp(hole0[..., None], map0)[..., 0]  # where the object was, at t
    h1 = backward_warp(hole1[..., None], map1)[..., 0]  # where it will be, at t
    cover = np.clip(h0 + h1, 0, 1)[..., None]
    background = (w1 * h0[..., None] + w0 * h1[..., None]) / np.clip(h0 + h1, 1e-6, None)[..., None]
    return image * (1 - cover) + background * cover


def draw_sprites(image: np.ndarray, w0: np.ndarray, w1: np.ndarray, map0: np.ndarray, map1: np.ndarray,
                 tau: float, sprites: List[Sprite]) -> np.ndarray:
    """Frame ``t``'s prediction with every sprite drawn once (step 3 of the module docstring).

    Args:
        image: the fused prediction ``float32 (H, W, 3)`` in [0, 255].
        w0, w1: the start / end keyframe warped to ``t`` (same shape and range).
        map0, map1: the backward maps ``float32 (H, W, 2)`` px they were sampled along.
        tau: ``t / (L-1)`` in (0, 1).
    """
    out = image
    for s in sprites:
        out = fill_background(out, w0, w1, map0, map1, s.hole0, s.hole1)
        m0 = backward_warp(s.mask0[..., None], map0)[..., 0]
        m1 = backward_warp(s.mask1[..., None], map1)[..., 0]
        a0 = (1 - tau) * translate(m0, tau * s.shift)
        a1 = tau * translate(m1, -(1 - tau) * s.shift)
        colour = (translate(w0, tau * s.shift) * a0[..., None] + translate(w1, -(1 - tau) * s.shift) * a1[..., None])
        alpha = np.clip(a0 + a1, 0, 1)
        out = out * (1 - alpha[..., None]) + colour / np.clip(a0 + a1, 1e-6, None)[..., None] * alpha[..., None]
    return out.astype(np.float32)


_CACHE = SegmentCache(4)


def segment_sprites(seg: DecodedSegment, bandwidth: float, params: SpriteParams, keyflow: KeyflowParams | None,
                    edge: EdgeParams | None, trace: Optional[List[dict]] = None) -> List[Sprite]:
    """:func:`find_sprites` of a decoded segment, computed once per segment object (``trace``:
    computed afresh, see :func:`find_sprites`). The end-to-end motion is keyflow's refined one (the
    tracks' plus its trusted correction) when ``keyflow`` is given, else the tracks' Gaussian map;
    none for segments of fewer than 3 frames."""
    if seg.segment.length < 3:
        return []

    def compute() -> List[Sprite]:
        if keyflow is not None:
            corr = cached_corrections(seg, bandwidth, keyflow, edge)
            f01, f10 = corr.f01 + corr.c0, corr.f10 + corr.c1
        else:
            f01, f10 = tracks_motions(seg, bandwidth)
        return find_sprites(seg.key_start, seg.key_end, f01, f10, params, trace)

    if trace is not None:
        return compute()
    return _CACHE.get(seg, (float(bandwidth), params, keyflow, edge), compute)
