"""NIQE (Mittal et al., 2013), numerically following the MATLAB reference as BasicSR does.

Steps for one image: RGB ``[0,1]`` → MATLAB ``rgb2ycbcr`` luma in ``[16, 235]`` (×255 scale),
rounded to integers; cropped to a multiple of 96×96; at two scales (full, then MATLAB bicubic
``imresize`` by 0.5 with antialiasing) the MSCN coefficients (7×7 Gaussian window from the
pristine-model file, ``'nearest'`` border) are cut into blocks (96 px, then 48 px) and each
block gives 18 AGGD features; the 36-d block features are compared with the pristine
multivariate Gaussian: ``sqrt((mu_p - mu)^T pinv((S_p + S) / 2) (mu_p - mu))``. Lower is better.

Images with fewer than two whole 96×96 blocks, or without texture, have no defined score: they
get NaN and a warning, never an exception.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import convolve
from scipy.special import gamma as gamma_fn

from actdiff.errors import InputError
from actdiff.metrics.imresize import imresize

BLOCK = 96
PARAMS_PATH = Path(__file__).resolve().parent.parent / "assets" / "niqe" / "niqe_pris_params.npz"
_GAM = np.arange(0.2, 10.001, 0.001)
_R_GAM = gamma_fn(2 / _GAM) ** 2 / (gamma_fn(1 / _GAM) * gamma_fn(3 / _GAM))
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@lru_cache(maxsize=1)
def pristine_params() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mu (36,), cov (36, 36), gaussian_window (7, 7))`` of the pristine model."""
    if not PARAMS_PATH.is_file():
        raise InputError(f"NIQE pristine model missing: {PARAMS_PATH} (reinstall actdiff)")
    d = np.load(PARAMS_PATH)
    return d["mu_pris_param"].reshape(-1), d["cov_pris_param"], d["gaussian_window"]


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma of ``(..., 3)`` RGB in ``[0, 1]``: values in ``[16, 235]``."""
    return rgb @ np.array([65.481, 128.553, 24.966]) + 16.0


def aggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching AGGD fit of each row of ``x (N, M)``: ``(alpha, beta_l, beta_r)`` each ``(N,)``.

    ``alpha`` is searched on the grid 0.2:0.001:10 like the reference; rows lacking negative or
    positive samples give NaN scales (and, as in the reference, ``alpha = 0.2``).
    """
    neg, pos = x < 0, x > 0
    sq = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((sq * neg).sum(1) / neg.sum(1))
        right = np.sqrt((sq * pos).sum(1) / pos.sum(1))
        ghat = left / right
        rhat = np.abs(x).mean(1) ** 2 / sq.mean(1)
        rnorm = rhat * (ghat**3 + 1) * (ghat + 1) / (ghat**2 + 1) ** 2
    err = (_R_GAM[None, :] - rnorm[:, None]) ** 2
    idx = np.where(np.isnan(rnorm), 0, np.argmin(np.nan_to_num(err, nan=np.inf), axis=1))
    alpha = _GAM[idx]
    ratio = np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
    return alpha, left * ratio, right * ratio


def block_features(blocks: np.ndarray) -> np.ndarray:
    """18 NIQE features of each MSCN block ``(N, b, b)`` → ``(N, 18)``."""
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    a, bl, br = aggd_fit(flat)
    feats = [a, (bl + br) / 2]
    for shift in _SHIFTS:
        prod = blocks * np.roll(blocks, shift, axis=(1, 2))
        a, bl, br = aggd_fit(prod.reshape(n, -1))
        mean = (br - bl) * gamma_fn(2 / a) / gamma_fn(1 / a)
        feats += [a, mean, bl, br]
    return np.stack(feats, axis=1)


def _mscn(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    mu = convolve(img, window, mode="nearest")
    sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
    return (img - mu) / (sigma + 1)


def _blocks(img: np.ndarray, size: int, nh: int, nw: int) -> np.ndarray:
    """Cut ``(nh*size, nw*size)`` into blocks ordered column-major like the reference."""
    b = img[: nh * size, : nw * size].reshape(nh, size, nw, size)
    return b.transpose(2, 0, 1, 3).reshape(nh * nw, size, size)


def niqe_luma(y: np.ndarray) -> float:
    """NIQE of a rounded luma image ``(H, W)`` in the 0–255 scale; NaN (with a warning) if undefined."""
    mu_p, cov_p, window = pristine_params()
    h, w = y.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh < 1 or nw < 1 or nh * nw < 2:
        warnings.warn(f"NIQE undefined for a {w}x{h} image (needs at least two 96x96 blocks); NaN", stacklevel=3)
        return float("nan")
    img = np.asarray(y, np.float64)[: nh * BLOCK, : nw * BLOCK]
    if float(img.std()) == 0.0:
        warnings.warn("NIQE undefined for a flat (zero-variance) image; NaN", stacklevel=3)
        return float("nan")
    feats = []
    for scale in (1, 2):
        feats.append(block_features(_blocks(_mscn(img, window), BLOCK // scale, nh, nw)))
        if scale == 1:
            img = imresize(img / 255.0, 0.5, antialias=True) * 255.0
    feat = np.concatenate(feats, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(feat, axis=0)
    good = feat[~np.isnan(feat).any(axis=1)]
    if good.shape[0] < 2 or np.isnan(mu).any():
        warnings.warn("NIQE undefined: fewer than two textured blocks; NaN", stacklevel=3)
        return float("nan")
    cov = np.cov(good, rowvar=False)
    d = mu_p - mu
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov) / 2) @ d))


def niqe_uint8(frame: np.ndarray) -> float:
    """NIQE of one ``uint8 (H, W, 3)`` RGB frame (or ``(H, W)`` luma already in 0–255)."""
    if frame.ndim == 2:
        return niqe_luma(np.round(frame.astype(np.float64)))
    return niqe_luma(np.round(rgb_to_y(frame.astype(np.float32) / np.float32(255.0))))


def niqe(x: torch.Tensor) -> torch.Tensor:
    """NIQE of each image of ``x``: float ``(B, 3, H, W)`` RGB in ``[0, 1]`` → float64 ``(B,)``.

    Lower is better; NaN (with a warning) for images too small (< two 96×96 blocks) or flat.
    """
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise InputError(f"niqe expects (B, 3, H, W) images, got shape {tuple(x.shape)}")
    arr = x.detach().to("cpu", torch.float32).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    out = []
    for img in arr:
        y = img[..., 0] * 255.0 if img.shape[-1] == 1 else rgb_to_y(img)
        out.append(niqe_luma(np.round(y)))
    return torch.tensor(out, dtype=torch.float64)
