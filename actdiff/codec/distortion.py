"""The distortion the RD encoder minimises: fidelity at several scales plus edge placement.

``D = w · (1 − PSNR_ms / 50) + (1 − w) · GMSD`` per frame, on the luma (BT.601, grey levels
[0, 255]), ``D ∈ [0, 1]``, 0 for identical frames:

* ``PSNR_ms``: the PSNR (dB, clipped to [0, 50]) at ``scales`` dyadic scales (full, half and
  quarter resolution by default), averaged with ``scale_weights``. The coarse scales make
  *misplaced* structure (an object warped to the wrong place, a half-transparent double image)
  count about as much as at full resolution, while an even loss of fine detail fades out there.
* ``GMSD``: the standard deviation of the gradient-magnitude similarity map (Xue et al. 2014) at
  half resolution. A ghost — two warped keyframes cross-faded — halves the contrast of both
  copies of every moving edge and adds a second one, which GMSD penalises strongly.

Optionally (``vif_weight`` ``v`` > 0, off by default) ``D = (1 − v) · D_above + v · (1 − VIF)``
with VIF the pixel-domain visual information fidelity (piq ``vif_p``: four scales from *full*
resolution), the information-fidelity feature VMAF is built on, about 35 ms a frame at 256×384 on
one core. An experiment, not the default: in the loop it made the search prefer fewer, better
keyframes, which VMAF NEG scored worse (``docs/rd_mode.md``).

How it was chosen: ``benchmarks/bench_rd_distortion.py`` codes training clips in ways that
differ in exactly the encoder's decisions (GOP, keyframe quality and downscale, trajectory
budget), decodes them with the warp decoder and counts how often each candidate prefers the same
of two streams of about the same rate as VMAF NEG. Its committed run
(``benchmarks/results/rd_distortion_cpu.json``) puts every candidate at 83–95 % agreement, this
``D`` at 92 % and SSIM/GMSD mixes a few pairs higher; in the search itself GMSD alone did worse on
training clips, so this ``D`` stays (the table and the runs: ``docs/rd_mode.md``).
Fast (OpenCV filters, float32): a few milliseconds a frame at 256×384.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np

from actdiff.errors import ConfigError

_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
_GMS_C = 170.0  # GMSD's constant for [0, 255] images (Xue et al.)


def luma(frame: np.ndarray) -> np.ndarray:
    """BT.601 luma ``float32 (H, W)`` in [0, 255] of ``uint8``/``float (H, W, 3)`` RGB."""
    f = np.asarray(frame, np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _down(y: np.ndarray) -> np.ndarray:
    h, w = y.shape
    return cv2.resize(y, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)


def _blur(x: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Mean SSIM of two luma images ``float32 (H, W)`` (Gaussian window, σ = 1.5)."""
    mx, my = _blur(x), _blur(y)
    sxx, syy, sxy = _blur(x * x) - mx * mx, _blur(y * y) - my * my, _blur(x * y) - mx * my
    num = (2 * mx * my + _C1) * (2 * sxy + _C2)
    den = (mx * mx + my * my + _C1) * (sxx + syy + _C2)
    return float(np.mean(num / den, dtype=np.float64))


def gmsd(x: np.ndarray, y: np.ndarray) -> float:
    """Gradient-magnitude similarity deviation of two luma images (0 = identical, ~0.35 = unrelated)."""
    def grad(z: np.ndarray) -> np.ndarray:
        gx = cv2.Sobel(z, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 4, borderType=cv2.BORDER_REPLICATE)
        gy = cv2.Sobel(z, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 4, borderType=cv2.BORDER_REPLICATE)
        return np.sqrt(gx * gx + gy * gy)  # not cv2.magnitude: its result depends on the array's alignment

    gx_, gy_ = grad(x), grad(y)
    gms = (2 * gx_ * gy_ + _GMS_C) / (gx_ * gx_ + gy_ * gy_ + _GMS_C)
    return float(np.std(gms, dtype=np.float64))


_VIF_MIN_SIDE = 41  # piq's vif_p needs at least this many pixels a side (four scales)


