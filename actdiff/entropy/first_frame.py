"""Coding of a segment's frame-0 point positions (the part of a trajectory payload before motion).

Positions are integer quantiser cells ``int64 (N, 2)`` as ``(x, y)``, ``0 <= x <= qx``,
``0 <= y <= qy``, in raster order (by ``y``, then ``x``). Every symbol is a uniform code, so
a payload part's size is the sum of ``log2(alphabet size)`` over its symbols.

Plain coding (coder ``adaptive``): the grid shift ``s`` (2 bits: all coordinates are multiples
of ``2**s`` cells, e.g. integer pixels at step 0.5 → s = 1), then in units of ``2**s`` cells,
per point, the row offset ``dy = y_i - y_{i-1} >= 0`` as a Rice code with parameter
``k = floor(log2(rows / N))`` and ``x`` uniform over the row (or, on the same row as the
previous point, uniform over ``[x_{i-1}, W)``). About ``log2(cells / N) + 1.5`` bits a point,
close to the entropy of an unstructured point set.

Grid coding (coder ``adaptive_grid``): the selectors put many points on regular grids
(:mod:`actdiff.motion.grids`), which the decoder can rebuild from their shape. First one flag; when
set: ``rows`` (``1..N``), ``cols`` (``1..N // rows``), the placement (``cell`` / ``even``), how many
of the grid's points are present ``h`` (``0..rows·cols``), and then whichever is shorter, the
indices of the ``h`` present grid points or of the absent ones (increasing, uniform over the
grid); then the other ``N - h`` points, coded plainly. The frame's positions are the raster-sorted
union. The encoder tries the grids of at most ``N`` cells that hold most of the points and keeps
the cheapest coding (flag unset if no grid pays), so the decoder's re-encoding check pins it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from actdiff.entropy.symbols import SymbolDecoder
from actdiff.errors import BitstreamError
from actdiff.motion.grids import GRID_KINDS, grid_points, grid_shape

_MAX_UNARY = 64      # longest Rice quotient the decoder accepts
_TRIED_GRIDS = 3     # grids costed exactly per frame (those holding most points)


@dataclass(frozen=True)
class FrameGrid:
    """What grid coding needs besides the cells: the quantiser step (pixels) and frame size."""

    step: float
    height: int
    width: int


def _rice_k(rows: int, n: int) -> int:
    return max(0, math.floor(math.log2(max(rows, 1) / max(n, 1))) if rows > n else 0)


def _grid_shift(q0: np.ndarray) -> int:
    """Largest ``s <= 3`` such that all frame-0 coordinates are multiples of ``2**s``."""
    for s in (3, 2, 1):
        if not (q0 & ((1 << s) - 1)).any():
            return s
    return 0


def plain_symbols(q0: np.ndarray, qx: int, qy: int) -> tuple[list[int], list[int]]:
    """Symbols and alphabet sizes of the plain coding of raster-ordered cells ``q0``."""
    shift = _grid_shift(q0)
    q0, qx, qy = q0 >> shift, qx >> shift, qy >> shift
    n = q0.shape[0]
    k = _rice_k(qy + 1, n)
    syms, sizes = [shift], [4]
    prev_x, prev_y = 0, 0
    for i in range(n):
        x, y = int(q0[i, 0]), int(q0[i, 1])
        dy = y - prev_y
        quo = dy >> k
        syms += [1] * quo + [0]
        sizes += [2] * (quo + 1)
        for s in range(k - 1, -1, -1):
            syms.append((dy >> s) & 1)
            sizes.append(2)
        lo = prev_x if (i > 0 and dy == 0) else 0
        syms.append(x - lo)
        sizes.append(qx - lo + 1)
        prev_x, prev_y = x, y
    return syms, sizes


def decode_plain(dec: SymbolDecoder, n: int, qx: int, qy: int) -> np.ndarray:
    """Inverse of :func:`plain_symbols`: ``int64 (n, 2)`` cells in raster order."""
    shift = int(dec.uniform(1, 4)[0])
    qx, qy = qx >> shift, qy >> shift
    k = _rice_k(qy + 1, n)
    q0 = np.zeros((n, 2), np.int64)
    prev_x, prev_y = 0, 0
    for i in range(n):
        quo = 0
        while dec.uniform(1, 2)[0]:
            quo += 1
            if quo > _MAX_UNARY or (quo << k) > qy:
                raise BitstreamError("corrupt trajectory payload: first-frame row offset too large")
        rem = 0
        for _ in range(k):
            rem = (rem << 1) | int(dec.uniform(1, 2)[0])
        y = prev_y + (quo << k) + rem
        if y > qy:
            raise BitstreamError("corrupt trajectory payload: first-frame point below the frame")
        lo = prev_x if (i > 0 and y == prev_y) else 0
        x = lo + int(dec.uniform(1, qx - lo + 1)[0])
        q0[i] = (x, y)
        prev_x, prev_y = x, y
    return q0 << shift


@lru_cache(maxsize=2048)  # bounded memory: at most MAX_POINTS cells a grid
def _grid_cells(rows: int, cols: int, kind: int, grid: FrameGrid, qx: int, qy: int) -> np.ndarray:
    """The grid's points as cells ``int64 (rows * cols, 2)``, as the quantiser would round them."""
    px = grid_points(rows, cols, grid.height, grid.width, GRID_KINDS[kind]).astype(np.float64)
    cells = np.clip(np.rint(px / grid.step), 0, [qx, qy]).astype(np.int64)
    cells.flags.writeable = False
    return cells


