"""The motion-compensated prediction of an in-between frame from the two decoded keyframes.

Both decoders start here: the warp decoder outputs :func:`predict_frame`, the video diffusion
decoder refines it (its ``pred`` condition channels), the frame-by-frame diffusion model refines
the plain blend read from its conditions (:mod:`actdiff.conditioning`). :func:`warp_keyframes`
warps the segment's keyframes to frame ``t`` along the dense motion interpolated from the decoded
trajectories. Two ways to mix them (``mode``):

* ``select`` (default): the ghost-free fusion of :mod:`actdiff.motion.fusion` — per pixel, the warp
  the decoded motion supports where the two disagree, the plain blend where they agree;
* ``blend``: :func:`blend_warps`, the ONE plain formula (time- and confidence-weighted average),
  which shows a half-transparent double image where an object moves a lot inside a segment.

The diffusion decoder's ``detail`` base mixes the two: ``prediction + β · G(blend − prediction)``
with ``G`` the Gaussian :func:`coarse_band` of :data:`DETAIL_SIGMA` px (``β`` its ``detail_mix``,
which the encoder may choose per segment, :mod:`actdiff.codec.detail_mix`).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import cv2
import numpy as np

from actdiff.motion.fusion import BLEND_FLOOR, FusionParams, fuse_frame
from actdiff.motion.interpolate import dense_flow_from_tracks
from actdiff.motion.warp import backward_warp
from actdiff.types import DecodedSegment

#: The ways :func:`predict_frame` can mix the two keyframe warps.
MODES = ("select", "blend")
#: Gaussian sigma (px) splitting the coarse from the fine band of the ``detail`` base (module docstring).
DETAIL_SIGMA = 4.0


def coarse_band(image: np.ndarray, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """``float32 (H, W, C)`` Gaussian blur by ``sigma`` px of ``(H, W, C)`` (reflected borders), any range."""
    x = np.asarray(image, np.float32)
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT).reshape(x.shape)


def warp_keyframes(
    seg: DecodedSegment, t: int, bandwidth: float, bidirectional: bool = True
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
    """Warp the segment's keyframes to segment-relative frame ``t``.

    Args:
        seg: decoded keyframes ``uint8 (H, W, 3)`` and trajectories.
        t: segment-relative frame index, ``0 <= t < L``.
        bandwidth: interpolation bandwidth in pixels (``seg.bandwidth``).
        bidirectional: also warp the end keyframe.

    Returns:
        ``(w0, c0, w1, c1)``: ``w0``/``w1`` ``float32 (H, W, 3)`` in ``[0, 255]`` (start / end
        keyframe backward-warped to ``t``), ``c0``/``c1`` ``float32 (H, W)`` confidences in
        ``[0, 1]`` (see :func:`dense_flow_from_tracks`). At ``t = 0`` (``t = L - 1``) ``w0``
        (``w1``) is the keyframe itself with confidence 1. With ``bidirectional=False``
        ``w1`` and ``c1`` are zeros.
    """
    length = seg.segment.length
    if not 0 <= t < length:
        raise ValueError(f"frame {t} outside segment of {length} frames")
    h, w = seg.key_start.shape[:2]
    tracks = seg.tracks
    if tracks.num_points and tracks.num_frames != length:
        raise ValueError(f"tracks have {tracks.num_frames} frames, segment has {length}")

    def warp(key: np.ndarray, ref: int) -> Tuple[np.ndarray, np.ndarray]:
        coords, conf = dense_flow_from_tracks(tracks, t, ref, h, w, bandwidth)
        if t == ref:
            return np.asarray(key, np.float32), conf
        return np.clip(backward_warp(key, coords), 0, 255), conf

    w0, c0 = warp(seg.key_start, 0)
    if not bidirectional:
        return w0, c0, np.zeros_like(w0), np.zeros_like(c0)
    w1, c1 = warp(seg.key_end, length - 1)
    return w0, c0, w1, c1


def blend_warps(w0: Any, c0: Any, w1: Any, c1: Any, tau: Any) -> Any:
    """``(a0·w0 + a1·w1) / (a0 + a1)`` with ``a0 = (1-τ)(c0 + floor)``, ``a1 = τ(c1 + floor)``.

    Plain arithmetic, so it works on NumPy arrays and torch tensors alike; the confidences must
    broadcast against the images (``(H, W, 1)`` for ``(H, W, 3)``, ``(B, 1, H, W)`` for
    ``(B, 3, H, W)``). ``τ = t / (L - 1)`` (0 uses ``w0`` alone); the floor (1e-3) makes it a time
    cross-fade where both confidences are 0. The result has the range of the inputs.
    """
    a0 = (1.0 - tau) * (c0 + BLEND_FLOOR)
    a1 = tau * (c1 + BLEND_FLOOR)
    return (a0 * w0 + a1 * w1) / (a0 + a1)


def predict_frame(seg: DecodedSegment, t: int, bidirectional: bool = True, mode: str = "select",
                  params: Optional[FusionParams] = None) -> np.ndarray:
    """The prediction of segment-relative frame ``t``: ``float32 (H, W, 3)`` in ``[0, 255]``.

    Args:
        bidirectional: use the end keyframe too (``False``: the start keyframe's warp alone).
        mode: ``select`` (ghost-free fusion) or ``blend`` (plain average), see the module docstring.
        params: :class:`~actdiff.motion.fusion.FusionParams` of ``select`` (defaults when ``None``).
    """
    if mode not in MODES:
        raise ValueError(f"unknown prediction mode {mode!r} (known: {', '.join(MODES)})")
    length = seg.segment.length
    if bidirectional and length >= 2 and mode == "select":
        return fuse_frame(seg, t, params)[0]
    w0, c0, w1, c1 = warp_keyframes(seg, t, float(seg.bandwidth), bidirectional)
    if not bidirectional or length < 2:
        return w0
    tau = t / (length - 1)
    return blend_warps(w0, c0[..., None], w1, c1[..., None], tau).astype(np.float32)
