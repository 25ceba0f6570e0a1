"""Regular point grids over a frame: where the trajectory selectors put their grid points, and
what the trajectory coder (``adaptive_grid``) can name by its shape instead of point by point.

Positions are ``float32 (rows * cols, 2)`` pixels ``(x, y)`` in raster order (row by row), on a
frame of ``height x width`` pixels split into ``rows x cols`` cells. Two placements:

* ``cell``: the centre pixel of each cell of the integer cell edges ``linspace(0, size, count + 1)``
  (the greedy selector's anchors, :func:`actdiff.selection.trajectories.anchor_points`);
* ``even``: ``floor((i + 0.5) * size / count)`` (the uniform selector's points).
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

GRID_KINDS = ("cell", "even")


def grid_shape(n: int, height: int, width: int) -> Tuple[int, int]:
    """``(rows, cols)`` of a grid of at most ``n`` (≥ 1) cells with roughly square cells."""
    cols = max(1, min(n, int(math.floor(math.sqrt(n * width / height)))))
    return max(1, n // cols), cols


def cell_edges(count: int, size: int) -> np.ndarray:
    """Integer edges ``int (count + 1,)`` of ``count`` cells over ``size`` pixels."""
    return np.linspace(0, size, count + 1).astype(int)


def grid_points(rows: int, cols: int, height: int, width: int, kind: str = "cell") -> np.ndarray:
    """The ``rows x cols`` grid's points ``float32 (rows * cols, 2)``, pixels ``(x, y)``, raster order."""
    if kind == "cell":
        ye, xe = cell_edges(rows, height), cell_edges(cols, width)
        ys, xs = (ye[:-1] + ye[1:] - 1) // 2, (xe[:-1] + xe[1:] - 1) // 2
    elif kind == "even":
        ys = np.floor((np.arange(rows) + 0.5) * height / rows)
        xs = np.floor((np.arange(cols) + 0.5) * width / cols)
    else:
        raise ValueError(f"unknown grid kind {kind!r} (known: {', '.join(GRID_KINDS)})")
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
