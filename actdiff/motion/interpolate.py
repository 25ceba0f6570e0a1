"""Sparse → dense interpolation of point displacements (shared by encoder and decoders).

The same :func:`interpolate_sparse` is used by trajectory selection (to measure how well the
chosen points describe the dense motion), by the warp decoder and by the diffusion decoder's
conditioning (through :func:`dense_flow_from_tracks`), so encoder and decoder agree exactly.

Method — normalised Gaussian interpolation ("normalised convolution") around a global affine
trend:

1. a global affine motion ``a + B·(x, y)`` is fitted to the points by weighted least squares
   (lightly ridge-regularised; the weighted mean when fewer than 3 points), so camera pans and
   zooms, and any affine field, are reproduced exactly. The fit represents the frame, not the
   points: each point is weighted by its share of the frame (its Voronoi cell area,
   :func:`coverage_weights`), and it is robust (IRLS with Tukey's biweight,
   :func:`robust_trend`), so points packed on a moving object neither outweigh the
   background nor skew its motion;
2. the residuals ``w·(v - trend)`` and the weights ``w`` are splatted bilinearly onto the grid,
   both Gaussian-blurred with ``sigma = bandwidth``, and divided;
3. the result is ``trend + blurred residual / (blurred weight + eps)`` where ``eps`` is 1e-3 of
   one point's peak density, so far (≳ 3.7 σ) from every point the field falls back smoothly to
   the global affine trend instead of dividing by ~0.

For large bandwidths the blur runs on a grid reduced by ``floor(bandwidth / 4)`` and is
upsampled bilinearly, so a call costs O(H·W) whatever N and the bandwidth are.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import cv2
import numpy as np

from actdiff.motion.warp import splat_bilinear
from actdiff.types import Tracks

#: Bandwidth codes: ``b = 2 ** (code / BANDWIDTH_CODE_SCALE)`` pixels, code in 0..255.
BANDWIDTH_CODE_SCALE = 32.0
#: Density (in units of one point's peak) at which the confidence is 1 - 1/e.
CONFIDENCE_DENSITY = 0.5
#: Ridge weight (relative to the total point weight) on the trend's slope terms.
TREND_RIDGE = 1e-3
#: Grid cells on which :func:`coverage_weights` measures each point's share of the frame.
COVERAGE_CELLS = 4096
#: IRLS iterations of the robust trend and the smallest residual scale it uses (pixels).
TREND_ITERATIONS = 4
TREND_MIN_SCALE = 0.25
#: Weight of the zero prior of the residual interpolation, in units of one point's peak
#: density: far (≳ 3.7 bandwidths) from every point the field falls back to the trend.
NC_PRIOR = 1e-3


def bandwidth_code(b: float) -> int:
    """One-byte code of bandwidth ``b`` (pixels): ``round(32·log2 b)`` clipped to 0..255."""
    if not np.isfinite(b) or b <= 0:
        return 0
    return int(np.clip(round(BANDWIDTH_CODE_SCALE * math.log2(b)), 0, 255))


def bandwidth_from_code(code: int) -> float:
    """Bandwidth in pixels of a one-byte code (1 px … about 250 px, ~2.2 % steps)."""
    return float(2.0 ** (int(np.clip(code, 0, 255)) / BANDWIDTH_CODE_SCALE))


def quantize_bandwidth(b: float) -> float:
    """The bandwidth the bitstream can carry nearest (on a log scale) to ``b``."""
    return bandwidth_from_code(bandwidth_code(b))


def _design(x: np.ndarray, y: np.ndarray, height: int, width: int) -> np.ndarray:
    scale = max(height, width) / 2.0
    return np.stack([np.ones_like(x), (x - (width - 1) / 2) / scale, (y - (height - 1) / 2) / scale], -1)


def fit_trend(points: np.ndarray, values: np.ndarray, weights: np.ndarray, height: int, width: int) -> np.ndarray:
    """Weighted affine trend coefficients ``(3, C)`` (constant, x-slope, y-slope; normalised
    coordinates). With fewer than 3 points only the weighted mean is used."""
    a = _design(points[:, 0].astype(np.float64), points[:, 1].astype(np.float64), height, width)
    wsum = float(weights.sum())
    coef = np.zeros((3, values.shape[1]), np.float64)
    if wsum <= 0:
        return coef
    coef[0] = (weights[:, None] * values).sum(0) / wsum
    if len(points) < 3:
        return coef
    aw = a * weights[:, None]
    lhs = a.T @ aw + TREND_RIDGE * wsum * np.diag([0.0, 1.0, 1.0])
    try:
        return np.linalg.solve(lhs, aw.T @ values)
    except np.linalg.LinAlgError:
        return coef


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(x[order][min(int(np.searchsorted(cw, 0.5 * cw[-1])), len(x) - 1)])


def robust_trend(points: np.ndarray, values: np.ndarray, weights: np.ndarray, height: int, width: int,
                 iterations: int = TREND_ITERATIONS) -> np.ndarray:
    """Affine trend ``(3, C)`` by iteratively reweighted least squares (Tukey biweight).

    The scale is 1.4826 × the weighted median residual norm (at least ``TREND_MIN_SCALE``
    pixels) and points beyond 4.685 scales get weight 0, so the trend follows the motion of
    most of the (weighted) points — the background — and a moving object does not skew it.
    """
    coef = fit_trend(points, values, weights, height, width)
    if len(points) < 4:
        return coef
    a = _design(points[:, 0], points[:, 1], height, width)
    for _ in range(iterations):
        r = np.linalg.norm(values - a @ coef, axis=1)
        scale = max(1.4826 * _weighted_median(r, weights), TREND_MIN_SCALE)
        u = r / (4.685 * scale)
        rw = weights * np.clip(1 - u * u, 0, None) ** 2
        if rw.sum() <= 1e-9 * weights.sum():
            break
        new = fit_trend(points, values, rw, height, width)
        done = np.abs(new - coef).max() < 1e-3 * TREND_MIN_SCALE
        coef = new
        if done:
            break
    return coef


def interpolation_trend(points: np.ndarray, values: np.ndarray, height: int, width: int,
                        weights: Optional[np.ndarray] = None) -> np.ndarray:
    """The trend :func:`interpolate_sparse` uses, ``(3, C)``: :func:`robust_trend` with each
    point weighted by its :func:`coverage_weights` share of the frame (times ``weights``).
    ``points (N, 2)``, ``values (N, C)`` must be finite (``weights`` > 0)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    vals = np.asarray(values, np.float64).reshape(len(pts), -1)
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, np.float64).ravel()
    return robust_trend(pts, vals, w * coverage_weights(pts, height, width), height, width)


