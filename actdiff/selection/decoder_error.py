"""The warp decoder's error that a set of trajectories leaves, measured on the encoder side.

:class:`Problem` holds what every trajectory selector needs for one segment, prepared once
(:func:`prepare`): the weight map, a sample grid of frame-0 pixels and up to ``MAX_FRAMES``
evaluated frames; it scores a candidate point set by the end-point error of the backward maps the
warp decoder would build from it (:func:`actdiff.motion.dense_flow_from_tracks`) against the dense
motion, and fits the interpolation bandwidth. :func:`decoder_error` and
:func:`interpolation_error` are full-resolution diagnostics for comparing selectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import cv2
import numpy as np
from scipy.spatial import cKDTree

from actdiff.config import setting
from actdiff.motion.edge_field import EdgeParams, guided_sparse_fields
from actdiff.motion.fusion import FusionParams
from actdiff.motion.interpolate import (
    SparseField,
    default_grid_step,
    dense_flow_from_tracks,
    interpolate_sparse,
    quantize_bandwidth,
)
from actdiff.selection.learned import weight_map_from_config
from actdiff.tracking.base import tracks_from_motion
from actdiff.types import DenseMotion, Tracks

MAX_FRAMES = 8          # frames used for error evaluation
WEIGHT_FLOOR = 0.05     # added to the weight map so flat areas still count a little
DEFAULT_BANDWIDTH = 16.0
FIT_CANDIDATES = 5     # coarse bandwidths tried by Problem.fit (then 2 refinements)
MIN_SHARE = 0.25       # visibility_balance: a sample's weight grows at most by (1 / MIN_SHARE) ** balance


def _epe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """End-point error ``(h, w)`` of two ``float32 (h, w, 2)`` displacement fields."""
    d = a - b
    # not cv2.magnitude: its last bits depend on the arrays' memory alignment (encoding must be deterministic)
    return np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1])


@dataclass
class Problem:
    """What every selector needs, prepared once per segment: the decoder's error on a sample
    grid of frame-0 pixels.

    The warp decoder maps each pixel of frame ``t`` back into both keyframes with
    :func:`actdiff.motion.dense_flow_from_tracks` (the points' displacements ``positions[ref] -
    positions[t]`` interpolated around ``positions[t]``) and blends them with weights
    ``1 - α`` and ``α = t / (T - 1)``. A frame-0 pixel ``p`` lies at ``q = p + flow[t](p)`` in
    frame ``t``; the exact backward displacements there are ``-flow[t](p)`` (to frame 0) and
    ``flow[T-1](p) - flow[t](p)`` (to frame ``T - 1``). The error of ``p`` at ``t`` is the
    blend-weighted end-point error of the interpolated fields sampled at ``q``, weighted by
    ``W(p) + 0.05`` and visibility. Residual maps therefore live on frame 0, where points are
    picked. With ``visibility_balance`` ``b > 0`` a sample whose chain is visible in only a share
    ``s`` of its possible weight (moving objects: their chains break) is weighted
    ``max(s, 0.25) ** -b`` more, so it counts about as much as a sample visible throughout.

    With ``edge`` (a guide: frame 0 area-averaged to the sample grid, and the edge-aware filter's
    parameters in grid units) the fields are interpolated the way the warp decoder does by default
    (:mod:`actdiff.motion.edge_field`): on frame 0's grid, from the points' frame-0 positions,
    stopped by frame 0's colour edges, and compared with the targets at ``p`` itself; the motion of
    points on a moving object then fills the object and not the background beside it.
    """

    motion: DenseMotion
    weight: np.ndarray        # (H, W) weight map in [0, 1]
    frames: np.ndarray        # evaluated interior frame indices (T',)
    step: int                 # sample-grid step (pixels)
    centres: np.ndarray       # (h, w, 2) full-resolution frame-0 pixel (x, y) of each sample
    q: np.ndarray             # (T', h, w, 2) sample positions in frame t, sample-grid units
    target0: np.ndarray       # (T', h, w, 2) backward displacement to frame 0, pixels
    target1: np.ndarray       # (T', h, w, 2) backward displacement to frame T - 1, pixels
    w0: np.ndarray            # (T', h, w) error weights of the start-keyframe term
    w1: np.ndarray            # (T', h, w) error weights of the end-keyframe term
    visibility_threshold: float
    edge: Optional[Tuple[np.ndarray, EdgeParams]] = None   # (guide (h, w, 3), params in grid units)
    _cache: dict = field(default_factory=dict)   # edge flag → (point set's bytes, its frame data)
    _maps: Optional[dict] = None
    _maps_of: Optional[bytes] = None

    @property
    def size(self) -> Tuple[int, int]:
        return self.motion.flow.shape[1:3]

    @property
    def visible_fraction(self) -> np.ndarray:
        """``(h, w)`` share of the evaluated frames in which each sample is visible in frame."""
        return ((self.w0 + self.w1) > 0).mean(0)

    @property
    def grid(self) -> Tuple[int, int]:
        return self.centres.shape[:2]

    def _frame_data(self, pts: np.ndarray, edge: bool = False) -> List[List[SparseField]]:
        """Per evaluated frame: the interpolations of the points' backward displacements (with
        their trends; prepared independently of the bandwidth; cached for the last point set, per
        ``edge``: the edge-aware objective and its Gaussian bandwidth fit alternate on one set)."""
        key = pts.tobytes()
        if edge in self._cache and self._cache[edge][0] == key:
            return self._cache[edge][1]
        h, w = self.grid
        x, y = pts[:, 0].astype(int), pts[:, 1].astype(int)
        flow, conf = self.motion.flow, self.motion.confidence
        end = self.motion.num_frames - 1
        f_end, vis_end = flow[end, y, x], conf[end, y, x] >= self.visibility_threshold
        out = []
        for t in self.frames:
            f_t, vis_t = flow[t, y, x], conf[t, y, x] >= self.visibility_threshold
            pos = (pts + (0 if edge else f_t) + 0.5) / self.step - 0.5   # edge: on frame 0's grid
            ok1 = vis_t & vis_end
            if np.array_equal(vis_t, ok1):  # one 4-channel interpolation serves both keyframes
                parts = [SparseField(pos[vis_t], np.concatenate([-f_t, f_end - f_t], 1)[vis_t], h, w)]
            else:
                parts = [SparseField(pos[m], v[m], h, w) for m, v in ((vis_t, -f_t), (ok1, f_end - f_t))]
            out.append(parts)
        self._cache[edge] = (key, out)
        return out

    def residual(self, pts: np.ndarray, bandwidth: float, edge: bool = True) -> np.ndarray:
        """Time-mean weighted decoder error ``(h, w)`` (pixels × weight) of points ``pts``
        (the maps of the last point set are cached per bandwidth); ``edge=False``: the Gaussian
        objective even when the problem has an edge-aware one (the bandwidth fit)."""
        key = (pts.tobytes(), (float(bandwidth), edge))
        if key[0] != self._maps_of:
            self._maps, self._maps_of = {}, key[0]
        if key[1] not in self._maps:
            self._maps[key[1]] = self._residual(pts, bandwidth, edge)
        return self._maps[key[1]]

    def _residual(self, pts: np.ndarray, bandwidth: float, edge: bool = True) -> np.ndarray:
        h, w = self.grid
        out = np.zeros((h, w), np.float32)
        if len(pts) == 0 or len(self.frames) == 0:
            return out
        b = float(bandwidth) / self.step
        if self.edge is not None and edge:
            return self._edge_residual(pts, b)
        for i, parts in enumerate(self._frame_data(pts)):
            fields = [f.at(b, density=False)[0] for f in parts]  # zeros where no point is visible
            d0, d1 = (fields[0][..., :2], fields[0][..., 2:]) if len(fields) == 1 else fields
            qx, qy = self.q[i, ..., 0], self.q[i, ..., 1]
            s0 = cv2.remap(np.ascontiguousarray(d0), qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            out += self.w0[i] * _epe(s0, self.target0[i])
            if self.w1[i].any():
                s1 = cv2.remap(np.ascontiguousarray(d1), qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                out += self.w1[i] * _epe(s1, self.target1[i])
        return out / len(self.frames)

    def _edge_residual(self, pts: np.ndarray, b: float) -> np.ndarray:
        """:meth:`_residual` with the edge-aware fields on frame 0's grid (``b``: grid units)."""
        data = self._frame_data(pts, True)
        fields = iter(f for f, _ in guided_sparse_fields(self.edge[0], [sf for parts in data for sf in parts],
                                                         b, self.edge[1]))
        out = np.zeros(self.grid, np.float32)
        for i, parts in enumerate(data):
            got = [next(fields) for _ in parts]
            d0, d1 = (got[0][..., :2], got[0][..., 2:]) if len(got) == 1 else got
            out += self.w0[i] * _epe(d0, self.target0[i]) + self.w1[i] * _epe(d1, self.target1[i])
        return out / len(self.frames)

    def error(self, pts: np.ndarray, bandwidth: float, edge: bool = True) -> float:
        """Weighted mean decoder end-point error (pixels) of points ``pts`` (``edge``: as :meth:`residual`)."""
        total = float((self.w0 + self.w1).sum()) / max(len(self.frames), 1)
        return float(self.residual(pts, bandwidth, edge).sum()) / max(total, 1e-9)

    def fit(self, pts: np.ndarray) -> float:
        """Quantised bandwidth with the least decoder error, searched log-uniformly from half
        the points' median nearest-neighbour distance (or a quarter of the cell size of
        ``len(pts)`` points if smaller) to 4 × that cell size, on the Gaussian objective (the
        decoder's checks and fallback use the bandwidth as a Gaussian's)."""
        if len(pts) == 0:
            return DEFAULT_BANDWIDTH
        height, width = self.size
        cell = math.sqrt(height * width / len(pts))
        lo = 0.25 * cell
        if len(pts) > 1:
            nearest = cKDTree(pts).query(pts, k=2)[0][:, 1]
            lo = max(1.0, min(lo, 0.5 * float(np.median(nearest))))
        # coarse log-spaced search, then the two midpoints around the best
        grid = np.geomspace(lo, 4 * cell, FIT_CANDIDATES)
        tried = {quantize_bandwidth(b): self.error(pts, quantize_bandwidth(b), False) for b in grid}
        best = int(np.argmin([tried[quantize_bandwidth(b)] for b in grid]))
        half = math.sqrt(grid[1] / grid[0]) if len(grid) > 1 else 1.0
        for b in (grid[best] / half, grid[best] * half):
            q = quantize_bandwidth(b)
            if q not in tried:
                tried[q] = self.error(pts, q, False)
        return float(min(tried, key=tried.get))

    def refit(self, pts: np.ndarray, bandwidth: float) -> float:
        """The better of ``bandwidth`` and ``bandwidth / √2`` for the (denser) points ``pts`` (Gaussian objective)."""
        cands = sorted({quantize_bandwidth(bandwidth * f) for f in (2 ** -0.5, 1.0)})
        errors = [self.error(pts, b, False) for b in cands]
        return float(cands[int(np.argmin(errors))])

    def tracks(self, pts: np.ndarray) -> Tracks:
        return tracks_from_motion(self.motion, pts, self.visibility_threshold)


