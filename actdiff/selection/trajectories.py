"""Budgeted trajectory selection (registry: ``actdiff.registry.TRAJECTORY_SELECTORS``).

Every selector is ``select(frame0, motion, cfg, visibility_threshold, cost_bits=None) ->
(Tracks, bandwidth)``: it picks pixels of the segment's first frame, reads their trajectories
from the dense motion (``positions[t] = p + flow[t][p]``, ``visible = confidence >=
visibility_threshold``) and returns the quantised interpolation bandwidth (pixels) with which
:func:`actdiff.motion.interpolate_sparse` best densifies them.

Every error is the one the warp decoder sees (:class:`Problem`): the backward maps it builds
with :func:`actdiff.motion.dense_flow_from_tracks` from frame ``t`` to both keyframes, blended
``1 - α`` / ``α``, against the dense motion, on a grid of frame-0 pixels weighted by
``W + 0.05`` and visibility.

* ``greedy`` (the method): weight map ``W`` of frame 0 (``cfg.weight_map``); anchors, about
  ``anchor_fraction`` of the budget, on a coarse grid (the strongest ``W`` pixel ≥ 0.5 within
  the central ``anchor_snap`` fraction of each cell, else the cell centre; default 0: centres,
  which interpolate best); bandwidth fitted on the anchors; then per step up to
  ``points_per_step`` new points from the cells of a ``residual_cells`` grid that hold no
  point yet, at the maxima of the residual map (time-mean weighted decoder error, blurred over
  half a bandwidth), each weighted by the share of frames the pixel stays visible in and
  damped around every point already taken this step (Gaussian of ``suppress`` bandwidths), so
  a step spreads its points over the error instead of stacking them; the bandwidth is refitted
  locally after each step and fully at the end (down to half the points' median spacing, as
  points pile up on a moving object). Finally (``compare_grid``, default true) the anchor grid
  with as many points (bits mode: as many as the budget affords) is evaluated too and kept
  when its decoder error is lower — on smooth global motion a regular grid is hard to beat.
* ``uniform``: a regular grid; ``motion``: the largest mean motion magnitudes with non-maximum
  suppression. Both fit the bandwidth the same way.

Budget: ``budget_points``, or ``budget_bits`` (then ``cost_bits(tracks)`` must be given; the
selection never returns tracks whose cost exceeds it). Errors are evaluated on up to 8 evenly
spaced interior frames and a grid of about 6000 frame-0 pixels.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

import cv2
import numpy as np
from scipy.spatial import cKDTree

from actdiff.errors import ConfigError
from actdiff.motion.interpolate import (
    default_grid_step,
    dense_flow_from_tracks,
    interpolate_sparse,
    interpolation_trend,
    quantize_bandwidth,
)
from actdiff.registry import TRAJECTORY_SELECTORS
from actdiff.selection import weight_maps  # noqa: F401  (registers the weight maps)
from actdiff.selection.learned import weight_map_from_config
from actdiff.tracking.base import tracks_from_motion
from actdiff.types import DenseMotion, Tracks

log = logging.getLogger(__name__)

MAX_FRAMES = 8          # frames used for error evaluation
MAX_POINTS = 2048       # hard cap on trajectories per segment
WEIGHT_FLOOR = 0.05     # added to the weight map so flat areas still count a little
DEFAULT_BANDWIDTH = 16.0
FIT_CANDIDATES = 5     # coarse bandwidths tried by Problem.fit (then 2 refinements)

CostFn = Callable[[Tracks], float]


def _get(cfg: Any, key: str, default: Any) -> Any:
    if cfg is None:
        return default
    value = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    return default if value is None else value


def _epe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """End-point error ``(h, w)`` of two ``float32 (h, w, 2)`` displacement fields."""
    d = a - b
    return cv2.magnitude(np.ascontiguousarray(d[..., 0]), np.ascontiguousarray(d[..., 1]))


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
    picked.
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
    _cache: Optional[tuple] = None
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

    def _frame_data(self, pts: np.ndarray) -> List[tuple]:
        """Per evaluated frame: the points' positions (sample-grid units), visibilities,
        backward displacements and interpolation trends (independent of the bandwidth;
        cached for the last point set)."""
        key = pts.tobytes()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        h, w = self.grid
        x, y = pts[:, 0].astype(int), pts[:, 1].astype(int)
        flow, conf = self.motion.flow, self.motion.confidence
        end = self.motion.num_frames - 1
        f_end, vis_end = flow[end, y, x], conf[end, y, x] >= self.visibility_threshold
        out = []
        for t in self.frames:
            f_t, vis_t = flow[t, y, x], conf[t, y, x] >= self.visibility_threshold
            pos = (pts + f_t + 0.5) / self.step - 0.5
            ok1 = vis_t & vis_end
            if np.array_equal(vis_t, ok1):  # one 4-channel interpolation serves both keyframes
                v = np.concatenate([-f_t, f_end - f_t], 1)[vis_t]
                parts = [(pos[vis_t], v, interpolation_trend(pos[vis_t], v, h, w) if len(v) else None)]
            else:
                parts = [(pos[m], v[m], interpolation_trend(pos[m], v[m], h, w) if m.any() else None)
                         for m, v in ((vis_t, -f_t), (ok1, f_end - f_t))]
            out.append(parts)
        self._cache = (key, out)
        return out

    def residual(self, pts: np.ndarray, bandwidth: float) -> np.ndarray:
        """Time-mean weighted decoder error ``(h, w)`` (pixels × weight) of points ``pts``
        (the maps of the last point set are cached per bandwidth)."""
        key = (pts.tobytes(), float(bandwidth))
        if key[0] != self._maps_of:
            self._maps, self._maps_of = {}, key[0]
        if key[1] not in self._maps:
            self._maps[key[1]] = self._residual(pts, bandwidth)
        return self._maps[key[1]]

    def _residual(self, pts: np.ndarray, bandwidth: float) -> np.ndarray:
        h, w = self.grid
        out = np.zeros((h, w), np.float32)
        if len(pts) == 0 or len(self.frames) == 0:
            return out
        b = float(bandwidth) / self.step
        for i, parts in enumerate(self._frame_data(pts)):
            fields = [interpolate_sparse(p, v, h, w, b, trend=c)[0] if c is not None
                      else np.zeros((h, w, v.shape[1]), np.float32) for p, v, c in parts]
            d0, d1 = (fields[0][..., :2], fields[0][..., 2:]) if len(fields) == 1 else fields
            qx, qy = self.q[i, ..., 0], self.q[i, ..., 1]
            s0 = cv2.remap(np.ascontiguousarray(d0), qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            out += self.w0[i] * _epe(s0, self.target0[i])
            if self.w1[i].any():
                s1 = cv2.remap(np.ascontiguousarray(d1), qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                out += self.w1[i] * _epe(s1, self.target1[i])
        return out / len(self.frames)

    def error(self, pts: np.ndarray, bandwidth: float) -> float:
        """Weighted mean decoder end-point error (pixels) of points ``pts``."""
        total = float((self.w0 + self.w1).sum()) / max(len(self.frames), 1)
        return float(self.residual(pts, bandwidth).sum()) / max(total, 1e-9)

    def fit(self, pts: np.ndarray) -> float:
        """Quantised bandwidth with the least decoder error, searched log-uniformly from half
        the points' median nearest-neighbour distance (or a quarter of the cell size of
        ``len(pts)`` points if smaller) to 4 × that cell size."""
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
        tried = {quantize_bandwidth(b): self.error(pts, quantize_bandwidth(b)) for b in grid}
        best = int(np.argmin([tried[quantize_bandwidth(b)] for b in grid]))
        half = math.sqrt(grid[1] / grid[0]) if len(grid) > 1 else 1.0
        for b in (grid[best] / half, grid[best] * half):
            q = quantize_bandwidth(b)
            if q not in tried:
                tried[q] = self.error(pts, q)
        return float(min(tried, key=tried.get))

    def refit(self, pts: np.ndarray, bandwidth: float) -> float:
        """The better of ``bandwidth`` and ``bandwidth / √2`` for the (denser) points ``pts``."""
        cands = sorted({quantize_bandwidth(bandwidth * f) for f in (2 ** -0.5, 1.0)})
        errors = [self.error(pts, b) for b in cands]
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
    return Problem(motion, weight, frames, step, centres, q.astype(np.float32), -f[frames], f[end][None] - f[frames],
                   ((1 - alpha) * base).astype(np.float32), (alpha * base * vis[end][None]).astype(np.float32),
                   float(visibility_threshold))


def grid_shape(n: int, height: int, width: int) -> Tuple[int, int]:
    """``(rows, cols)`` of a grid of at most ``n`` (≥ 1) cells with roughly square cells."""
    cols = max(1, min(n, int(math.floor(math.sqrt(n * width / height)))))
    return max(1, n // cols), cols


def uniform_points(n: int, height: int, width: int) -> np.ndarray:
    """Centres ``(≤ n, 2)`` of a regular grid, rounded to integer pixels."""
    if n <= 0:
        return np.zeros((0, 2), np.float32)
    rows, cols = grid_shape(n, height, width)
    ys = np.floor((np.arange(rows) + 0.5) * height / rows)
    xs = np.floor((np.arange(cols) + 0.5) * width / cols)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)


def anchor_points(weight: np.ndarray, n: int, snap: float = 0.5) -> np.ndarray:
    """One point per coarse-grid cell: the strongest ``weight`` pixel if ≥ 0.5, else the centre.

    The strongest pixel is searched in the central ``snap`` fraction (per side) of the cell
    only, so the anchors stay close to a regular grid (``snap=1``: the whole cell; 0: centres).
    """
    height, width = weight.shape
    if n <= 0:
        return np.zeros((0, 2), np.float32)
    rows, cols = grid_shape(n, height, width)
    ye = np.linspace(0, height, rows + 1).astype(int)
    xe = np.linspace(0, width, cols + 1).astype(int)
    pts = []
    for i in range(rows):
        for j in range(cols):
            (y0, y1), (x0, x1) = _central(ye[i], ye[i + 1], snap), _central(xe[j], xe[j + 1], snap)
            block = weight[y0:y1, x0:x1]
            by, bx = np.mgrid[0:block.shape[0], 0:block.shape[1]]
            off = np.hypot(by - (block.shape[0] - 1) / 2, bx - (block.shape[1] - 1) / 2)
            k = int(np.argmax(block - 1e-4 * off / max(off.max(), 1)))  # ties → nearest the centre
            by, bx = divmod(k, block.shape[1])
            if block.flat[k] >= 0.5:
                pts.append((x0 + bx, y0 + by))
            else:
                pts.append(((xe[j] + xe[j + 1] - 1) // 2, (ye[i] + ye[i + 1] - 1) // 2))
    return np.asarray(pts, np.float32)


def _central(lo: int, hi: int, frac: float) -> Tuple[int, int]:
    """The central ``frac`` of the index range ``[lo, hi)`` (at least one index)."""
    mid, half = (lo + hi - 1) / 2, max(0.0, frac) * (hi - lo) / 2
    a = int(math.ceil(mid - half)) if frac < 1 else lo
    b = int(math.floor(mid + half)) + 1 if frac < 1 else hi
    return max(lo, min(a, int(mid))), min(hi, max(b, int(mid) + 1))


def _cell_ids(x: np.ndarray, y: np.ndarray, rows: int, cols: int, height: int, width: int) -> np.ndarray:
    r = np.clip((y * rows / height).astype(int), 0, rows - 1)
    c = np.clip((x * cols / width).astype(int), 0, cols - 1)
    return r * cols + c


def residual_maxima(prob: Problem, err: np.ndarray, pts: np.ndarray, cells: int, k: int,
                    min_dist: float = 0.0) -> np.ndarray:
    """Up to ``k`` new points ``(k, 2)``: the largest residual maxima of cells holding no point,
    at least ``min_dist`` pixels apart (non-maximum suppression among the new points)."""
    height, width = prob.size
    rows, cols = grid_shape(cells, height, width)
    fx, fy = prob.centres[..., 0].ravel(), prob.centres[..., 1].ravel()
    ids = _cell_ids(fx, fy, rows, cols, height, width)
    order = np.argsort(-err.ravel(), kind="stable")
    _, first = np.unique(ids[order], return_index=True)
    best = order[first]                      # max-residual pixel of every cell
    taken = np.zeros(rows * cols, bool)
    if len(pts):
        taken[_cell_ids(pts[:, 0], pts[:, 1], rows, cols, height, width)] = True
    best = best[~taken[ids[best]] & (err.ravel()[best] > 0)]
    best = best[np.argsort(-err.ravel()[best], kind="stable")]
    cand = np.stack([fx[best], fy[best]], 1).astype(np.float32)
    # a point only helps in the frames where it is visible
    gain = err.ravel()[best].astype(np.float64) * prob.visible_fraction.ravel()[best]
    chosen: List[int] = []
    for _ in range(min(k, len(cand))):
        i = int(np.argmax(gain))
        if gain[i] <= 0:
            break
        chosen.append(i)
        d2 = ((cand - cand[i]) ** 2).sum(1)
        # a new point removes most of the error within about min_dist of it
        gain *= 1.0 - np.exp(-0.5 * d2 / max(min_dist, 1e-6) ** 2) if min_dist > 0 else (d2 > 0)
    return cand[chosen].reshape(-1, 2)


class Budget:
    """Point or bit budget of one segment."""

    def __init__(self, prob: Problem, cfg: Any, cost_bits: Optional[CostFn]) -> None:
        self.prob, self.cost_bits = prob, cost_bits
        self.bits = _get(cfg, "budget_bits", None)
        if self.bits is not None:
            self.bits = float(self.bits)
            if cost_bits is None:
                raise ConfigError("trajectories.budget_bits needs a trajectory cost function (cost_bits)")
            self.points = self.estimate_points()
        else:
            self.points = int(_get(cfg, "budget_points", 48))
            if self.points < 0:
                raise ConfigError(f"trajectories.budget_points must be >= 0, got {self.points}")
        self.points = min(self.points, MAX_POINTS)

    def cost(self, pts: np.ndarray) -> float:
        return float(self.cost_bits(self.prob.tracks(pts)))

    def fits(self, pts: np.ndarray) -> bool:
        if self.bits is None:
            return len(pts) <= self.points
        return self.cost(pts) <= self.bits

    def estimate_points(self) -> int:
        """Points the bit budget affords, from the cost of empty and 16-point probes."""
        c0 = self.cost(np.zeros((0, 2), np.float32))
        if c0 > self.bits:
            log.warning("trajectory bit budget %.0f is below the empty payload's %.0f bits", self.bits, c0)
            return 0
        probe = uniform_points(16, *self.prob.size)
        per_point = max((self.cost(probe) - c0) / len(probe), 1e-3)
        return int(min(MAX_POINTS, (self.bits - c0) / per_point))

    def largest_fitting(self, make: Callable[[int], np.ndarray], n: Optional[int] = None) -> np.ndarray:
        """``make(n)`` for the largest ``n`` (at most ``n`` if given, else the point budget)
        whose points fit (binary search in bits mode)."""
        if self.bits is None:
            return make(self.points if n is None else min(n, self.points))
        lo, hi = 0, max(1, min(MAX_POINTS, 2 * self.points + 16))
        if n is not None:
            if self.fits(make(n)):
                return make(n)
            hi = n - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.fits(make(mid)):
                lo = mid
            else:
                hi = mid - 1
        return make(lo)


def _check_motion(motion: DenseMotion, frame0: np.ndarray) -> None:
    if motion.flow.ndim != 4 or motion.flow.shape[1:3] != np.asarray(frame0).shape[:2]:
        raise ValueError(f"motion {motion.flow.shape} does not match frame {np.asarray(frame0).shape}")


def _setup(frame0: np.ndarray, motion: DenseMotion, cfg: Any, visibility_threshold: float,
           cost_bits: Optional[CostFn]) -> Optional[Tuple[Problem, Budget]]:
    """Every selector's start: checks, then the problem and its budget (``None``: one frame)."""
    _check_motion(motion, frame0)
    if motion.num_frames < 2:
        return None
    prob = prepare(frame0, motion, cfg, visibility_threshold)
    return prob, Budget(prob, cfg, cost_bits)


