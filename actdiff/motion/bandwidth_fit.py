"""Fitting the interpolation bandwidth to a dense field (:func:`fit_bandwidth`): a grid search of
:func:`actdiff.motion.interpolate.interpolate_sparse` against a target motion, on a downsampled grid.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import cv2
import numpy as np

from actdiff.motion.interpolate import default_grid_step, interpolate_sparse, quantize_bandwidth


def _downsample(img: np.ndarray, step: int) -> np.ndarray:
    """Area-average ``(H, W[, C])`` by ``step`` (any number of channels)."""
    if step == 1:
        return np.asarray(img, np.float32)
    h, w = img.shape[:2]
    size = (max(1, w // step), max(1, h // step))
    img = np.asarray(img, np.float32)
    if img.ndim == 2 or img.shape[2] <= 4:
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], *img.shape[2:])
    parts = [cv2.resize(img[..., i:i + 4], size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
             for i in range(0, img.shape[2], 4)]
    return np.concatenate(parts, axis=2)


def weighted_error(dense: np.ndarray, target: np.ndarray, weight_map: np.ndarray, channels: int = 2) -> np.ndarray:
    """Per-pixel time-mean of ``weight · ||dense - target||`` over groups of ``channels``.

    ``dense``/``target``: ``(h, w, T·channels)``; ``weight_map``: ``(h, w)`` or ``(h, w, T)``.
    Returns ``(h, w)``.
    """
    h, w = dense.shape[:2]
    diff = (dense - target).reshape(h, w, -1, channels)
    err = np.sqrt((diff ** 2).sum(-1))
    wm = weight_map if weight_map.ndim == 3 else weight_map[..., None]
    return (err * wm).mean(-1)


def bandwidth_candidates(cell: float, num: int = 9) -> list:
    """Quantised candidates from 0.25 to 4 × ``cell`` pixels (log-spaced, unique, sorted)."""
    raw = cell * 2.0 ** np.linspace(-2, 2, num)
    return sorted({quantize_bandwidth(b) for b in raw})


def fit_bandwidth(
    points: np.ndarray,
    values: np.ndarray,
    dense_target: np.ndarray,
    weight_map: Optional[np.ndarray] = None,
    candidates: Optional[Sequence[float]] = None,
    weights: Optional[np.ndarray] = None,
    grid_step: Optional[int] = None,
) -> float:
    """Grid search for the interpolation bandwidth that best reproduces a dense field.

    Args:
        points: ``(N, 2)`` positions in pixels of the full grid.
        values: ``(N, C)`` with ``dense_target (H, W, C)``, or ``(T, N, C)`` with per-frame
            targets ``(T, H, W, C)``.
        weight_map: ``(H, W)`` (or ``(T, H, W)``) error weights (default 1).
        candidates: bandwidths in pixels (default: :func:`bandwidth_candidates` of the
            cell size ``sqrt(H·W/N)``); each is quantised before it is tried.
        weights: ``(N,)`` point weights passed to :func:`interpolate_sparse`.
        grid_step: evaluate on a grid downsampled by this step (default ≈ 6000 pixels).

    Returns:
        The best quantised bandwidth in pixels (the middle candidate when ``N == 0``).
    """
    vals = np.asarray(values, np.float32)
    target = np.asarray(dense_target, np.float32)
    if vals.ndim == 3:  # (T, N, C) → (N, T·C); (T, H, W, C) → (H, W, T·C)
        chans = vals.shape[2]
        vals = vals.transpose(1, 0, 2).reshape(vals.shape[1], -1)
        target = target.transpose(1, 2, 0, 3).reshape(target.shape[1], target.shape[2], -1)
    else:
        chans = vals.shape[1]
    height, width = target.shape[:2]
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    if candidates is None:
        candidates = bandwidth_candidates(math.sqrt(height * width / max(len(pts), 1)))
    candidates = sorted({quantize_bandwidth(float(b)) for b in candidates})
    if len(pts) == 0:
        return candidates[len(candidates) // 2]
    step = default_grid_step(height, width) if grid_step is None else int(grid_step)
    tgt = _downsample(target, step).reshape(max(1, height // step), max(1, width // step), -1)
    wm = np.ones((height, width), np.float32) if weight_map is None else np.asarray(weight_map, np.float32)
    if wm.ndim == 3:
        wm = wm.transpose(1, 2, 0)
    wm = _downsample(wm, step).reshape(tgt.shape[0], tgt.shape[1], *wm.shape[2:])
    ps = (pts + 0.5) / step - 0.5
    errors = []
    for b in candidates:
        dense, _ = interpolate_sparse(ps, vals, tgt.shape[0], tgt.shape[1], b / step, weights)
        errors.append(float(weighted_error(dense, tgt, wm, chans).sum()))
    return float(candidates[int(np.argmin(errors))])


__all__ = ["bandwidth_candidates", "fit_bandwidth", "weighted_error"]
