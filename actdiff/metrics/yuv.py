"""PSNR of the Y'CbCr 4:2:0 planes, as video coding reports it (HM/VTM, JVET common test
conditions, DCVC's ``psnr_y``/``psnr_u``/``psnr_v``/``psnr_yuv``).

Both images are converted to the planes an 8-bit ``yuv420p`` file of them holds — BT.709,
limited range, chroma the mean of each 2×2 block, rounded to integers
(:func:`actdiff.io.colour.rgb_to_yuv`, what ``actdiff decode -o OUT.yuv`` writes) — and each
plane's PSNR is ``10 log10(255² / MSE)``. ``psnr_yuv`` weights them 6:1:1
(``(6·Y + U + V) / 8``, in dB). Sources of more than 8 bits are read into 8-bit RGB first
(:mod:`actdiff.io.planar`), so their YUV PSNR here is that of the 8-bit picture, not of the
original 10-bit planes (an offset near the 8-bit rounding's PSNR, about 59 dB, where quality is
that high; negligible at the rates ActDiff codes).
"""

from __future__ import annotations

import numpy as np
import torch

from actdiff.io.colour import rgb_to_yuv

#: Weights of Y, U and V in ``psnr_yuv`` (JVET's 6:1:1).
YUV_WEIGHTS = (6.0, 1.0, 1.0)


#: The plane metrics, in the order of :func:`frame_plane_psnr`'s columns, and with their 6:1:1 mean.
PLANE_METRICS = ("psnr_y", "psnr_u", "psnr_v")
YUV_METRICS = PLANE_METRICS + ("psnr_yuv",)


def frame_plane_psnr(ref: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """``float64 (T, 3)``: PSNR (dB, peak 255) of the Y, U and V planes of each pair of ``uint8
    (T, H, W, 3)`` RGB frames; ``inf`` where a plane is equal. Each frame is converted once, however
    many of the plane metrics are asked for (:func:`plane_values`)."""
    rows = []
    for fa, fb in zip(ref, rec):
        a, b = rgb_to_yuv(fa, "bt709", "limited", "420"), rgb_to_yuv(fb, "bt709", "limited", "420")
        mse = [float(np.mean((p.astype(np.float64) - q.astype(np.float64)) ** 2)) for p, q in zip(a, b)]
        rows.append([10 * np.log10(255.0**2 / m) if m > 0 else np.inf for m in mse])
    return np.asarray(rows, np.float64).reshape(-1, 3)


def plane_values(planes: np.ndarray, name: str) -> np.ndarray:
    """Metric ``name`` (``psnr_y``, ``psnr_u``, ``psnr_v`` or ``psnr_yuv``) per frame from the
    ``(T, 3)`` plane PSNRs: ``psnr_yuv`` is ``(6·Y + U + V) / 8`` with each plane capped at 100 dB
    first, so one identical plane does not make it infinite."""
    if name == "psnr_yuv":
        w = np.asarray(YUV_WEIGHTS)
        return (np.minimum(planes, 100.0) * w).sum(1) / w.sum()
    return planes[:, PLANE_METRICS.index(name)]


def _uint8(x: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` RGB in ``[0, 1]`` → ``uint8 (B, H, W, 3)``."""
    return (x.detach().cpu().double().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def plane_psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(B, 3)``: :func:`frame_plane_psnr` of ``(B, 3, H, W)`` RGB images in ``[0, 1]``."""
    return torch.from_numpy(frame_plane_psnr(_uint8(x), _uint8(y)))


def _per_image(x: torch.Tensor, y: torch.Tensor, name: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(plane_values(plane_psnr(x, y).numpy(), name)))


def psnr_y(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _per_image(x, y, "psnr_y")


def psnr_u(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _per_image(x, y, "psnr_u")


def psnr_v(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _per_image(x, y, "psnr_v")


def psnr_yuv(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(B,)``: the 6:1:1 mean of the planes' PSNRs (:func:`plane_values`)."""
    return _per_image(x, y, "psnr_yuv")
