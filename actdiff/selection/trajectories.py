"""Budgeted trajectory selection (registry: ``actdiff.registry.TRAJECTORY_SELECTORS``).

Every selector is ``select(frame0, motion, cfg, visibility_threshold, cost_bits=None) ->
(Tracks, bandwidth)``: it picks pixels of the segment's first frame, reads their trajectories
from the dense motion (``positions[t] = p + flow[t][p]``, ``visible = confidence >=
visibility_threshold``) and returns the quantised interpolation bandwidth (pixels) with which
:func:`actdiff.motion.interpolate_sparse` best densifies them.

* ``greedy`` (the method): weight map ``W`` of frame 0 (``cfg.weight_map``); anchors, about
  ``anchor_fraction`` of the budget, on a coarse grid (the strongest ``W`` pixel of each cell
  if ≥ 0.5, else the cell centre); bandwidth fitted on the anchors (0.25–4 × cell size); then
  per step the ``points_per_step`` largest maxima of the residual map (time-mean of
  ``(W + 0.05) · [visible] · |interpolated - dense|``) taken from cells of a
  ``residual_cells`` grid that hold no point yet (the residual blurred over half a bandwidth, as a
  point corrects the field around it), new points at least one bandwidth apart, until the budget or ``max_steps``; the
  bandwidth is refitted for the final point density.
* ``uniform``: a regular grid; ``motion``: the largest mean motion magnitudes with non-maximum
  suppression. Both fit the bandwidth the same way.

Budget: ``budget_points``, or ``budget_bits`` (then ``cost_bits(tracks)`` must be given; the
selection never returns tracks whose cost exceeds it). Errors are evaluated on up to 8 evenly
spaced frames and a grid downsampled to about 6000 pixels.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

import cv2
import numpy as np

from actdiff.errors import ConfigError
from actdiff.motion.interpolate import (
    _downsample,
    bandwidth_candidates,
    default_grid_step,
    fit_bandwidth,
    interpolate_sparse,
    weighted_error,
)
from actdiff.registry import TRAJECTORY_SELECTORS, WEIGHT_MAPS
from actdiff.selection import weight_maps  # noqa: F401  (registers the weight maps)
from actdiff.tracking.base import tracks_from_motion
from actdiff.types import DenseMotion, Tracks

log = logging.getLogger(__name__)

MAX_FRAMES = 8          # frames used for error evaluation
MAX_POINTS = 2048       # hard cap on trajectories per segment
WEIGHT_FLOOR = 0.05     # added to the weight map so flat areas still count a little
DEFAULT_BANDWIDTH = 16.0

CostFn = Callable[[Tracks], float]


def _get(cfg: Any, key: str, default: Any) -> Any:
    if cfg is None:
        return default
    value = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    return default if value is None else value


@dataclass
class Problem:
    """What every selector needs, prepared once per segment."""

    motion: DenseMotion
    weight: np.ndarray        # (H, W) weight map in [0, 1]
    frames: np.ndarray        # subsampled frame indices (T',)
    step: int                 # error-grid downsampling step
    target: np.ndarray        # (h, w, 2T') dense displacements on the error grid
    err_weight: np.ndarray    # (h, w, T') error weights
    visibility_threshold: float

    @property
    def size(self) -> Tuple[int, int]:
        return self.motion.flow.shape[1:3]

    def values(self, pts: np.ndarray) -> np.ndarray:
        """Displacements ``(T', N, 2)`` of integer pixels ``pts (N, 2)``."""
        x, y = pts[:, 0].astype(int), pts[:, 1].astype(int)
        return self.motion.flow[self.frames][:, y, x]

    def residual(self, pts: np.ndarray, bandwidth: float) -> np.ndarray:
        """Time-mean weighted interpolation error ``(h, w)`` of points ``pts``."""
        h, w = self.target.shape[:2]
        vals = self.values(pts).transpose(1, 0, 2).reshape(len(pts), -1)
        dense, _ = interpolate_sparse((pts + 0.5) / self.step - 0.5, vals, h, w, bandwidth / self.step)
        return weighted_error(dense, self.target, self.err_weight, 2)

    def fit(self, pts: np.ndarray) -> float:
        """Quantised bandwidth (0.25–4 × the cell size of ``len(pts)`` points)."""
        if len(pts) == 0:
            return DEFAULT_BANDWIDTH
        height, width = self.size
        cell = math.sqrt(height * width / len(pts))
        full = self.motion.flow[self.frames]
        wmap = (self.weight + WEIGHT_FLOOR) * (self.motion.confidence[self.frames] >= self.visibility_threshold)
        return fit_bandwidth(pts, self.values(pts), full, wmap, bandwidth_candidates(cell), grid_step=self.step)

    def tracks(self, pts: np.ndarray) -> Tracks:
        return tracks_from_motion(self.motion, pts, self.visibility_threshold)


def prepare(frame0: np.ndarray, motion: DenseMotion, cfg: Any, visibility_threshold: float) -> Problem:
    """Weight map, subsampled frames and the downsampled error grid of one segment."""
    height, width = motion.flow.shape[1:3]
    weight = np.asarray(WEIGHT_MAPS.get(str(_get(cfg, "weight_map", "sobel")))(frame0), np.float32)
    n = motion.num_frames
    frames = np.unique(np.linspace(1, n - 1, min(MAX_FRAMES, n - 1)).round().astype(int)) if n > 1 else np.zeros(1, int)
    step = default_grid_step(height, width)
    target = np.concatenate([_downsample(motion.flow[t], step) for t in frames], axis=2)
    vis = np.stack([_downsample(motion.confidence[t], step) >= visibility_threshold for t in frames], -1)
    wsmall = _downsample(weight, step) + WEIGHT_FLOOR
    return Problem(motion, weight, frames, step, target, wsmall[..., None] * vis, float(visibility_threshold))


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


def anchor_points(weight: np.ndarray, n: int) -> np.ndarray:
    """One point per coarse-grid cell: the strongest ``weight`` pixel if ≥ 0.5, else the centre."""
    height, width = weight.shape
    if n <= 0:
        return np.zeros((0, 2), np.float32)
    rows, cols = grid_shape(n, height, width)
    ye = np.linspace(0, height, rows + 1).astype(int)
    xe = np.linspace(0, width, cols + 1).astype(int)
    pts = []
    for i in range(rows):
        for j in range(cols):
            block = weight[ye[i]:ye[i + 1], xe[j]:xe[j + 1]]
            by, bx = np.mgrid[0:block.shape[0], 0:block.shape[1]]
            off = np.hypot(by - (block.shape[0] - 1) / 2, bx - (block.shape[1] - 1) / 2)
            k = int(np.argmax(block - 1e-4 * off / max(off.max(), 1)))  # ties → nearest the centre
            by, bx = divmod(k, block.shape[1])
            if block.flat[k] >= 0.5:
                pts.append((xe[j] + bx, ye[i] + by))
            else:
                pts.append(((xe[j] + xe[j + 1] - 1) // 2, (ye[i] + ye[i + 1] - 1) // 2))
    return np.asarray(pts, np.float32)


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
    h, w = err.shape
    gy, gx = np.mgrid[0:h, 0:w]
    fx = np.clip(np.round((gx + 0.5) * prob.step - 0.5), 0, width - 1).ravel()
    fy = np.clip(np.round((gy + 0.5) * prob.step - 0.5), 0, height - 1).ravel()
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
    chosen: List[np.ndarray] = []
    for c in cand:
        if len(chosen) == k:
            break
        if not chosen or np.min(np.hypot(*(np.asarray(chosen) - c).T)) >= min_dist:
            chosen.append(c)
    return np.asarray(chosen, np.float32).reshape(-1, 2)


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

    def largest_fitting(self, make: Callable[[int], np.ndarray]) -> np.ndarray:
        """``make(n)`` for the largest ``n`` whose points fit (binary search in bits mode)."""
        if self.bits is None:
            return make(self.points)
        lo, hi = 0, max(1, min(MAX_POINTS, 2 * self.points + 16))
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


@TRAJECTORY_SELECTORS.register("greedy")
def select_greedy(frame0: np.ndarray, motion: DenseMotion, cfg: Any = None, visibility_threshold: float = 0.3,
                  cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """Anchors + bandwidth fit + greedy residual refinement (module docstring)."""
    _check_motion(motion, frame0)
    if motion.num_frames < 2:
        return Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH
    prob = prepare(frame0, motion, cfg, visibility_threshold)
    budget = Budget(prob, cfg, cost_bits)
    n_anchor = int(round(float(_get(cfg, "anchor_fraction", 0.33)) * budget.points))
    n_anchor = max(1, n_anchor) if budget.points else 0
    pts = anchor_points(prob.weight, n_anchor)
    while len(pts) and not budget.fits(pts):
        pts = anchor_points(prob.weight, len(pts) // 2)
    if len(pts) == 0:
        return Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH
    bandwidth = prob.fit(pts)
    cells, per_step = int(_get(cfg, "residual_cells", 600)), int(_get(cfg, "points_per_step", 10))
    for _ in range(int(_get(cfg, "max_steps", 100))):
        room = budget.points - len(pts) if budget.bits is None else per_step
        if room <= 0:
            break
        # a new point corrects the field within about one bandwidth: rank by the residual mass there
        err = cv2.GaussianBlur(prob.residual(pts, bandwidth), (0, 0), max(0.5, 0.5 * bandwidth / prob.step))
        new = residual_maxima(prob, err, pts, cells, min(per_step, room), bandwidth)
        if len(new) == 0:
            break
        if budget.bits is not None:
            new = _fit_bits(budget, pts, new)
            if len(new) == 0:
                break
        pts = np.concatenate([pts, new])
    return prob.tracks(pts), prob.fit(pts)


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
    _check_motion(motion, frame0)
    if motion.num_frames < 2:
        return Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH
    prob = prepare(frame0, motion, cfg, visibility_threshold)
    budget = Budget(prob, cfg, cost_bits)
    pts = budget.largest_fitting(lambda n: uniform_points(n, *prob.size))
    return prob.tracks(pts), prob.fit(pts)


def motion_points(prob: Problem, n: int) -> np.ndarray:
    """The ``n`` strongest local maxima of the mean motion magnitude (non-maximum suppression
    radius half the cell size of ``n`` points)."""
    if n <= 0:
        return np.zeros((0, 2), np.float32)
    height, width = prob.size
    h, w = prob.target.shape[:2]
    mag = np.linalg.norm(prob.target.reshape(h, w, -1, 2), axis=-1).mean(-1).astype(np.float32)
    radius = max(1, int(round(0.5 * math.sqrt(h * w / n))))
    dil = cv2.dilate(mag, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
    peak = (mag >= dil).ravel()
    order = np.argsort(-mag.ravel(), kind="stable")
    order = np.concatenate([order[peak[order]], order[~peak[order]]])[:n]  # peaks first, then the rest
    ys, xs = np.divmod(order, w)
    fx = np.clip(np.round((xs + 0.5) * prob.step - 0.5), 0, width - 1)
    fy = np.clip(np.round((ys + 0.5) * prob.step - 0.5), 0, height - 1)
    return np.stack([fx, fy], 1).astype(np.float32)


@TRAJECTORY_SELECTORS.register("motion")
def select_motion(frame0: np.ndarray, motion: DenseMotion, cfg: Any = None, visibility_threshold: float = 0.3,
                  cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """The highest-motion points (ablation)."""
    _check_motion(motion, frame0)
    if motion.num_frames < 2:
        return Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH
    prob = prepare(frame0, motion, cfg, visibility_threshold)
    budget = Budget(prob, cfg, cost_bits)
    pts = budget.largest_fitting(lambda n: motion_points(prob, n))
    return prob.tracks(pts), prob.fit(pts)


def select_trajectories(frame0: np.ndarray, motion: DenseMotion, cfg: Any, visibility_threshold: float = 0.3,
                        cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """Trajectories by the selector named ``cfg.name`` (``greedy`` | ``uniform`` | ``motion``)."""
    select = TRAJECTORY_SELECTORS.get(str(_get(cfg, "name", "greedy")))
    return select(frame0, motion, cfg, visibility_threshold, cost_bits)


def interpolation_error(tracks: Tracks, motion: DenseMotion, bandwidth: float, weight: Optional[np.ndarray] = None) -> float:
    """Mean (weighted) end-point error of the tracks' interpolated forward motion vs the dense
    motion over all frames — a diagnostic for comparing selectors."""
    height, width = motion.flow.shape[1:3]
    wmap = np.ones((height, width), np.float32) if weight is None else weight
    errs: List[float] = []
    for t in range(1, motion.num_frames):
        dense, _ = interpolate_sparse(tracks.positions[0], tracks.positions[t] - tracks.positions[0], height, width, bandwidth)
        errs.append(float((np.linalg.norm(dense - motion.flow[t], axis=-1) * wmap).sum() / wmap.sum()))
    return float(np.mean(errs)) if errs else 0.0