def coverage_weights(points: np.ndarray, height: int, width: int, cells: int = COVERAGE_CELLS) -> np.ndarray:
    """Share of the frame closer to each point than to any other (its Voronoi cell area,
    measured on a grid of about ``cells`` cells), ``(N,)`` summing to N (mean 1).

    Points falling in the same grid cell split that cell's region equally.
    """
    n = len(points)
    if n == 0:
        return np.zeros(0)
    step = max(1.0, math.sqrt(height * width / cells))
    hc, wc = max(1, int(math.ceil(height / step))), max(1, int(math.ceil(width / step)))
    cx = np.clip(((points[:, 0] + 0.5) / step).astype(int), 0, wc - 1)
    cy = np.clip(((points[:, 1] + 0.5) / step).astype(int), 0, hc - 1)
    src = np.full((hc, wc), 255, np.uint8)
    src[cy, cx] = 0
    _, labels = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    area = np.bincount(labels.ravel(), minlength=int(labels.max()) + 1).astype(np.float64)
    lab = labels[cy, cx]
    share = np.bincount(lab, minlength=len(area))[lab]
    w = area[lab] / share
    return w * n / w.sum()


def eval_trend(coef: np.ndarray, height: int, width: int) -> np.ndarray:
    """The affine trend on the whole grid, ``float64 (H, W, C)``."""
    scale = max(height, width) / 2.0
    u = (np.arange(width) - (width - 1) / 2) / scale
    v = (np.arange(height) - (height - 1) / 2) / scale
    return (coef[0] + v[:, None] * coef[2])[:, None, :] + u[None, :, None] * coef[1]


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an ``(h, w[, C])`` float32 array, any number of channels."""
    if img.ndim == 2 or img.shape[2] <= 4:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    return np.concatenate([cv2.GaussianBlur(img[..., i:i + 4], (0, 0), sigma).reshape(img.shape[:2] + (-1,))
                           for i in range(0, img.shape[2], 4)], axis=2)


def upsample_grid(img: np.ndarray, factor: int, height: int, width: int) -> np.ndarray:
    """Bilinear ``factor``× upsampling of an ``(h, w[, C])`` float32 grid, cropped to ``(height, width)``."""
    if factor == 1:
        return img
    h, w = img.shape[:2]
    chans = 1 if img.ndim == 2 else img.shape[2]
    parts = [img] if chans <= 4 else [img[..., i:i + 4] for i in range(0, chans, 4)]
    up = [cv2.resize(p, (w * factor, h * factor), interpolation=cv2.INTER_LINEAR) for p in parts]
    up = [u.reshape(h * factor, w * factor, -1) for u in up]
    out = np.concatenate(up, axis=2)[:height, :width]
    return out[..., 0] if img.ndim == 2 else out


class SparseField:
    """:func:`interpolate_sparse` prepared once for one point set: the usable points, the trend,
    its values on the grid and the points' residuals, which do not depend on the bandwidth.
    :meth:`at` then costs one splat and blur per bandwidth (a bandwidth search evaluates the
    same points at several); the results are exactly :func:`interpolate_sparse`'s.

    Args: as :func:`interpolate_sparse` (``trend``: its coefficients, computed when ``None``).
    """

    def __init__(self, points: np.ndarray, values: np.ndarray, height: int, width: int,
                 weights: Optional[np.ndarray] = None, trend: Optional[np.ndarray] = None) -> None:
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        vals = np.asarray(values, np.float64)
        self.chans = vals.shape[-1] if vals.ndim > 1 else 1
        vals = vals.reshape(len(pts), self.chans)
        w = np.ones(len(pts)) if weights is None else np.asarray(weights, np.float64).ravel()
        ok = np.isfinite(pts).all(1) & np.isfinite(vals).all(1) & (w > 0)
        pts, vals, self.w = pts[ok], vals[ok], w[ok]
        self.height, self.width, self.empty = height, width, len(pts) == 0
        if self.empty:
            return
        coef = interpolation_trend(pts, vals, height, width, self.w) if trend is None else np.asarray(trend, np.float64)
        self.resid = vals - _design(pts[:, 0], pts[:, 1], height, width) @ coef
        self.x, self.y = np.clip(pts[:, 0], 0, width - 1), np.clip(pts[:, 1], 0, height - 1)
        self.trend = eval_trend(coef, height, width)  # float64 (H, W, C)

    def at(self, bandwidth: float, density: bool = True) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """``(dense float32 (H, W, C), density float32 (H, W))`` at ``bandwidth`` (pixels), as
        :func:`interpolate_sparse`; ``density=False`` skips the density (returned as ``None``)."""
        h, w = self.height, self.width
        if self.empty:
            return np.zeros((h, w, self.chans), np.float32), np.zeros((h, w), np.float32) if density else None
        bandwidth = float(max(bandwidth, 0.25))
        field, dens = _nc_level(self.x, self.y, self.resid, self.w, h, w, bandwidth, NC_PRIOR, density)
        return (self.trend + field).astype(np.float32), dens.astype(np.float32) if density else None


def interpolate_sparse(
    points: np.ndarray,
    values: np.ndarray,
    height: int,
    width: int,
    bandwidth: float,
    weights: Optional[np.ndarray] = None,
    trend: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Dense field from values at scattered points (see the module docstring).

    Args:
        points: ``(N, 2)`` positions ``(x, y)`` in pixels (clipped to the frame for splatting;
            non-finite rows are ignored).
        values: ``(N, C)`` values at the points (e.g. displacements in pixels).
        height, width: output grid size.
        bandwidth: Gaussian sigma in pixels (> 0).
        weights: ``(N,)`` non-negative point weights (default 1).
        trend: ``(3, C)`` coefficients from :func:`interpolation_trend` of the same (finite)
            points, values and weights, to reuse across bandwidths (computed when ``None``;
            :class:`SparseField` reuses everything else too).

    Returns:
        ``(dense float32 (H, W, C), density float32 (H, W))``. ``density`` is the blurred
        point weight in units of one unit-weight point's peak (≈1 on an isolated point,
        ≈ 2π σ² / spacing² inside a regular grid of points). With no usable point ``dense``
        is 0 and ``density`` is 0.
    """
    return SparseField(points, values, height, width, weights, trend).at(bandwidth)  # type: ignore[return-value]


