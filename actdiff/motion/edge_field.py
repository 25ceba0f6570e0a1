"""Edge-aware sparse → dense motion on a decoded keyframe's grid, and its inverse.

:func:`actdiff.motion.interpolate.interpolate_sparse` spreads each point's motion as a Gaussian
blob: a small moving object's trajectories move the background beside it too (a halo that travels
with the object), and only part of the object when its points are few
(``experiments/interp_halo.py``). The decoder holds the keyframes, and an object's outline is
usually a colour edge in them. Here the Gaussian of the normalised convolution is replaced by the
domain transform's recursive filter (Gastal & Oliveira, SIGGRAPH 2011) guided by the keyframe: a
point's influence decays with the distance *along the keyframe's image*, in which crossing a colour
edge of ``σ_r`` grey levels counts as ``σ_s`` pixels, so the motion of points on an object fills the
object and stops at its outline. The rest is as in :func:`interpolate_sparse` (the same robust
affine trend and point weights); where the edges leave a region with no point reaching it, the prior
is the ordinary Gaussian field (``fallback``, so an object's part without a point of its own moves
with the object) or, with ``fallback=0``, the trend.

The field lives on the keyframe's grid (where the guide is): ``D(q)``, the displacement of
keyframe pixel ``q`` at frame ``t``. Backward warping needs the inverse, the keyframe position
``B(p)`` that lands on pixel ``p`` of frame ``t``: :func:`invert_displacement` solves
``q + D(q) = p`` by fixed-point iteration; its residual ``‖B(p) + D(B(p)) − p‖`` is the
forward–backward error of the fusion (large where no keyframe pixel lands on ``p``: content the
keyframe does not show at ``t``). Deterministic, computed from decoded data only.
"""

from __future__ import annotations

import math
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from actdiff.motion.interpolate import NC_PRIOR, SparseField, upsample_grid
from actdiff.motion.keyed_lock import KeyedLock
from actdiff.motion.warp import backward_warp, pixel_grid, splat_bilinear
from actdiff.types import DecodedSegment

#: Iterations of the domain transform's recursive filter (the paper's recommendation).
DT_ITERATIONS = 3


@dataclass(frozen=True)
class EdgeParams:
    """How :func:`edge_aware_field` is guided (see its arguments): ``sigma_r`` grey levels,
    ``guide_blur`` px, ``fallback`` (density units); ``step``: the filter runs on a grid reduced
    by this factor (the guide area-averaged, the result upsampled bilinearly); ``scale``: the
    filter's spatial sigma is ``scale`` × the bandwidth (> 1: a point's motion reaches further
    inside the region its edges enclose; the Gaussian ``fallback`` keeps the bandwidth)."""

    sigma_r: float
    guide_blur: float = 0.0
    fallback: float = 0.0
    step: int = 1
    scale: float = 1.0


def _recursive_pass(img: np.ndarray, coeff: np.ndarray, axis: int) -> None:
    """One causal and one anti-causal recursive pass of ``img (H, W, C)`` along ``axis`` (0: y,
    1: x), in place; ``coeff`` (``(H-1, W)`` or ``(H, W-1)``) is the feedback between neighbours
    ``i`` and ``i + 1`` along that axis."""
    if axis == 0:
        for i in range(1, img.shape[0]):
            img[i] += coeff[i - 1, :, None] * (img[i - 1] - img[i])
        for i in range(img.shape[0] - 2, -1, -1):
            img[i] += coeff[i, :, None] * (img[i + 1] - img[i])
        return
    for i in range(1, img.shape[1]):  # strided columns: faster than transposing for many channels
        img[:, i] += coeff[:, i - 1, None] * (img[:, i - 1] - img[:, i])
    for i in range(img.shape[1] - 2, -1, -1):
        img[:, i] += coeff[:, i, None] * (img[:, i + 1] - img[:, i])


def _sigma_at(sigma_s: float, i: int, iterations: int) -> float:
    return sigma_s * math.sqrt(3.0) * 2.0 ** (iterations - i - 1) / math.sqrt(4.0 ** iterations - 1)


