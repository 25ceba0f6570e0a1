"""Non-generative decoder: both keyframes warped along the interpolated trajectories, blended.

``warp_keyframes`` is also what the diffusion decoder's conditioning calls
(:mod:`actdiff.conditioning.conditions`), so training and decoding share this code.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from actdiff.decoders.base import Decoder
from actdiff.motion.interpolate import dense_flow_from_tracks
from actdiff.motion.warp import backward_warp
from actdiff.registry import DECODERS
from actdiff.types import DecodedSegment, StreamHeader

#: Weight floor in :func:`blend` so that a time cross-fade shows where both confidences are 0.
BLEND_FLOOR = 1e-3


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


def blend(w0: np.ndarray, c0: np.ndarray, w1: np.ndarray, c1: np.ndarray, alpha: float) -> np.ndarray:
    """``(a0·w0 + a1·w1) / (a0 + a1)`` with ``a0 = (1-α)(c0 + floor)``, ``a1 = α(c1 + floor)``.

    ``alpha = t / (L - 1)``; the floor (1e-3) makes it a time cross-fade where both
    confidences are 0. Returns ``float32 (H, W, 3)``.
    """
    a0 = (1.0 - alpha) * (np.asarray(c0, np.float32) + BLEND_FLOOR)
    a1 = alpha * (np.asarray(c1, np.float32) + BLEND_FLOOR)
    out = (a0[..., None] * w0 + a1[..., None] * w1) / (a0 + a1)[..., None]
    return out.astype(np.float32)


@DECODERS.register("warp")
class WarpDecoder(Decoder):
    """Warp-and-blend decoder (no learned weights).

    Args:
        bidirectional: blend both keyframes (default) or use the start keyframe only.
    """

    name = "warp"

    def __init__(self, bidirectional: bool = True, **unused: Any) -> None:
        self.bidirectional = bool(bidirectional)

    def decode_segment(self, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
        length = seg.segment.length
        h, w = seg.key_start.shape[:2]
        out = np.empty((length, h, w, 3), np.uint8)
        out[0] = seg.key_start
        for t in range(1, length - 1):
            w0, c0, w1, c1 = warp_keyframes(seg, t, float(seg.bandwidth), self.bidirectional)
            frame = blend(w0, c0, w1, c1, t / (length - 1)) if self.bidirectional else w0
            out[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        if length > 1:
            out[-1] = seg.key_end
        return out