def _nc_level(x: np.ndarray, y: np.ndarray, vals: np.ndarray, w: np.ndarray, height: int, width: int,
              bandwidth: float, prior: float, density: bool = True) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Normalised convolution of ``vals (N, C)`` at ``(x, y)`` with a zero prior of weight
    ``prior`` (in units of one point's peak density): ``(field (H, W, C), density (H, W))``
    (``density=False``: ``None`` instead of the density)."""
    chans = vals.shape[1]
    factor = int(max(1, min(bandwidth // 4, max(1, min(height, width) // 8))))
    hc, wc = -(-height // factor), -(-width // factor)
    xc, yc = (x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5
    num, den = splat_bilinear(xc, yc, vals, w, hc, wc)
    sigma = bandwidth / factor
    num = _blur(num.astype(np.float32), sigma).reshape(hc, wc, chans)
    den = _blur(den.astype(np.float32), sigma)
    peak = 1.0 / (2.0 * math.pi * max(sigma, 0.5) ** 2)
    field = num / (den[..., None] + prior * peak)
    field = upsample_grid(field, factor, height, width).reshape(height, width, chans)
    return field, upsample_grid(den, factor, height, width) / peak if density else None


def default_grid_step(height: int, width: int, target_pixels: int = 6000) -> int:
    """Downsampling step that brings an ``H×W`` grid to about ``target_pixels`` pixels."""
    return int(max(1, round(math.sqrt(height * width / target_pixels))))


def dense_flow_from_tracks(
    tracks: Tracks, t: int, ref: int, height: int, width: int, bandwidth: float
) -> Tuple[np.ndarray, np.ndarray]:
    """Backward map of frame ``t`` into frame ``ref`` from point trajectories.

    The displacements ``positions[ref] - positions[t]`` of the points visible at both ``t``
    and ``ref``, located at ``positions[t]``, are interpolated with
    :func:`interpolate_sparse` (so one or two points give a global translation, three or
    more a global affine motion plus local corrections).

    Args:
        tracks: segment trajectories (segment-relative frames).
        t, ref: segment-relative frame indices (``ref`` = 0 for the start keyframe,
            ``T - 1`` for the end keyframe).
        height, width: frame size in pixels.
        bandwidth: interpolation bandwidth in pixels.

    Returns:
        ``(coords float32 (H, W, 2), confidence float32 (H, W))``: ``coords[y, x]`` is where
        pixel ``(x, y)`` of frame ``t`` lies in frame ``ref``; ``confidence`` is
        ``1 - exp(-density / 0.5)`` of the interpolation, 0 where ``coords`` falls more than
        one pixel outside the frame. With ``t == ref``: identity and confidence 1. With no
        usable point: identity coordinates (zero motion) and confidence 0.
    """
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    ident = np.stack([gx, gy], -1)
    if t == ref:
        return ident, np.ones((height, width), np.float32)
    if tracks.num_points == 0:
        return ident, np.zeros((height, width), np.float32)
    ok = tracks.visible[t] & tracks.visible[ref]
    pos_t = tracks.positions[t][ok]
    disp = tracks.positions[ref][ok] - pos_t
    dense, density = interpolate_sparse(pos_t, disp, height, width, bandwidth)
    coords = ident + dense
    conf = 1.0 - np.exp(-density / CONFIDENCE_DENSITY)
    inside = (coords[..., 0] >= -1) & (coords[..., 0] <= width) & (coords[..., 1] >= -1) & (coords[..., 1] <= height)
    return coords.astype(np.float32), (conf * inside).astype(np.float32)
