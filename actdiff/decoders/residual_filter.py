"""What a generator adds to the warp prediction, kept coherent along the decoded motion.

Two ways: the residual filter (both diffusion decoders) and the transport from the segment's
ends (the frame-by-frame decoder's ``residual_from="ends"``).

**Residual filter** (:func:`filter_residuals`). What a generator adds, ``r_t = x_t - pred_t`` (``uint8`` frames, so in
[0, 255] units), is filtered with exponential filters along the decoded motion, as in blind video
temporal-consistency methods: a forward pass ``f_t = a · f_{t-1}(moved to t) + (1 - a) · r_t``
starting from ``f_0 = 0`` at K0 and a backward pass ``b_t = a · b_{t+1}(moved to t) + (1 - a) · r_t``
starting from ``b_{L-1} = 0`` at K1 are mixed by the temporal position ``τ = t / (L - 1)``: the
output is ``pred_t + (1 - τ) f_t + τ b_t``. The generated detail fades in from each keyframe
(which carries none) instead of jumping, and changes slowly in between. Costs one ``float16``
frame buffer per segment frame.

**Transport from the ends** (:func:`transport_residuals`). The generator runs only at the first
and last inner frames ``a0 = 1`` and ``a1 = L - 2``; their residuals are carried to every inner
frame along the decoded motion (one resampling each, never chained) and mixed by the position
between them: ``out_t = pred_t + (1 - w) r_a0(moved to t) + w r_a1(moved to t)``,
``w = (t - a0) / (a1 - a0)``. The generated texture then moves with the content instead of being
re-drawn every frame, keeps its full amplitude, and costs two model runs per segment.
"""

from __future__ import annotations

import numpy as np

from actdiff.errors import ConfigError
from actdiff.motion.interpolate import dense_flow_from_tracks
from actdiff.motion.warp import backward_warp
from actdiff.types import DecodedSegment

#: Frames a generator runs at: ``frames`` every inner frame, ``ends`` the first and last (module docstring),
#: ``keyframes`` the keyframes themselves (:mod:`actdiff.decoders.keyframe_texture`).
RESIDUAL_FROM = ("frames", "ends", "keyframes")


def residual_mode(residual_from: str, temporal_blend: float | None, noise_mode: str | None) -> str:
    """``residual_from`` when it is one of :data:`RESIDUAL_FROM`, else a one-line ``ConfigError``; also
    one for a sampling option given explicitly that the mode does not use: ``temporal_blend`` (the
    residual filter) outside ``frames``, ``noise_mode`` with ``keyframes`` (one noise for every keyframe)."""
    if residual_from not in RESIDUAL_FROM:
        raise ConfigError(f"unknown residual_from {residual_from!r} ({' | '.join(RESIDUAL_FROM)})")
    unused = ([f"temporal_blend {temporal_blend:g}"] if temporal_blend and residual_from != "frames" else []) \
        + ([f"noise_mode {noise_mode!r}"] if noise_mode and residual_from == "keyframes" else [])
    if unused:
        raise ConfigError(f"{', '.join(unused)}: not used with residual_from {residual_from!r}")
    return residual_from


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


def residual_anchors(length: int) -> list[int]:
    """The inner frames the generator runs at with ``residual_from="ends"``: ``[1, L - 2]``
    (one frame for ``L = 3``, none for ``L <= 2``)."""
    return sorted({1, length - 2}) if length > 2 else []


def transport_residuals(seg: DecodedSegment, out: np.ndarray, base: np.ndarray) -> None:
    """Fill the inner frames of ``out`` from its anchor frames (module docstring), in place.

    Args:
        out: ``uint8 (L, H, W, 3)``: keyframes at both ends and the generated frames at
            :func:`residual_anchors`; the other inner frames are overwritten.
        base: ``uint8 (L, H, W, 3)``: what the generator's residual is added to, at every inner frame.
    """
    anchors = residual_anchors(out.shape[0])
    if not anchors:
        return
    a0, a1 = anchors[0], anchors[-1]
    r0 = out[a0].astype(np.float32) - base[a0].astype(np.float32)
    r1 = out[a1].astype(np.float32) - base[a1].astype(np.float32)
    for t in range(1, out.shape[0] - 1):
        if t in anchors:
            continue
        w = (t - a0) / (a1 - a0)
        r = (1 - w) * moved(seg, r0, t, a0) + w * moved(seg, r1, t, a1)
        out[t] = np.clip(np.round(base[t] + r), 0, 255).astype(np.uint8)
