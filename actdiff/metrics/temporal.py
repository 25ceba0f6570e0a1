"""Temporal consistency: the warping error, tOF and tLP of a reconstruction against its reference.

Warping error — the reconstruction warped along the REFERENCE's motion:

For each pair ``(t-1, t)``: OpenCV DIS optical flow (preset medium) is estimated on the
reference luma, backward ``b = flow(ref[t] → ref[t-1])`` and forward ``f = flow(ref[t-1] → ref[t])``.
Reconstructed frame ``t-1`` is warped to ``t`` along ``b`` (bilinear), and the mean absolute
difference to reconstructed frame ``t`` (RGB in ``[0, 1]``) is taken over pixels where the
flow is forward–backward consistent (``|b + f(x + b)|² < 0.01 (|b|² + |f(x + b)|²) + 0.5``,
Ruder et al. 2016) and inside the frame. Averaged over all pairs; lower is better.

Like-for-like: the flow and mask come from the reference only, so every codec is scored
against the same motion field and the same pixels, independently of its own artefacts.
``warping_error(ref, ref)`` is the floor of the metric on that clip (flow error, lighting).

tOF and tLP (Chu et al., "Learning temporal coherence via self-supervision for GAN-based video
generation", TecoGAN, ACM TOG 2020): how much the frame-to-frame change of the reconstruction
differs from the reference's. ``tof``: mean absolute difference (pixels) between the Farneback
optical flow of consecutive decoded frames and that of consecutive source frames (grey levels;
TecoGAN's Farneback parameters). ``tlp``: mean ``|LPIPS(rec[t-1], rec[t]) - LPIPS(ref[t-1], ref[t])|``
(LPIPS-VGG from local weights, :func:`actdiff.metrics.full_reference.lpips`). Both are 0 for a
perfect reconstruction and grow with flicker or frozen/jumping motion; lower is better.
"""

from __future__ import annotations

import warnings
from typing import Iterator, Tuple

import cv2
import numpy as np

from actdiff.errors import InputError


