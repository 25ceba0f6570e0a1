"""Keep a generator's residual out of the coarse scale: the decoded frame's coarse image is its base's.

The diffusion decoder adds a generated residual ``r = out − base`` to an image whose coarse band
the encoder has checked against the source (the ``detail`` base, :mod:`actdiff.codec.detail_mix`).
Keeping only the residual's "fine band" above a Gaussian (``residual_band: fine``) still lets
structure of 8–16 px through (a Gaussian of σ = 4 px passes 71 % of the amplitude at 1/16 cycle/px),
and the temporal residual filter moves residuals between frames. With the lock, after everything
else, the smooth field ``m`` whose ``f × f`` block means are exactly those of ``r`` is subtracted:
every ``f × f`` block mean of the decoded frame is then the base's (up to the rounding to 8 bits
and the clipping to [0, 255]), so the 8×-area-downsampled frames that ``psnr_lowres`` compares are
the base's, and what the generator adds is detail below that scale only.

``m = U_y · X · U_xᵀ`` with ``U`` bilinear upsampling from the ``f``-times smaller grid (per axis,
as :func:`cv2.resize`) and ``X = A_y⁻¹ · B(r) · A_x⁻ᵀ``, where ``B`` is the block mean and ``A = B · U``
(per axis, a small, diagonally dominant matrix): one exact solve, no iteration. Rows and columns
beyond the last whole block are left as they are (the metric crops them too).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np

#: Block size of the lock: that of the coarse-scale metric (``actdiff.metrics.full_reference.LOWRES_FACTOR``).
LOCK_FACTOR = 8


@lru_cache(maxsize=16)
def _axis(n: int, factor: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(U (n·f, n), A⁻¹ (n, n))`` of one axis with ``n`` blocks of ``f`` pixels."""
    eye = np.eye(n, dtype=np.float32)
    up = cv2.resize(eye, (n, n * factor), interpolation=cv2.INTER_LINEAR).astype(np.float64)  # column j = U e_j
    a = up.reshape(n, factor, n).mean(axis=1)  # B · U
    return up, np.linalg.inv(a)


def block_means(image: np.ndarray, factor: int = LOCK_FACTOR) -> np.ndarray:
    """``float64 (H // f, W // f, C)``: the means of the whole ``factor × factor`` blocks of an
    ``(H, W, C)`` image (rows and columns beyond the last whole block are left out)."""
    h, w, c = image.shape
    ny, nx = h // factor, w // factor
    r = np.asarray(image[:ny * factor, :nx * factor], np.float64)
    return r.reshape(ny, factor, nx, factor, c).mean(axis=(1, 3))


def block_mean_field(residual: np.ndarray, factor: int = LOCK_FACTOR) -> np.ndarray:
    """The smooth field with the same ``factor × factor`` block means as ``residual``.

    Args:
        residual: ``(H, W, C)`` float.
        factor: block size in pixels.

    Returns:
        ``float32 (H, W, C)``: zero outside the whole blocks (``H − H mod f`` rows, likewise columns).
    """
    h, w, c = residual.shape
    ny, nx = h // factor, w // factor
    out = np.zeros(residual.shape, np.float32)
    if ny == 0 or nx == 0:
        return out
    means = block_means(residual, factor)  # (ny, nx, C)
    uy, ay = _axis(ny, factor)
    ux, ax = _axis(nx, factor)
    x = ay @ means.transpose(2, 0, 1) @ ax.T  # (C, ny, nx): A_y⁻¹ · B(r) · A_x⁻ᵀ, per channel
    out[:ny * factor, :nx * factor] = (uy @ x @ ux.T).transpose(1, 2, 0)  # two matrix products per channel
    return out


def lock_coarse(out: np.ndarray, base: np.ndarray, frames: range | list[int], factor: int = LOCK_FACTOR) -> None:
    """Remove from ``out[t] − base[t]`` its block-mean field (module docstring), in place.

    Args:
        out: ``uint8 (L, H, W, 3)`` decoded frames.
        base: ``uint8 (L, H, W, 3)`` the images the residuals are over.
        frames: the frames to lock (the segment's inner frames).
        factor: block size in pixels.
    """
    for t in frames:
        b = base[t].astype(np.float32)
        r = out[t].astype(np.float32) - b
        out[t] = np.clip(np.round(b + r - block_mean_field(r, factor)), 0, 255).astype(np.uint8)
