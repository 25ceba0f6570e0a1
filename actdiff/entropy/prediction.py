"""The trajectory coder's motion prediction, and rounding that follows it (encoder only).

Units: positions are integer quantiser cells (``position / step``), ``int64 (T, N, 2)`` as
``(x, y)``; the coder codes, per frame and visible point, the residual of the cell displacement
against a prediction (:func:`predicted_displacement`) plus a per-frame global correction ``g``.

:func:`round_toward_prediction` is an encoder-side choice of the cells themselves (like the
rate–distortion-optimised quantisation of video coders): instead of the nearest cell it takes,
among the cells within ``snap`` steps of the true position, the one closest to the coder's
prediction, so that more residuals are 0. The decoder reads the coded cells as always; nothing
in the format changes. ``snap = 0.5`` is plain rounding; ``snap < 1`` keeps every quantised
track a fixed point (a position on a cell has only that cell within reach), so quantising
twice gives the same cells.
"""

from __future__ import annotations

import numpy as np

from actdiff.entropy.symbols import zigzag_array

PREDICTOR_SPANS = (2, 4, 8, 16, 0)  # predictor modes: frames in the line fit (0: none)
SNAP_RANGE = (0.5, 0.95)            # allowed rounding reach, in quantiser steps


def predicted_displacement(q: np.ndarray, t: int, idx: np.ndarray, mode: int) -> np.ndarray:
    """Predicted displacement ``int64 (n, 2)`` of points ``idx`` from ``t-1`` to ``t``.

    Mode ``m`` extrapolates the least-squares line through the last ``k = PREDICTOR_SPANS[m]``
    quantised positions one frame ahead (k = 2: constant velocity; k = 0: no motion), in exact
    integer arithmetic: ``round(sum_j (4k + 2 - 6j) q[t-j] / (k (k - 1)))``, rounding half up.
    Spans reaching before frame 0 are shortened to the ``t`` frames available.
    """
    k = min(PREDICTOR_SPANS[mode], t)
    if k < 2:
        return np.zeros((idx.size, 2), np.int64)
    den = k * (k - 1)
    num = np.zeros((idx.size, 2), np.int64)
    for j in range(1, k + 1):
        num += (4 * k + 2 - 6 * j) * q[t - j, idx]
    return (num + den // 2) // den - q[t - 1, idx]


def lower_median(x: np.ndarray) -> np.ndarray:
    """Per-column lower median of ``int64 (n, 2)`` (integer, deterministic)."""
    s = np.sort(x, axis=0)
    return s[(s.shape[0] - 1) // 2]


def cost_proxy(r: np.ndarray) -> int:
    """Integer cost proxy of residuals: ``sum(floor(log2(zigzag(r) + 1)))``."""
    z = zigzag_array(r) + 1
    return int(np.floor(np.log2(z)).sum()) if z.size else 0  # exact for int64 < 2**52


def frame_residuals(q: np.ndarray, t: int, idx: np.ndarray, mode: int):
    """Encoder side for frame ``t``, visible points ``idx``: ``(g, r, cost)``."""
    e = q[t, idx] - q[t - 1, idx] - predicted_displacement(q, t, idx, mode)
    g = lower_median(e)
    r = e - g
    return g, r, cost_proxy(r)


def round_toward_prediction(cells: np.ndarray, vis: np.ndarray, limit: np.ndarray,
                            snap: float) -> np.ndarray:
    """Integer cells ``int64 (T, N, 2)`` of true positions ``cells`` (float, in steps).

    Frame 0 is rounded to the nearest cell. At each later frame, for every predictor mode the
    visible points are moved from their nearest cell towards the mode's prediction (previous
    cells + predicted displacement + the frame's median correction), as far as the cells within
    ``snap`` steps of the true position allow; the mode whose residuals cost least (the coder's
    own proxy, ties → lowest mode) wins. Invisible points hold their last cell. Cells are
    clipped to ``[0, limit]`` per axis. Greedy and causal: each frame sees the cells chosen
    before it, as the coder does.
    """
    nearest = np.clip(np.rint(cells), 0, limit).astype(np.int64)
    q = nearest.copy()
    lo = np.clip(np.ceil(cells - snap), 0, limit).astype(np.int64)
    hi = np.clip(np.floor(cells + snap), 0, limit).astype(np.int64)
    for t in range(1, q.shape[0]):
        q[t] = q[t - 1]
        idx = np.flatnonzero(vis[t])
        if idx.size == 0:
            continue
        best_cost, best = None, None
        for mode in range(len(PREDICTOR_SPANS)):
            base = q[t - 1, idx] + predicted_displacement(q, t, idx, mode)
            g = lower_median(nearest[t, idx] - base)
            cand = np.clip(base + g, lo[t, idx], hi[t, idx])
            cost = cost_proxy(cand - base - lower_median(cand - base))
            if best_cost is None or cost < best_cost:
                best_cost, best = cost, cand
        q[t, idx] = best
    return q
