"""Y'CbCr ↔ RGB conversion (vectorised numpy): 8 to 16 bits a sample in, 8-bit RGB in and out.

Conventions (ITU-R BT.601 / BT.709, ITU-T H.273):

* ``limited`` ("TV", "MPEG") range: ``Y = 16 + 219·E'y``, ``Cb = 128 + 224·E'pb``,
  ``Cr = 128 + 224·E'pr``, all times ``2**(depth − 8)`` at more than 8 bits a sample;
* ``full`` ("PC", "JPEG") range: ``Y = M·E'y``, ``Cb = 2**(depth − 1) + M·E'pb``,
  ``Cr = 2**(depth − 1) + M·E'pr`` with ``M = 2**depth − 1`` (255 at 8 bits; H.273);
* ``E'y = Kr·R + (1 − Kr − Kb)·G + Kb·B``, ``E'pb = (B − E'y) / (2(1 − Kb))``,
  ``E'pr = (R − E'y) / (2(1 − Kr))`` with ``(Kr, Kb) = (0.2126, 0.0722)`` for BT.709 and
  ``(0.299, 0.114)`` for BT.601; ``R, G, B`` in ``[0, 1]``.

4:2:0 chroma is taken as centred on its 2×2 luma block (JPEG / MPEG-1 / y4m ``C420jpeg``
siting). Up-sampling is ``bilinear`` (default; OpenCV ``INTER_LINEAR`` with that siting) or
``nearest`` (each chroma sample repeated over its 2×2 block). The MPEG-2/H.264 "left" siting
differs by a quarter luma pixel horizontally, which we ignore. Down-sampling (writing 4:2:0) is
the mean of each 2×2 block (edge-replicated for odd sizes).
"""

from __future__ import annotations

import cv2
import numpy as np

MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
RANGES = ("limited", "full")
CHROMA_UPSAMPLING = ("bilinear", "nearest")


def _check(matrix: str, rng: str) -> tuple[float, float]:
    if matrix not in MATRICES:
        raise ValueError(f"unknown YUV matrix {matrix!r} (known: {', '.join(MATRICES)})")
    if rng not in RANGES:
        raise ValueError(f"unknown YUV range {rng!r} (known: {', '.join(RANGES)})")
    return MATRICES[matrix]


def _scales(rng: str, depth: int = 8) -> tuple[float, float, float, float]:
    """(luma offset, luma scale, chroma scale, chroma centre) in code values of ``depth`` bits."""
    if rng == "limited":
        k = float(1 << (depth - 8))
        return 16.0 * k, 219.0 * k, 224.0 * k, 128.0 * k
    m = float((1 << depth) - 1)
    return 0.0, m, m, float(1 << (depth - 1))


def upsample_chroma(plane: np.ndarray, height: int, width: int, method: str = "bilinear") -> np.ndarray:
    """Up-sample a ``(ceil(H/2), ceil(W/2))`` chroma plane to ``float32 (H, W)``."""
    if plane.shape == (height, width):
        return plane.astype(np.float32)
    if method == "nearest":
        up = np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)[:height, :width]
        return up.astype(np.float32)
    if method == "bilinear":
        # Resize to the even (2x) size so each sample stays centred on its 2x2 block, then crop.
        h2, w2 = plane.shape[0] * 2, plane.shape[1] * 2
        up = cv2.resize(plane.astype(np.float32), (w2, h2), interpolation=cv2.INTER_LINEAR)
        return up[:height, :width]
    raise ValueError(f"unknown chroma up-sampling {method!r} (known: {', '.join(CHROMA_UPSAMPLING)})")


def downsample_chroma(plane: np.ndarray) -> np.ndarray:
    """Mean of each 2×2 block of a float ``(H, W)`` plane → ``(ceil(H/2), ceil(W/2))``."""
    h, w = plane.shape
    if h % 2 or w % 2:
        plane = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))


def yuv_to_rgb(
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    matrix: str = "bt709",
    rng: str = "limited",
    chroma: str = "bilinear",
    depth: int = 8,
) -> np.ndarray:
    """Convert planes of ``depth`` bits a sample to ``uint8 (H, W, 3)`` RGB.

    Args:
        y: ``(H, W)`` luma, ``uint8`` or (more than 8 bits) ``uint16`` code values.
        u, v: chroma planes, ``(H, W)`` (4:4:4) or ``(ceil(H/2), ceil(W/2))`` (4:2:0).
        matrix: ``bt709`` or ``bt601``; rng: ``limited`` or ``full``; chroma: up-sampling.
        depth: bits a sample, 8 to 16 (the RGB is rounded to 8 bits once, at the end).
    """
    kr, kb = _check(matrix, rng)
    if not 8 <= depth <= 16:
        raise ValueError(f"bit depth must be 8 to 16, got {depth}")
    off, ys, cs, mid = _scales(rng, depth)
    h, w = y.shape
    yn = (y.astype(np.float32) - off) / ys
    pb = (upsample_chroma(u, h, w, chroma) - mid) / cs
    pr = (upsample_chroma(v, h, w, chroma) - mid) / cs
    r = yn + 2.0 * (1.0 - kr) * pr
    b = yn + 2.0 * (1.0 - kb) * pb
    g = (yn - kr * r - kb * b) / (1.0 - kr - kb)
    rgb = np.stack([r, g, b], axis=-1) * 255.0
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def rgb_to_yuv(
    rgb: np.ndarray, matrix: str = "bt709", rng: str = "full", subsampling: str = "444", depth: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert ``uint8 (H, W, 3)`` RGB to ``(Y, U, V)`` planes (``444`` or ``420``) of ``depth``
    bits a sample: ``uint8`` at 8, else ``uint16``."""
    kr, kb = _check(matrix, rng)
    if not 8 <= depth <= 16:
        raise ValueError(f"bit depth must be 8 to 16, got {depth}")
    off, ys, cs, mid = _scales(rng, depth)
    f = rgb.astype(np.float32) / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    yn = kr * r + (1.0 - kr - kb) * g + kb * b
    pb = (b - yn) / (2.0 * (1.0 - kb))
    pr = (r - yn) / (2.0 * (1.0 - kr))
    u = pb * cs + mid
    v = pr * cs + mid
    if subsampling == "420":
        u, v = downsample_chroma(u), downsample_chroma(v)
    elif subsampling != "444":
        raise ValueError(f"unknown chroma subsampling {subsampling!r} (known: 444, 420)")

    def q(x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x), 0, (1 << depth) - 1).astype(np.uint8 if depth == 8 else np.uint16)

    return q(yn * ys + off), q(u), q(v)
