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


def _planes(x: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(B, 3, H, W)`` RGB in ``[0, 1]`` → per image the 8-bit BT.709 limited 4:2:0 planes."""
    frames = (x.detach().cpu().double().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return [rgb_to_yuv(f, "bt709", "limited", "420") for f in frames]


def plane_psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(B, 3)``: PSNR (dB, peak 255) of the Y, U and V planes of each image pair; ``inf`` where equal."""
    rows = []
    for a, b in zip(_planes(x), _planes(y)):
        mse = [float(np.mean((p.astype(np.float64) - q.astype(np.float64)) ** 2)) for p, q in zip(a, b)]
        rows.append([10 * np.log10(255.0**2 / m) if m > 0 else np.inf for m in mse])
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 3)


def psnr_y(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return plane_psnr(x, y)[:, 0]


def psnr_u(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return plane_psnr(x, y)[:, 1]


def psnr_v(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return plane_psnr(x, y)[:, 2]


def psnr_yuv(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(6·PSNR_Y + PSNR_U + PSNR_V) / 8`` per image (each plane capped at 100 dB first, so one
    identical plane does not make it infinite)."""
    w = torch.tensor(YUV_WEIGHTS, dtype=torch.float64)
    return (plane_psnr(x, y).clamp(max=100.0) * w).sum(1) / w.sum()