class DomainTransform:
    """The domain transform's recursive filter for one guide image.

    Args:
        guide: ``(H, W, 3)`` image, [0, 255].
        sigma_s: spatial standard deviation of the filter, pixels (> 0).
        sigma_r: grey levels (sum over channels of the absolute difference of neighbours) that
            count as ``sigma_s`` pixels of distance (> 0; large: an ordinary, edge-blind filter).
    """

    def __init__(self, guide: np.ndarray, sigma_s: float, sigma_r: float, iterations: int = DT_ITERATIONS) -> None:
        if sigma_s <= 0 or sigma_r <= 0:
            raise ValueError(f"sigma_s and sigma_r must be > 0, got {sigma_s}, {sigma_r}")
        g = np.asarray(guide, np.float32)
        self.sigma_s, self.iterations = float(sigma_s), int(iterations)
        ratio = sigma_s / sigma_r
        self.dx = 1.0 + ratio * np.abs(np.diff(g, axis=1)).sum(-1)  # (H, W-1)
        self.dy = 1.0 + ratio * np.abs(np.diff(g, axis=0)).sum(-1)  # (H-1, W)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """Filter ``img (H, W, C)``; returns ``float64 (H, W, C)``."""
        out = np.array(img, np.float64)
        for i in range(self.iterations):
            a = math.exp(-math.sqrt(2.0) / _sigma_at(self.sigma_s, i, self.iterations))
            _recursive_pass(out, a ** self.dx, 1)
            _recursive_pass(out, a ** self.dy, 0)
        return out