def prepare(frame0: np.ndarray, motion: DenseMotion, cfg: Any, visibility_threshold: float) -> Problem:
    """Weight map, evaluated frames and the decoder-error sample grid of one segment."""
    height, width = motion.flow.shape[1:3]
    weight = np.asarray(weight_map_from_config(cfg)(frame0), np.float32)
    n = motion.num_frames
    end = n - 1
    inner = np.arange(1, end)
    if len(inner) == 0:  # two frames: only the end frame, from the start keyframe
        inner = np.array([end])
    frames = np.unique(inner[np.linspace(0, len(inner) - 1, min(MAX_FRAMES, len(inner))).round().astype(int)])
    step = default_grid_step(height, width)
    h, w = max(1, height // step), max(1, width // step)
    cy = np.minimum(np.arange(h) * step + step // 2, height - 1)
    cx = np.minimum(np.arange(w) * step + step // 2, width - 1)
    centres = np.stack(np.meshgrid(cx, cy), -1).astype(np.float32)
    f = motion.flow[:, cy][:, :, cx]                                   # (T, h, w, 2)
    vis = motion.confidence[:, cy][:, :, cx] >= visibility_threshold   # (T, h, w)
    wmap = weight[cy][:, cx] + WEIGHT_FLOOR
    q = (centres[None] + f[frames] + 0.5) / step - 0.5
    inside = ((q[..., 0] >= -0.5) & (q[..., 0] <= w - 0.5) & (q[..., 1] >= -0.5) & (q[..., 1] <= h - 0.5))
    alpha = (frames / max(end, 1)).astype(np.float32)[:, None, None]
    if frames[0] == end:
        alpha = np.zeros_like(alpha)
    base = wmap[None] * vis[frames] * inside
    w0, w1 = (1 - alpha) * base, alpha * base * vis[end][None]
    balance = float(setting(cfg, "visibility_balance", 0.0))
    if balance > 0:
        share = (w0 + w1).mean(0) / wmap                     # (h, w) in [0, 1]; 1: visible throughout
        boost = np.where(share < 1 - 1e-5, np.maximum(share, MIN_SHARE) ** -balance, 1.0)  # 1: visible throughout
        w0, w1 = w0 * boost, w1 * boost
    return Problem(motion, weight, frames, step, centres, q.astype(np.float32), -f[frames], f[end][None] - f[frames],
                   w0.astype(np.float32), w1.astype(np.float32), float(visibility_threshold),
                   _edge_guide(frame0, step, (h, w), float(setting(cfg, "objective_edge_sigma_r", 0.0))))


def _edge_guide(frame0: np.ndarray, step: int, grid: Tuple[int, int],
                sigma_r: float) -> Optional[Tuple[np.ndarray, EdgeParams]]:
    """Frame 0 ``(H, W, 3)`` [0, 255] blurred as the decoder blurs its guide, area-averaged to the
    sample ``grid`` ``(h, w)``, and the decoder's edge-aware parameters in grid units (``sigma_r``
    grey levels; 0: no edge-aware objective)."""
    if sigma_r <= 0:
        return None
    d = FusionParams()
    g = np.asarray(frame0, np.float32)
    g = g if g.ndim == 3 else np.repeat(g[..., None], 3, -1)
    if d.edge_guide_blur > 0:
        g = cv2.GaussianBlur(g, (0, 0), d.edge_guide_blur)
    h, w = grid
    g = cv2.resize(g[:h * step, :w * step], (w, h), interpolation=cv2.INTER_AREA)
    return g, EdgeParams(sigma_r, fallback=d.edge_fallback, scale=d.edge_scale)



def interpolation_error(tracks: Tracks, motion: DenseMotion, bandwidth: float,
                        weight: Optional[np.ndarray] = None) -> float:
    """Mean (weighted) end-point error of the tracks' interpolated forward motion vs the dense
    motion over all frames — a diagnostic for comparing selectors."""
    height, width = motion.flow.shape[1:3]
    wmap = np.ones((height, width), np.float32) if weight is None else weight
    errs: List[float] = []
    for t in range(1, motion.num_frames):
        start = tracks.positions[0]
        dense, _ = interpolate_sparse(start, tracks.positions[t] - start, height, width, bandwidth)
        errs.append(float((np.linalg.norm(dense - motion.flow[t], axis=-1) * wmap).sum() / wmap.sum()))
    return float(np.mean(errs)) if errs else 0.0


def decoder_error(tracks: Tracks, motion: DenseMotion, bandwidth: float, weight: Optional[np.ndarray] = None,
                  visibility_threshold: float = 0.3) -> float:
    """Mean (weighted) end-point error, pixels, of the backward maps the warp decoder builds
    from ``tracks`` (:func:`actdiff.motion.dense_flow_from_tracks`, full resolution, every
    interior frame, both keyframes blended ``1 - α`` / ``α``) against the dense motion.

    Frame-0 pixel ``p`` lies at ``q = p + flow[t](p)`` in frame ``t``; the decoder's
    coordinates sampled at ``q`` should be ``p`` (start keyframe) and ``p + flow[T-1](p)``
    (end keyframe). Pixels count where visible at ``t`` (and at ``T - 1`` for the end term),
    weighted by ``weight (H, W)`` (default 1). Returns 0 for segments of < 3 frames.
    """
    n = motion.num_frames
    height, width = motion.flow.shape[1:3]
    wmap = np.ones((height, width), np.float32) if weight is None else np.asarray(weight, np.float32)
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    ident = np.stack([gx, gy], -1)
    end = n - 1
    vis_end = motion.confidence[end] >= visibility_threshold
    num = den = 0.0
    for t in range(1, end):
        alpha = t / end
        q = ident + motion.flow[t]
        vis = (motion.confidence[t] >= visibility_threshold) & (q[..., 0] >= 0) & (q[..., 0] <= width - 1) \
            & (q[..., 1] >= 0) & (q[..., 1] <= height - 1)
        for ref, a, true, ok in ((0, 1 - alpha, ident, vis), (end, alpha, ident + motion.flow[end], vis & vis_end)):
            coords, _ = dense_flow_from_tracks(tracks, t, ref, height, width, bandwidth)
            got = cv2.remap(coords, q[..., 0], q[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            w = a * wmap * ok
            num += float((np.linalg.norm(got - true, axis=-1) * w).sum())
            den += float(w.sum())
    return num / den if den > 0 else 0.0