@lru_cache(maxsize=32)  # ~0.2 MB each at 384 points
def _candidates(n: int, grid: FrameGrid, qx: int, qy: int):
    """Every grid the selectors make with ``1..n`` points, both placements: ``(rows, kind, cells)``
    per candidate, and all their cells' raster codes ``y * (qx + 1) + x`` with the candidate's index."""
    shapes = sorted({grid_shape(k, grid.height, grid.width) for k in range(1, n + 1)})
    cands, codes, ids = [], [], []
    for rows, cols in shapes:
        for kind in range(len(GRID_KINDS)):
            cells = _grid_cells(rows, cols, kind, grid, qx, qy)
            codes.append(cells[:, 1] * (qx + 1) + cells[:, 0])
            ids.append(np.full(len(cells), len(cands), np.int32))
            cands.append((rows, kind, rows * cols))
    return cands, np.concatenate(codes), np.concatenate(ids)


def _split(q0: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which grid points are present (``bool (cells,)``, each matching one point of ``q0``), and
    the points of ``q0`` left over (raster order kept)."""
    left = Counter(map(tuple, q0.tolist()))
    present = np.zeros(len(cells), bool)
    for i, c in enumerate(map(tuple, cells.tolist())):
        if left[c] > 0:
            left[c] -= 1
            present[i] = True
    rest = []
    for p in map(tuple, q0.tolist()):
        if left[p] > 0:
            left[p] -= 1
            rest.append(p)
    return present, np.array(rest, np.int64).reshape(-1, 2)


def _grid_symbols(q0: np.ndarray, qx: int, qy: int, rows: int, cols: int, kind: int,
                  grid: FrameGrid) -> tuple[list[int], list[int]]:
    n = q0.shape[0]
    present, rest = _split(q0, _grid_cells(rows, cols, kind, grid, qx, qy))
    cells, h = rows * cols, int(present.sum())
    listed = np.flatnonzero(present if 2 * h <= cells else ~present).tolist()
    syms = [1, rows - 1, cols - 1, kind, h] + listed
    sizes = [2, n, n // rows, len(GRID_KINDS), cells + 1] + [cells] * len(listed)
    rest_syms, rest_sizes = plain_symbols(rest, qx, qy)
    return syms + rest_syms, sizes + rest_sizes


def _bits(sizes: list[int]) -> float:
    return float(np.log2(np.asarray(sizes, np.float64)).sum())


def frame0_symbols(q0: np.ndarray, qx: int, qy: int, grid: FrameGrid | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Symbols and alphabet sizes ``int64`` (size-1 alphabets dropped: they cost nothing) of
    the frame-0 cells ``q0``: plain (``grid is None``), or grid coding (see module doc)."""
    syms, sizes = plain_symbols(q0, qx, qy)
    if grid is not None:
        syms, sizes = [0] + syms, [2] + sizes
        cands, codes, ids = _candidates(q0.shape[0], grid, qx, qy)
        hits = np.bincount(ids[np.isin(codes, q0[:, 1] * (qx + 1) + q0[:, 0])], minlength=len(cands))
        scored = sorted((-int(h), c[2], c[0], c[1]) for h, c in zip(hits, cands) if h >= 2)
        for _, cells, rows, kind in scored[:_TRIED_GRIDS]:
            cand = _grid_symbols(q0, qx, qy, rows, cells // rows, kind, grid)
            if _bits(cand[1]) < _bits(sizes):
                syms, sizes = cand
    syms_a, sizes_a = np.array(syms, np.int64), np.array(sizes, np.int64)
    keep = sizes_a > 1
    return syms_a[keep], sizes_a[keep]


def decode_frame0(dec: SymbolDecoder, n: int, qx: int, qy: int, grid: FrameGrid | None = None) -> np.ndarray:
    """Inverse of :func:`frame0_symbols`: ``int64 (n, 2)`` cells in raster order."""
    if grid is None or not dec.uniform(1, 2)[0]:
        return decode_plain(dec, n, qx, qy)
    rows = 1 + int(dec.uniform(1, n)[0])
    cols = 1 + int(dec.uniform(1, n // rows)[0])
    kind = int(dec.uniform(1, len(GRID_KINDS))[0])
    cells = rows * cols
    h = int(dec.uniform(1, cells + 1)[0])
    listed = dec.uniform(min(h, cells - h), cells)
    if listed.size > 1 and (np.diff(listed) <= 0).any():
        raise BitstreamError("corrupt trajectory payload: grid point indices out of order")
    present = np.zeros(cells, bool)
    present[listed] = True
    if 2 * h > cells:
        present = ~present
    on_grid = _grid_cells(rows, cols, kind, grid, qx, qy)[present]
    q0 = np.concatenate([on_grid, decode_plain(dec, n - h, qx, qy)])
    return q0[np.lexsort((q0[:, 0], q0[:, 1]))]