@lru_cache(maxsize=64)
def impulse_peak(sigma_s: float, iterations: int = DT_ITERATIONS) -> float:
    """Value at its centre of the filter's response to a unit impulse on a flat guide (2D, the
    product of two 1D responses): one isolated point's peak density."""
    n = 2 * int(math.ceil(8 * sigma_s)) + 1
    line = np.zeros((n, 1, 1))
    line[n // 2] = 1.0
    for i in range(iterations):
        a = math.exp(-math.sqrt(2.0) / _sigma_at(sigma_s, i, iterations))
        _recursive_pass(line, np.full((n - 1, 1), a), 0)
    return float(line[n // 2, 0, 0]) ** 2


def edge_aware_field(guide: np.ndarray, points: np.ndarray, values: np.ndarray, bandwidth: float,
                     sigma_r: float, weights: Optional[np.ndarray] = None, guide_blur: float = 0.0,
                     fallback: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Dense field on the grid of ``guide`` from values at scattered points.

    Args:
        guide: ``(H, W, 3)`` image in [0, 255] whose colour edges stop the interpolation.
        points: ``(N, 2)`` positions ``(x, y)`` in pixels on the guide's grid.
        values: ``(N, C)`` values (e.g. displacements in pixels).
        bandwidth: spatial standard deviation in pixels (as :func:`interpolate_sparse`'s).
        sigma_r: edge strength (grey levels, :class:`DomainTransform`).
        weights: ``(N,)`` non-negative point weights (default 1).
        guide_blur: Gaussian sigma (px) applied to the guide first, so that fine texture does not
            count as edges (an object's outline does: a blurred step is as high as before).
        fallback: weight, in units of one point's peak density, of a prior that is the ordinary
            (Gaussian) interpolation: where the edges cut a region off from every point (an
            object's part with no point of its own, density ≪ ``fallback``) the field is the
            Gaussian one instead of the trend; where points reach it, theirs.

    Returns:
        ``(field float32 (H, W, C), density float32 (H, W))``: the robust affine trend of
        :func:`interpolate_sparse` plus the edge-aware normalised convolution of the residuals;
        density in units of one point's peak. No usable point: zeros.
    """
    sf = SparseField(points, values, guide.shape[0], guide.shape[1], weights)
    return guided_sparse_fields(guide, [sf], bandwidth, EdgeParams(sigma_r, guide_blur, fallback))[0]


def guided_fields(guide: np.ndarray, sets: Sequence[Tuple[np.ndarray, np.ndarray]], bandwidth: float,
                  params: EdgeParams) -> List[np.ndarray]:
    """:func:`edge_aware_field` of several ``(points (N, 2), values (N, C))`` sets on one guide
    (the frames of a segment), in one pass of the filter; the fields alone, ``float32 (H, W, C)``."""
    h, w = guide.shape[:2]
    return [f for f, _ in guided_sparse_fields(guide, [SparseField(p, v, h, w) for p, v in sets], bandwidth, params)]


def guided_field(guide: np.ndarray, points: np.ndarray, values: np.ndarray, bandwidth: float,
                 params: EdgeParams) -> np.ndarray:
    """:func:`guided_fields` of one set."""
    return guided_fields(guide, [(points, values)], bandwidth, params)[0]


def guided_sparse_fields(guide: np.ndarray, sfs: Sequence[SparseField], bandwidth: float,
                         params: EdgeParams) -> List[Tuple[np.ndarray, np.ndarray]]:
    """``(field float32 (H, W, C), density float32 (H, W))`` per prepared point set (on the guide's
    grid), all filtered together (channels stacked): :func:`edge_aware_field` of sets whose
    trends are computed once (a bandwidth search filters the same sets at several)."""
    h, w = guide.shape[:2]
    bandwidth = float(max(bandwidth, 0.25))
    sigma_s = bandwidth * float(params.scale)
    step = int(max(1, params.step))
    hc, wc = -(-h // step), -(-w // step)
    stack = []
    for sf in sfs:
        if not sf.empty:
            num, den = splat_bilinear((sf.x + 0.5) / step - 0.5, (sf.y + 0.5) / step - 0.5, sf.resid, sf.w, hc, wc)
            stack += [num, den[..., None]]
    filt = None
    if stack:
        g = np.asarray(guide, np.float32)
        if params.guide_blur > 0:
            g = cv2.GaussianBlur(g, (0, 0), params.guide_blur)
        if step > 1:
            g = cv2.resize(g, (wc, hc), interpolation=cv2.INTER_AREA)
        filt = DomainTransform(g, sigma_s / step, params.sigma_r)(np.concatenate(stack, -1)).astype(np.float32)
    peak, fb, out, at = impulse_peak(sigma_s / step), params.fallback, [], 0
    for sf in sfs:
        if sf.empty:
            out.append((np.zeros((h, w, sf.chans), np.float32), np.zeros((h, w), np.float32)))
            continue
        # each set upsampled on its own: its field does not depend on which sets share the pass
        up = upsample_grid(np.ascontiguousarray(filt[..., at:at + sf.chans + 1]), step, h, w).reshape(h, w, -1)
        resid, den = up[..., :sf.chans], up[..., sf.chans]
        at += sf.chans + 1
        if fb > 0:
            resid = resid + fb * peak * (sf.at(bandwidth, density=False)[0] - sf.trend)
        field = sf.trend + resid / (den[..., None] + (NC_PRIOR + fb) * peak)
        out.append((field.astype(np.float32), (den / peak).astype(np.float32)))
    return out


#: Frames of a segment whose fields :func:`segment_displacement` filters together.
CHUNK = 8
#: ``(id(seg), ref) → [weakref to seg, settings, {frame: field}, frame asked for last]``.
_CACHE: Dict[Tuple[int, int], list] = {}
#: ``id(seg) → (weakref to seg, frames)``: the frames callers said they will ask for (:func:`planned_frames`).
_PLANS: Dict[int, Tuple[weakref.ref, Tuple[int, ...]]] = {}
_LOCK = threading.Lock()
_COMPUTING = KeyedLock()


def chunk_frames(t: int, ref: int, length: int, last: Optional[int],
                 plan: Optional[Sequence[int]] = None) -> List[int]:
    """The frames whose fields are filtered together with frame ``t``'s: with a ``plan`` (the frames
    a caller said it will ask for, in order, :func:`planned_frames`), ``t`` and the planned frames
    after it, ``CHUNK`` in all; else ``CHUNK`` frames from ``t`` on, every ``step``-th, ``step`` the
    gap from the frame asked for before (``last``) when that gap is 2 … ``CHUNK`` (a caller that
    scores every 4th frame, :func:`actdiff.codec.detail_mix.scored_frames`), else 1 (a decoder that
    predicts every frame); never the keyframe ``ref`` itself. Which frames share a pass changes the
    cost only: every channel is filtered on its own."""
    if plan is not None:
        return [f for f in [t] + [p for p in plan if p > t] if f != ref][:CHUNK]
    gap = t - last if last is not None else 1
    step = gap if 1 < gap <= CHUNK else 1
    return [f for f in range(t, min(t + CHUNK * step, length), step) if f != ref]


@contextmanager
def planned_frames(seg: DecodedSegment, frames: Sequence[int]) -> Iterator[None]:
    """Within the block, :func:`segment_displacement` knows that the segment-relative ``frames`` of
    ``seg`` will be asked for, in frame order (a caller decoding some frames only, e.g. every 6th): one
    filter pass then serves ``CHUNK`` of them instead of one (the fields do not change)."""
    entry = (weakref.ref(seg), tuple(sorted({int(f) for f in frames})))
    with _LOCK:
        _PLANS[id(seg)] = entry
    try:
        yield
    finally:
        with _LOCK:
            if _PLANS.get(id(seg)) is entry:
                del _PLANS[id(seg)]


def _plan(seg: DecodedSegment) -> Optional[Tuple[int, ...]]:
    """The frames planned for ``seg`` (:func:`planned_frames`), or ``None``; call with ``_LOCK`` held."""
    entry = _PLANS.get(id(seg))
    return entry[1] if entry is not None and entry[0]() is seg else None


def segment_displacement(seg: DecodedSegment, t: int, ref: int, bandwidth: float, params: EdgeParams) -> np.ndarray:
    """``D(q)``, ``float32 (H, W, 2)`` px: where each pixel of keyframe ``ref`` (0 or ``L-1``)
    moves by frame ``t``, the edge-aware field of the tracks visible at both, guided by that
    keyframe. Computed for ``CHUNK`` frames at a time (one filter pass, :func:`chunk_frames`) and
    kept for the frames of the chunk while the segment's frames are predicted in order (every
    frame, or every few); safe to call from several threads."""
    if t == ref:
        return np.zeros(seg.key_start.shape[:2] + (2,), np.float32)
    key, conf = (id(seg), ref), (float(bandwidth), params)
    with _COMPUTING.hold(key):  # threads asking for frames of one chunk filter it once
        with _LOCK:
            hit = _CACHE.get(key)
            same = hit is not None and hit[0]() is seg and hit[1] == conf
            if same and t in hit[2]:
                hit[3] = t
                return hit[2][t]
            last = hit[3] if same else None
            # frames of the last chunk not yet asked for stay (a request outside the plan, the
            # keyflow's keyframe-to-keyframe field, does not drop the planned frames computed)
            kept = {f: v for f, v in hit[2].items() if last is not None and f > last} if same else {}
            plan = _plan(seg)
        tr, frames = seg.tracks, chunk_frames(t, ref, seg.segment.length, last, plan)
        sets = []
        for f in frames:
            ok = tr.visible[f] & tr.visible[ref]
            sets.append((tr.positions[ref][ok], tr.positions[f][ok] - tr.positions[ref][ok]))
        guide = seg.key_start if ref == 0 else seg.key_end
        fields = {**kept, **dict(zip(frames, guided_fields(guide, sets, bandwidth, params)))}
        with _LOCK:
            if len(_CACHE) >= 4 and key not in _CACHE:
                _CACHE.pop(next(iter(_CACHE), None), None)
            _CACHE[key] = [weakref.ref(seg), conf, fields, t]
        return fields[t]


def outside_distance(q: np.ndarray) -> np.ndarray:
    """How far each position of ``q`` (``(H, W, 2)`` px, x then y) lies outside the
    ``H x W`` image, ``float32 (H, W)`` px (0 inside)."""
    h, w = q.shape[:2]
    x, y = q[..., 0], q[..., 1]
    out = np.zeros((h, w), np.float32)
    away = (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)   # most iterates lie inside: 0 there
    if away.any():
        xa, ya = x[away], y[away]
        ox = np.maximum(0.0, np.maximum(-xa, xa - (w - 1)))
        oy = np.maximum(0.0, np.maximum(-ya, ya - (h - 1)))
        out[away] = np.hypot(ox, oy)
    return out


def invert_displacement(disp: np.ndarray, init: np.ndarray, iterations: int = 6,
                        median: int = 0, outside: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Backward map of a forward displacement field, by fixed-point iteration.

    Args:
        disp: ``(H, W, 2)`` px, ``D(q)``: where keyframe pixel ``q`` moves to is ``q + D(q)``.
        init: ``(H, W, 2)`` px, the starting guess of ``B(p)`` (e.g. the tracks' backward map).
        iterations: updates ``B ← p − D(B)``.
        median: > 1: a median filter of this size (3 or 5) on ``B``, which removes isolated pixels
            whose iterate converged to the other side of an edge (speckles in the warped image).
        outside: add to the residual how far an iterate lies outside the keyframe: ``D`` there is
            its border's value, so an object at the border would otherwise "explain" every pixel
            its motion points out of the frame from, and its border column be smeared over them.

    Returns:
        ``(B float32 (H, W, 2) px, residual float32 (H, W) px)``: per pixel the iterate with the
        smallest residual ``‖B + D(B) − p‖`` (large where no keyframe pixel lands on ``p``).
    """
    grid = pixel_grid(*disp.shape[:2])
    q = np.array(init, np.float32, order="C")   # C order: (x, y) viewed as one 8-byte word below
    best, best_r = q.copy(), np.full(disp.shape[:2], np.inf, np.float32)
    e = np.empty_like(q)
    for k in range(iterations + 1):
        d = backward_warp(disp, q)
        np.add(q, d, out=e)
        e -= grid
        r = np.hypot(e[..., 0], e[..., 1])
        if outside:
            r += outside_distance(q)
        better = r < best_r
        np.copyto(best.view(np.uint64)[..., 0], q.view(np.uint64)[..., 0], where=better)   # (x, y) as one word
        np.copyto(best_r, r, where=better)
        if k < iterations:
            np.subtract(grid, d, out=q)
    if median > 1:
        best = np.stack([cv2.medianBlur(np.ascontiguousarray(best[..., i]), median) for i in range(2)], -1)
    return best, best_r
