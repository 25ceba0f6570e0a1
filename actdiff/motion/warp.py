"""Backward warping and confidence-weighted forward splatting of images.

Pixel coordinates are ``(x, y)`` with the origin at the centre of the top-left pixel.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np


def _as_hwc(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    return img[..., None] if img.ndim == 2 else img


@lru_cache(maxsize=4)   # a decode asks for two or three sizes (full, coarse grids)
def pixel_grid(height: int, width: int) -> np.ndarray:
    """Pixel coordinates ``float32 (H, W, 2)``, ``(x, y)`` per pixel: the identity map (one
    read-only array per size, shared: every frame of a decode asks for it several times)."""
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    grid = np.stack([gx, gy], -1)
    grid.setflags(write=False)
    return grid


def vector_length(v: np.ndarray) -> np.ndarray:
    """Euclidean length of the 2-vectors ``v (..., 2)``, shape ``v.shape[:-1]``, in ``v``'s float
    dtype: the same numbers as ``np.linalg.norm(v, axis=-1)``, without its slow reduction over an
    axis of two."""
    x, y = v[..., 0], v[..., 1]
    return np.sqrt(x * x + y * y)


def backward_warp(image: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``coords`` (bilinear, border replicated).

    Args:
        image: ``(H, W, C)`` ``uint8`` or ``float32`` (any range).
        coords: ``float32 (H', W', 2)``: for every target pixel the source position ``(x, y)``
            in ``image``, in pixels.

    Returns:
        ``float32 (H', W', C)`` in the range of ``image``.
    """
    img = _as_hwc(image).astype(np.float32, copy=False)
    c = np.ascontiguousarray(coords, np.float32)   # one two-channel map: no split into x and y
    out = cv2.remap(img, c, None, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(c.shape[0], c.shape[1], img.shape[2])


def splat_bilinear(
    x: np.ndarray, y: np.ndarray, values: np.ndarray, weights: np.ndarray, height: int, width: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Bilinearly splat weighted ``values`` at positions ``(x, y)`` onto an ``H×W`` grid.

    Args:
        x, y: ``(N,)`` positions in pixels; corners falling outside the grid are dropped.
        values: ``(N, C)``.
        weights: ``(N,)`` non-negative.

    Returns:
        ``(sum of w·v over the grid (H, W, C) float64, sum of w (H, W) float64)``, with each
        sample's weight shared among its 4 neighbouring pixels by the bilinear kernel.
    """
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    values = np.asarray(values, np.float64)
    channels = values.shape[-1] if values.ndim > 1 else 1
    values = values.reshape(len(x), channels)
    weights = np.asarray(weights, np.float64).ravel()
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx, fy = x - x0, y - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    n = height * width
    acc = np.zeros((channels + 1, n), np.float64)
    for dx, dy, k in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
        w = (k * weights)[ok]
        idx = (yi[ok] * width + xi[ok])
        acc[channels] += np.bincount(idx, weights=w, minlength=n)
        for c in range(channels):
            acc[c] += np.bincount(idx, weights=w * values[ok, c], minlength=n)
    num = acc[:channels].T.reshape(height, width, channels)
    den = acc[channels].reshape(height, width)
    return num, den


def forward_splat(image: np.ndarray, flow: np.ndarray, weight: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Confidence-weighted forward splatting (no z-buffer).

    Each source pixel ``p`` of ``image`` is splatted bilinearly at ``p + flow[p]`` with weight
    ``weight[p]``; the accumulated colours are divided by the accumulated weight. Where two
    source pixels land on the same target they are averaged by weight (occlusion order is
    not modelled; low forward–backward confidence is what suppresses occluded pixels).

    Args:
        image: ``(H, W, C)`` ``uint8`` or ``float32``.
        flow: ``float32 (H, W, 2)`` displacement source → target in pixels.
        weight: ``(H, W)`` in ``[0, 1]``.

    Returns:
        ``(warped float32 (H, W, C), coverage float32 (H, W))`` where ``coverage`` is the
        accumulated weight (0 where nothing landed; ``warped`` is 0 there).
    """
    img = _as_hwc(image)
    h, w = img.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    wt = np.asarray(weight, np.float32).ravel()
    keep = wt > 0
    x = (gx + flow[..., 0]).ravel()[keep]
    y = (gy + flow[..., 1]).ravel()[keep]
    num, den = splat_bilinear(x, y, img.reshape(-1, img.shape[2])[keep], wt[keep], h, w)
    warped = np.where(den[..., None] > 1e-8, num / np.maximum(den[..., None], 1e-8), 0.0)
    return warped.astype(np.float32), den.astype(np.float32)