def _largest_fitting(frame0, motion, cfg, visibility_threshold, cost_bits,
                     make: Callable[[Problem, int], np.ndarray]) -> Tuple[Tracks, float]:
    """The largest point set ``make(prob, n)`` within the budget, and its fitted bandwidth."""
    setup = _setup(frame0, motion, cfg, visibility_threshold, cost_bits)
    if setup is None:
        return Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH
    prob, budget = setup
    pts = budget.largest_fitting(lambda n: make(prob, n))
    return prob.tracks(pts), prob.fit(pts)


@TRAJECTORY_SELECTORS.register("greedy")
def select_greedy(frame0: np.ndarray, motion: DenseMotion, cfg: Any = None, visibility_threshold: float = 0.3,
                  cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """Anchors + bandwidth fit + greedy residual refinement (module docstring)."""
    setup = _setup(frame0, motion, cfg, visibility_threshold, cost_bits)
    if setup is None:
        return Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH
    prob, budget = setup
    n_anchor = int(round(float(_get(cfg, "anchor_fraction", 0.33)) * budget.points))
    n_anchor = max(1, n_anchor) if budget.points else 0
    snap = float(_get(cfg, "anchor_snap", 0.0))
    pts = anchor_points(prob.weight, n_anchor, snap)
    while len(pts) and not budget.fits(pts):
        pts = anchor_points(prob.weight, len(pts) // 2, snap)
    if len(pts) == 0:
        return Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH
    bandwidth = prob.fit(pts)
    cells, per_step = int(_get(cfg, "residual_cells", 600)), int(_get(cfg, "points_per_step", 10))
    suppress = float(_get(cfg, "suppress", 2.0))
    for _ in range(int(_get(cfg, "max_steps", 100))):
        room = budget.points - len(pts) if budget.bits is None else per_step
        if room <= 0:
            break
        # a new point corrects the field within about one bandwidth: rank by the residual mass there
        err = cv2.GaussianBlur(prob.residual(pts, bandwidth), (0, 0), max(0.5, 0.5 * bandwidth / prob.step))
        new = residual_maxima(prob, err, pts, cells, min(per_step, room), suppress * bandwidth)
        if len(new) == 0:
            break
        if budget.bits is not None:
            new = _fit_bits(budget, pts, new)
            if len(new) == 0:
                break
        pts = np.concatenate([pts, new])
        bandwidth = prob.refit(pts, bandwidth)  # the denser set needs a narrower bandwidth
    bandwidth = prob.fit(pts)
    if _get(cfg, "compare_grid", True):
        grid = budget.largest_fitting(lambda n: anchor_points(prob.weight, n, snap),
                                      len(pts) if budget.bits is None else None)
        grid_bw = prob.fit(grid) if len(grid) else DEFAULT_BANDWIDTH
        if len(grid) and prob.error(grid, grid_bw) < prob.error(pts, bandwidth):
            log.debug("greedy: the anchor grid of %d points beats the refined %d points", len(grid), len(pts))
            pts, bandwidth = grid, grid_bw
    return prob.tracks(pts), bandwidth


def _fit_bits(budget: Budget, pts: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The longest prefix of ``new`` whose addition keeps the cost within the bit budget
    (one cost call, plus one more when the full set does not fit)."""
    cost_all = budget.cost(np.concatenate([pts, new]))
    if cost_all <= budget.bits:
        return new
    cost_now = budget.cost(pts)
    k = int(len(new) * (budget.bits - cost_now) / max(cost_all - cost_now, 1e-9))
    while k > 0 and budget.cost(np.concatenate([pts, new[:k]])) > budget.bits:
        k //= 2
    return new[:k]


@TRAJECTORY_SELECTORS.register("uniform")
def select_uniform(frame0: np.ndarray, motion: DenseMotion, cfg: Any = None, visibility_threshold: float = 0.3,
                   cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """A regular grid of the budgeted number of points."""
    return _largest_fitting(frame0, motion, cfg, visibility_threshold, cost_bits,
                            lambda prob, n: uniform_points(n, *prob.size))


def motion_points(prob: Problem, n: int) -> np.ndarray:
    """The ``n`` strongest local maxima of the mean motion magnitude (non-maximum suppression
    radius half the cell size of ``n`` points)."""
    if n <= 0:
        return np.zeros((0, 2), np.float32)
    h, w = prob.grid
    mag = np.linalg.norm(prob.target0, axis=-1).mean(0).astype(np.float32)
    radius = max(1, int(round(0.5 * math.sqrt(h * w / n))))
    dil = cv2.dilate(mag, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
    peak = (mag >= dil).ravel()
    order = np.argsort(-mag.ravel(), kind="stable")
    order = np.concatenate([order[peak[order]], order[~peak[order]]])[:n]  # peaks first, then the rest
    return prob.centres.reshape(-1, 2)[order].astype(np.float32)


@TRAJECTORY_SELECTORS.register("motion")
def select_motion(frame0: np.ndarray, motion: DenseMotion, cfg: Any = None, visibility_threshold: float = 0.3,
                  cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """The highest-motion points (ablation)."""
    return _largest_fitting(frame0, motion, cfg, visibility_threshold, cost_bits,
                            lambda prob, n: motion_points(prob, n))


def select_trajectories(frame0: np.ndarray, motion: DenseMotion, cfg: Any, visibility_threshold: float = 0.3,
                        cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """Trajectories by the selector named ``cfg.name`` (``greedy`` | ``uniform`` | ``motion``)."""
    select = TRAJECTORY_SELECTORS.get(str(_get(cfg, "name", "greedy")))
    return select(frame0, motion, cfg, visibility_threshold, cost_bits)


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