def _luma(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _flow(dis: cv2.DISOpticalFlow, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Flow ``(H, W, 2)`` from ``a`` to ``b``: pixel ``x`` of ``a`` is at ``x + flow`` in ``b``."""
    return dis.calc(a, b, None)


def _sample(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(back: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """Non-occluded pixels of frame ``t``: ``bool (H, W)`` from backward and forward flow."""
    h, w = back.shape[:2]
    fwd_at = _sample(fwd, back)
    diff = ((back + fwd_at) ** 2).sum(-1)
    mag = (back**2).sum(-1) + (fwd_at**2).sum(-1)
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = gx + back[..., 0], gy + back[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (diff < 0.01 * mag + 0.5) & inside


def _check_pairs(name: str, ref: np.ndarray, rec: np.ndarray) -> bool:
    """Shapes checked (``InputError``); ``False`` (with a warning) for fewer than two frames."""
    if ref.shape != rec.shape or ref.ndim != 4:
        raise InputError(f"{name} needs equal (T, H, W, 3) clips, got {ref.shape} and {rec.shape}")
    if ref.shape[0] < 2:
        warnings.warn(f"{name} needs at least two frames; NaN", stacklevel=3)
        return False
    return True


def reference_motion(ref: np.ndarray) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Per pair ``(t-1, t)`` of ``ref`` ``uint8 (T, H, W, 3)``: ``(back float32 (H, W, 2) px,
    mask bool (H, W))``, the backward DIS flow ``t → t-1`` and its flow-consistent pixels inside
    the frame (module docstring): the motion the warping error follows."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    lum = [_luma(f) for f in ref]
    for t in range(1, ref.shape[0]):
        back = _flow(dis, lum[t], lum[t - 1])
        yield back, consistency_mask(back, _flow(dis, lum[t - 1], lum[t]))


def _pair_errors(ref: np.ndarray, rec: np.ndarray) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per pair ``(t-1, t)``: ``(err float32 (H, W), mask bool (H, W), motion float32 (H, W))``:
    the warping error of ``rec`` at each pixel of frame ``t`` (module docstring), the
    flow-consistent pixels and the length (px) of the reference's backward flow there."""
    recf = rec.astype(np.float32) / 255.0
    for t, (back, mask) in enumerate(reference_motion(ref), 1):
        warped = _sample(recf[t - 1], back)
        yield np.abs(recf[t] - warped).mean(-1), mask, np.hypot(back[..., 0], back[..., 1])


def warping_error(ref: np.ndarray, rec: np.ndarray) -> float:
    """Mean warping error of ``rec`` along ``ref``'s motion; both ``uint8 (T, H, W, 3)``.

    Returns NaN (with a warning) for fewer than two frames or when no pixel is consistent.
    """
    if not _check_pairs("warping_error", ref, rec):
        return float("nan")
    total, count = 0.0, 0
    for err, mask, _ in _pair_errors(ref, rec):
        total += float(err[mask].sum())
        count += int(mask.sum())
    if count == 0:
        warnings.warn("warping error: no flow-consistent pixel; NaN", stacklevel=2)
        return float("nan")
    return total / count


def warping_error_by_motion(ref: np.ndarray, rec: np.ndarray, still: float = 0.5) -> dict:
    """:func:`warping_error` split by the reference's motion: ``{"static": …, "moving": …,
    "static_share": …}``, the mean over the flow-consistent pixels whose backward flow is shorter
    than ``still`` px (``static``) or not (``moving``; NaN where a part has no pixel), and the
    static pixels' share of the consistent ones. The two parts' pixel-weighted mean is
    :func:`warping_error`. On static pixels the reference's own flow is sub-pixel noise, so a
    frame-to-frame steady fine texture scores there too (bilinear resampling smooths it):
    ``experiments/steady_texture.py`` measures how much."""
    if not _check_pairs("warping_error_by_motion", ref, rec):
        return {"static": float("nan"), "moving": float("nan"), "static_share": float("nan")}
    sums = {"static": [0.0, 0], "moving": [0.0, 0]}
    for err, mask, motion in _pair_errors(ref, rec):
        for part, where in (("static", mask & (motion < still)), ("moving", mask & (motion >= still))):
            sums[part][0] += float(err[where].sum())
            sums[part][1] += int(where.sum())
    out = {k: (s / n if n else float("nan")) for k, (s, n) in sums.items()}
    total = sums["static"][1] + sums["moving"][1]
    return {**out, "static_share": sums["static"][1] / total if total else float("nan")}


#: Farneback parameters of TecoGAN's tOF (pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags).
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def tof(ref: np.ndarray, rec: np.ndarray) -> float:
    """TecoGAN's tOF of ``rec`` against ``ref`` (both ``uint8 (T, H, W, 3)``), pixels; NaN for T < 2."""
    if not _check_pairs("tOF", ref, rec):
        return float("nan")
    total = 0.0
    for t in range(1, ref.shape[0]):
        flows = [cv2.calcOpticalFlowFarneback(_luma(clip[t - 1]), _luma(clip[t]), None, *FARNEBACK)
                 for clip in (ref, rec)]
        total += float(np.abs(flows[0] - flows[1]).mean())
    return total / (ref.shape[0] - 1)


def tlp(ref: np.ndarray, rec: np.ndarray, batch_size: int = 8) -> float:
    """TecoGAN's tLP of ``rec`` against ``ref`` (both ``uint8 (T, H, W, 3)``); needs the LPIPS
    weights (``MissingWeightsError`` otherwise); NaN for T < 2."""
    import torch

    from actdiff.metrics.full_reference import lpips

    if not _check_pairs("tLP", ref, rec):
        return float("nan")

    def consecutive(clip: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2).float() / 255.0
        last = x.shape[0] - 1  # pairs (i, i + 1) for i < last
        out = [lpips(x[i:min(i + batch_size, last)], x[i + 1:min(i + batch_size, last) + 1])
               for i in range(0, last, batch_size)]
        return torch.cat(out).numpy()

    with torch.no_grad():
        return float(np.abs(consecutive(rec) - consecutive(ref)).mean())
