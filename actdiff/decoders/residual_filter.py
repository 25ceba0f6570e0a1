"""The residual filter along the decoded motion shared by the diffusion decoders.

What a generator adds to the warp prediction, ``r_t = x_t - pred_t`` (``uint8`` frames, so in
[0, 255] units), is filtered with exponential filters along the decoded motion, as in blind video
temporal-consistency methods: a forward pass ``f_t = a · f_{t-1}(moved to t) + (1 - a) · r_t``
starting from ``f_0 = 0`` at K0 and a backward pass ``b_t = a · b_{t+1}(moved to t) + (1 - a) · r_t``
starting from ``b_{L-1} = 0`` at K1 are mixed by the temporal position ``τ = t / (L - 1)``: the
output is ``pred_t + (1 - τ) f_t + τ b_t``. The generated detail fades in from each keyframe
(which carries none) instead of jumping, and changes slowly in between. Costs one ``float16``
frame buffer per segment frame.
"""

from __future__ import annotations

import numpy as np

from actdiff.motion.interpolate import dense_flow_from_tracks
from actdiff.motion.warp import backward_warp
from actdiff.types import DecodedSegment


def moved(seg: DecodedSegment, state: np.ndarray, t: int, src: int) -> np.ndarray:
    """``state`` ``(H, W, 3)`` at segment frame ``src`` warped to frame ``t`` along the decoded motion."""
    h, w = state.shape[:2]
    coords, _ = dense_flow_from_tracks(seg.tracks, t, src, h, w, float(seg.bandwidth))
    return backward_warp(state, coords)


def filter_residuals(seg: DecodedSegment, out: np.ndarray, base: np.ndarray, a: float) -> None:
    """Replace the inner frames of ``out`` by ``base + s`` (see module docstring), in place.

    Args:
        out: ``uint8 (L, H, W, 3)`` generated frames (keyframes at both ends).
        base: ``uint8 (L, H, W, 3)`` warp predictions of the same frames.
        a: filter weight in ``[0, 1)`` (0: ``out`` is left as it is).
    """
    if a <= 0.0:
        return
    length = out.shape[0]
    zero = np.zeros(out.shape[1:], np.float32)

    def residual(t: int) -> np.ndarray:
        return out[t].astype(np.float32) - base[t].astype(np.float32)

    forward = np.empty((length,) + out.shape[1:], np.float16)
    state = zero
    for t in range(1, length - 1):
        state = a * moved(seg, state, t, t - 1) + (1 - a) * residual(t)
        forward[t] = state
    state = zero
    for t in range(length - 2, 0, -1):
        state = a * moved(seg, state, t, t + 1) + (1 - a) * residual(t)
        tau = t / (length - 1)
        s = (1 - tau) * forward[t].astype(np.float32) + tau * state
        out[t] = np.clip(np.round(base[t] + s), 0, 255).astype(np.uint8)
