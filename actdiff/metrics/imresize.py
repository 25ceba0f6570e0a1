"""MATLAB-compatible ``imresize`` (bicubic, antialiased when shrinking).

MATLAB's ``imresize(img, scale)`` filters with the Keys cubic kernel (``a = -0.5``); when
``scale < 1`` the kernel is stretched by ``1/scale`` (antialiasing) and normalised, and the
image is extended with symmetric (edge-repeating) padding. NIQE's published numbers depend on
this exact filter, so OpenCV/PIL resizes cannot be used.
"""

from __future__ import annotations

import math

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def _weights(in_len: int, out_len: int, scale: float, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per output sample: ``(weights (out, P), 0-based source indices (out, P))`` after mirroring."""
    width = 4.0
    if scale < 1 and antialias:
        width = width / scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # 1-based source coordinate of each output sample
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based
    dist = u[:, None] - idx
    if scale < 1 and antialias:
        w = scale * cubic(dist * scale)
    else:
        w = cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    j = idx.astype(np.int64) - 1  # 0-based
    j = np.where(j < 0, -j - 1, j)  # symmetric padding: -1 → 0, -2 → 1
    j = np.where(j >= in_len, 2 * in_len - 1 - j, j)
    return w, j


def imresize(img: np.ndarray, scale: float, antialias: bool = True) -> np.ndarray:
    """Resize a 2-D float image ``(H, W)`` by ``scale`` like MATLAB (rows first, then columns).

    Returns ``float64 (ceil(H*scale), ceil(W*scale))``; values are not clipped.
    """
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape
    out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
    wh, jh = _weights(h, out_h, scale, antialias)
    tmp = np.einsum("op,opw->ow", wh, img[jh])
    ww, jw = _weights(w, out_w, scale, antialias)
    return np.einsum("op,hop->ho", ww, tmp[:, jw])
