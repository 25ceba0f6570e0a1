"""Budgeted trajectory selection (registry: ``actdiff.registry.TRAJECTORY_SELECTORS``).

Every selector is ``select(frame0, motion, cfg, visibility_threshold, cost_bits=None) ->
(Tracks, bandwidth)``: it picks pixels of the segment's first frame, reads their trajectories
from the dense motion (``positions[t] = p + flow[t][p]``, ``visible = confidence >=
visibility_threshold``) and returns the quantised interpolation bandwidth (pixels) with which
:func:`actdiff.motion.interpolate_sparse` best densifies them.

Every error is the one the warp decoder sees
(:class:`actdiff.selection.decoder_error.Problem`): the backward maps it builds
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
  ``compare_fractions`` lists more anchor fractions whose refined sets compete the same way
  (``[0.5, 0.75]``: more of the budget on the grid, the rest where the grid errs). All these sets
  are :func:`greedy_candidates`; the fast encoder (``decoded_choice``, :mod:`actdiff.codec.decoded_choice`)
  decodes them and keeps the one that decodes best instead of the objective's.
  ``visibility_balance`` (default 0) weights samples whose chains break (moving objects) up to
  about as much as those visible throughout, ``objective_edge_sigma_r`` (default 0) makes the
  objective interpolate edge-aware as the decoder does (:class:`actdiff.selection.decoder_error.Problem`;
  both measured, neither decodes better on training clips: docs/video_interface.md).
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

from actdiff.config import setting
from actdiff.errors import ConfigError
from actdiff.motion.grids import cell_edges, grid_points, grid_shape
from actdiff.registry import TRAJECTORY_SELECTORS
from actdiff.selection import weight_maps  # noqa: F401  (registers the weight maps)
from actdiff.selection.decoder_error import DEFAULT_BANDWIDTH, Problem, prepare
from actdiff.types import DenseMotion, Tracks

log = logging.getLogger(__name__)

MAX_POINTS = 2048       # hard cap on trajectories per segment

CostFn = Callable[[Tracks], float]


def uniform_points(n: int, height: int, width: int) -> np.ndarray:
    """Centres ``(≤ n, 2)`` of a regular grid, rounded to integer pixels (:mod:`actdiff.motion.grids`, ``even``)."""
    if n <= 0:
        return np.zeros((0, 2), np.float32)
    return grid_points(*grid_shape(n, height, width), height, width, "even")


def anchor_points(weight: np.ndarray, n: int, snap: float = 0.5) -> np.ndarray:
    """One point per coarse-grid cell: the strongest ``weight`` pixel if ≥ 0.5, else the centre.

    The strongest pixel is searched in the central ``snap`` fraction (per side) of the cell
    only, so the anchors stay close to a regular grid (``snap=1``: the whole cell; 0: centres).
    """
    height, width = weight.shape
    if n <= 0:
        return np.zeros((0, 2), np.float32)
    rows, cols = grid_shape(n, height, width)
    ye, xe = cell_edges(rows, height), cell_edges(cols, width)
    centres = grid_points(rows, cols, height, width, "cell")
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
                pts.append(tuple(centres[i * cols + j]))
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
        self.bits = setting(cfg, "budget_bits", None)
        if self.bits is not None:
            self.bits = float(self.bits)
            if cost_bits is None:
                raise ConfigError("trajectories.budget_bits needs a trajectory cost function (cost_bits)")
            self.points = self.estimate_points()
        else:
            self.points = int(setting(cfg, "budget_points", 48))
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


@dataclass
class Candidate:
    """One point set a selector can return: ``label`` (e.g. ``"greedy 0.33"``, ``"grid"``), its
    trajectories, fitted bandwidth (pixels) and the selector's objective on it (decoder error,
    pixels; NaN where the selector has no objective)."""

    label: str
    tracks: Tracks
    bandwidth: float
    error: float


def greedy_candidates(frame0: np.ndarray, motion: DenseMotion, cfg: Any = None, visibility_threshold: float = 0.3,
                      cost_bits: Optional[CostFn] = None) -> List[Candidate]:
    """Every set greedy weighs (module docstring): the refinement from ``anchor_fraction`` and from
    each of ``compare_fractions``, then (``compare_grid``) the anchor grid with as many points as the
    best of those. The objective's choice first (the first of the lowest error), the others in that
    order; one empty candidate when not even one anchor fits."""
    setup = _setup(frame0, motion, cfg, visibility_threshold, cost_bits)
    empty = [Candidate("empty", Tracks.empty(motion.num_frames), DEFAULT_BANDWIDTH, math.nan)]
    if setup is None:
        return empty
    prob, budget = setup
    snap = float(setting(cfg, "anchor_snap", 0.0))
    fractions = [float(setting(cfg, "anchor_fraction", 0.33))]
    fractions += [float(f) for f in setting(cfg, "compare_fractions", None) or ()]
    sets = [(f"greedy {f:g}", got) for f in fractions
            if (got := greedy_refine(prob, budget, f, snap, cfg)) is not None]
    if not sets:
        return empty
    errors = [prob.error(*got) for _, got in sets]
    if setting(cfg, "compare_grid", True):
        pts = sets[int(np.argmin(errors))][1][0]
        grid = budget.largest_fitting(lambda n: anchor_points(prob.weight, n, snap),
                                      len(pts) if budget.bits is None else None)
        if len(grid):
            bandwidth = prob.fit(grid)
            sets.append(("grid", (grid, bandwidth)))
            errors.append(prob.error(grid, bandwidth))
    best = int(np.argmin(errors))
    order = [best] + [i for i in range(len(sets)) if i != best]
    return [Candidate(sets[i][0], prob.tracks(sets[i][1][0]), float(sets[i][1][1]), float(errors[i])) for i in order]


@TRAJECTORY_SELECTORS.register("greedy")
def select_greedy(frame0: np.ndarray, motion: DenseMotion, cfg: Any = None, visibility_threshold: float = 0.3,
                  cost_bits: Optional[CostFn] = None) -> Tuple[Tracks, float]:
    """Anchors + bandwidth fit + greedy residual refinement (module docstring): the objective's
    choice among :func:`greedy_candidates`."""
    best = greedy_candidates(frame0, motion, cfg, visibility_threshold, cost_bits)[0]
    log.debug("greedy: the objective keeps %s", best.label)
    return best.tracks, best.bandwidth


def greedy_refine(prob: Problem, budget: Budget, anchor_fraction: float, snap: float,
                  cfg: Any) -> Optional[Tuple[np.ndarray, float]]:
    """Greedy's points ``(N, 2)`` and fitted bandwidth from anchors on ``anchor_fraction`` of the
    budget (``None``: not even one anchor fits)."""
    n_anchor = int(round(anchor_fraction * budget.points))
    n_anchor = max(1, n_anchor) if budget.points else 0
    pts = anchor_points(prob.weight, n_anchor, snap)
    while len(pts) and not budget.fits(pts):
        pts = anchor_points(prob.weight, len(pts) // 2, snap)
    if len(pts) == 0:
        return None
    bandwidth = prob.fit(pts)
    cells, per_step = int(setting(cfg, "residual_cells", 600)), int(setting(cfg, "points_per_step", 10))
    suppress = float(setting(cfg, "suppress", 2.0))
    for _ in range(int(setting(cfg, "max_steps", 100))):
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
    return pts, prob.fit(pts)


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
    select = TRAJECTORY_SELECTORS.get(str(setting(cfg, "name", "greedy")))
    return select(frame0, motion, cfg, visibility_threshold, cost_bits)


def candidate_sets(frame0: np.ndarray, motion: DenseMotion, cfg: Any, visibility_threshold: float = 0.3,
                   cost_bits: Optional[CostFn] = None) -> List[Candidate]:
    """The point sets the selector ``cfg.name`` weighs, its own choice first: :func:`greedy_candidates`
    for ``greedy``, the one selection (objective NaN) for any other selector."""
    name = str(setting(cfg, "name", "greedy"))
    if name == "greedy":
        return greedy_candidates(frame0, motion, cfg, visibility_threshold, cost_bits)
    tracks, bandwidth = TRAJECTORY_SELECTORS.get(name)(frame0, motion, cfg, visibility_threshold, cost_bits)
    return [Candidate(name, tracks, float(bandwidth), math.nan)]