def vif(x: np.ndarray, y: np.ndarray) -> float:
    """Pixel-domain VIF (piq ``vif_p``) of luma ``y`` against reference ``x``, ``float32 (H, W)`` in
    [0, 255]; 1 for identical images, towards 0 as information is lost. Images with a side under
    41 pixels are edge-padded to 41 (piq's four scales need it)."""
    import piq  # only when the term is on
    import torch

    t = torch.from_numpy(np.stack([x, y]).astype(np.float32) / 255.0)[:, None]
    h, w = t.shape[-2:]
    ph, pw = max(0, _VIF_MIN_SIDE - h), max(0, _VIF_MIN_SIDE - w)
    if ph or pw:
        t = torch.nn.functional.pad(t, (0, pw, 0, ph), mode="replicate")
    return float(piq.vif_p(t[:1], t[1:].clamp(0, 1), data_range=1.0))


#: PSNR (dB) at which the PSNR term of :class:`Distortion` reaches 0 (and where it is clipped).
PSNR_CEILING = 50.0


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    """PSNR (dB, peak 255) of two luma images ``float32 (H, W)``, at most :data:`PSNR_CEILING`."""
    mse = float(np.mean((x - y) ** 2, dtype=np.float64))
    return PSNR_CEILING if mse <= 0 else min(PSNR_CEILING, 10.0 * np.log10(255.0 ** 2 / mse))


@dataclass(frozen=True)
class Distortion:
    """Per-frame distortion ``D ∈ [0, 1]`` (module docstring).

    Args:
        psnr_weight: ``w``, the share of the multi-scale PSNR term (the rest is GMSD), in [0, 1].
        scale_weights: weight of each dyadic scale of ``PSNR_ms``, finest first (normalised).
        vif_weight: ``v``, the share of the full-resolution ``1 − VIF`` term, in [0, 1] (0: off).
    """

    psnr_weight: float = 0.5
    scale_weights: Tuple[float, ...] = (1.0, 1.0, 1.0)
    vif_weight: float = 0.0

    def __post_init__(self) -> None:
        w = self.scale_weights
        if not 0 <= self.psnr_weight <= 1:
            raise ConfigError(f"rd.distortion.psnr_weight must be in [0, 1], got {self.psnr_weight!r}")
        if not 0 <= self.vif_weight <= 1:
            raise ConfigError(f"rd.distortion.vif_weight must be in [0, 1], got {self.vif_weight!r}")
        if not w or len(w) > 5 or any(not v >= 0 for v in w) or not sum(w) > 0:
            raise ConfigError(f"rd.distortion.scale_weights must be 1–5 non-negative weights, got {w!r}")

    def prepare(self, frame: np.ndarray) -> Tuple[np.ndarray, ...]:
        """The luma pyramid of a reference frame (pass to :meth:`frame` to skip recomputing it)."""
        levels = [luma(frame)]
        for _ in range(max(len(self.scale_weights), 2) - 1):
            levels.append(_down(levels[-1]))
        return tuple(levels)

    def frame(self, ref: Sequence[np.ndarray] | np.ndarray, rec: np.ndarray) -> float:
        """``D`` of one decoded frame ``rec`` (RGB ``(H, W, 3)``) against ``ref`` (RGB, or its
        :meth:`prepare`\\ d pyramid)."""
        pyr_ref = ref if isinstance(ref, tuple) else self.prepare(ref)
        pyr_rec = self.prepare(rec)
        w = np.asarray(self.scale_weights, np.float64)
        p = sum(wk * psnr(a, b) for wk, a, b in zip(w / w.sum(), pyr_ref, pyr_rec))
        g = gmsd(pyr_ref[1], pyr_rec[1])
        d = self.psnr_weight * (1.0 - p / PSNR_CEILING) + (1.0 - self.psnr_weight) * g
        if self.vif_weight > 0:
            d = (1.0 - self.vif_weight) * d + self.vif_weight * (1.0 - vif(pyr_ref[0], pyr_rec[0]))
        return float(np.clip(d, 0.0, 1.0))

    def frames(self, refs: Sequence[Tuple[np.ndarray, ...]], recs: np.ndarray) -> np.ndarray:
        """``D`` of each decoded frame, ``float64 (T,)``, against prepared references."""
        return np.array([self.frame(r, x) for r, x in zip(refs, recs)], np.float64)


__all__ = ["PSNR_CEILING", "Distortion", "gmsd", "luma", "psnr", "ssim", "vif"]
