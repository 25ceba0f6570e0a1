"""Masked agreement scores between a warped keyframe and the true frame (higher = better).

All scores take float ``(H, W, 3)`` images in ``[0, 255]`` and a boolean ``(H, W)`` mask of
the pixels to compare (the warp's holes are filled from the target and the mask is eroded by
2 pixels first, so hole borders do not count), and return a number in ``[0, 1]``.
"""

from __future__ import annotations

from typing import Callable, Dict

import cv2
import numpy as np

from actdiff.errors import ConfigError, MissingWeightsError

#: Stability constant (gradient² units of 0–255 images; GMSD uses 170 for magnitudes only,
#: a smaller value keeps low-contrast textures discriminative once direction is compared).
GMS_C = 30.0
#: Gaussian pre-blur (pixels at the analysis scale) making the score tolerant to sub-pixel
#: misregistration, as perceptual metrics are.
PRE_BLUR = 1.0


def _prepare(warped: np.ndarray, target: np.ndarray, mask: np.ndarray):
    """Luma of both images with the warp's holes filled from the target (so hole borders make
    no spurious gradients) and the mask eroded by 2 pixels."""
    mask = np.asarray(mask, bool)
    filled = np.where(mask[..., None], np.asarray(warped, np.float32), np.asarray(target, np.float32))
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0
    return _gray(filled), _gray(target), eroded


def _gray(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, np.float32)
    return img @ np.array([0.299, 0.587, 0.114], np.float32)


def _grad(gray: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) / 4.0
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) / 4.0
    return np.stack([gx, gy], -1)


def gradient_score(warped: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Gradient similarity, a GMSD-like index that also compares gradient DIRECTION:
    ``max(0, (2 g_w·g_t + c) / (|g_w|² + |g_t|² + c))`` averaged over masked pixels weighted
    by gradient strength ``max(|g_w|, |g_t|)`` (so flat areas, where any warp agrees, do not
    dominate). 1 = identical structure; unrelated content scores about 0.2–0.4, a 1-pixel shift about 0.85."""
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), PRE_BLUR)  # noqa: E731
    a, b, mask = _prepare(warped, target, mask)
    gw, gt = _grad(blur(a)), _grad(blur(b))
    nw, nt = (gw * gw).sum(-1), (gt * gt).sum(-1)
    gms = np.maximum(0.0, (2 * (gw * gt).sum(-1) + GMS_C) / (nw + nt + GMS_C))
    wt = np.sqrt(np.maximum(nw, nt)) * mask
    total = float(wt.sum())
    if total <= 1e-6:
        return 1.0 if mask.any() else 0.0
    return float((gms * wt).sum() / total)


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), 1.5)  # noqa: E731
    ma, mb = blur(a), blur(b)
    va = blur(a * a) - ma * ma
    vb = blur(b * b) - mb * mb
    cov = blur(a * b) - ma * mb
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))


def ms_ssim_score(warped: np.ndarray, target: np.ndarray, mask: np.ndarray, scales: int = 3) -> float:
    """Masked multi-scale SSIM on luma: geometric mean over ``scales`` dyadic scales of the
    SSIM map averaged over (downsampled) masked pixels, clipped to ``[0, 1]``."""
    a, b, m = _prepare(warped, target, mask)
    m = m.astype(np.float32)
    vals = []
    for s in range(scales):
        if s:
            a, b, m = (cv2.pyrDown(x) for x in (a, b, m))
        if min(a.shape) < 8:
            break
        sel = m > 0.5
        if not sel.any():
            return 0.0
        vals.append(max(float(_ssim_map(a, b)[sel].mean()), 1e-6))
    return float(np.clip(np.exp(np.mean(np.log(vals))), 0.0, 1.0)) if vals else 0.0


def lpips_score(warped: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Masked LPIPS needs pretrained network weights, which this weight-free build lacks."""
    raise MissingWeightsError(
        "keyframes.score=lpips needs LPIPS(AlexNet) weights, which are not available offline; "
        "use score=gradient or ms_ssim"
    )


SCORES: Dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], float]] = {
    "gradient": gradient_score,
    "ms_ssim": ms_ssim_score,
    "lpips": lpips_score,
}


def get_score(name: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
    """The score function called ``name`` (one-line :class:`ConfigError` if unknown)."""
    try:
        return SCORES[name]
    except KeyError:
        raise ConfigError(f"unknown keyframe score {name!r} (known: {', '.join(SCORES)})") from None
