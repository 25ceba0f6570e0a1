"""The condition tensor of the diffusion decoder — the ONE place its layout is defined.

``build_conditions(seg, t)`` turns what the bitstream carries for one segment (decoded
keyframes + decoded trajectories, a :class:`~actdiff.types.DecodedSegment`) into a
``float32 (C, H, W)`` array for segment-relative frame ``t`` of a segment of ``L`` frames.
Training (:mod:`actdiff.training.datamodule`) and decoding (:mod:`actdiff.decoders.diffusion`)
both call this function, so the conditions cannot drift apart.

Channel layout (``CHANNELS``; ``C = 20``):

=========  ===========  ======================================================  ==========
channels   name         content                                                 range
=========  ===========  ======================================================  ==========
0–2        ``k0``       decoded start keyframe K0, RGB                          [-1, 1]
3–5        ``k1``       decoded end keyframe K1, RGB                            [-1, 1]
6–8        ``w0``       K0 warped to ``t`` (``actdiff.motion.prediction``)      [-1, 1]
9          ``c0``       confidence of ``w0``                                    [0, 1]
10–12      ``w1``       K1 warped (backwards) to ``t``                          [-1, 1]
13         ``c1``       confidence of ``w1``                                    [0, 1]
14         ``vis``      trajectory splats visible at ``t`` (1 under a splat)    {0, 1}
15–16      ``disp``     splat displacement from frame 0, ``(dx/W, dy/H)``       ≈[-1, 1]
17–18      ``ident``    splat identity: frame-0 position ``(x, y)`` → [-1, 1]   [-1, 1]
19         ``tau``      temporal position ``t / (L - 1)`` (0 when ``L == 1``)   [0, 1]
20–22      ``pred``     only with ``prediction=True`` (``C = 23``): the warp        [-1, 1]
                        decoder's frame (:func:`~actdiff.motion.prediction.
                        predict_frame`, the ghost-free fusion)
=========  ===========  ======================================================  ==========

The ``pred`` group is for models whose residual is added to the warp decoder's frame rather than
to the blend of ``w0`` and ``w1`` (``ControlledDenoiser`` with ``residual_base: pred``).

With ``bidirectional=False`` (``--no-bidirectional``) the K1 channels ``k1``, ``w1`` and
``c1`` are zero, and the warp is asked for K0 only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from actdiff.conditioning.raster import rasterise_tracks
from actdiff.motion.prediction import blend_warps, predict_frame, warp_keyframes
from actdiff.types import DecodedSegment

#: Channel name → (first channel, number of channels). The order is the tensor's order.
CHANNELS: dict[str, tuple[int, int]] = {
    "k0": (0, 3),
    "k1": (3, 3),
    "w0": (6, 3),
    "c0": (9, 1),
    "w1": (10, 3),
    "c1": (13, 1),
    "vis": (14, 1),
    "disp": (15, 2),
    "ident": (17, 2),
    "tau": (19, 1),
}
NUM_CHANNELS: int = sum(n for _, n in CHANNELS.values())
#: The optional trailing group of ``build_conditions(..., prediction=True)``.
PREDICTION_CHANNELS: dict[str, tuple[int, int]] = {"pred": (NUM_CHANNELS, 3)}

#: Square splat radius (pixels) of the trajectory raster.
SPLAT_RADIUS = 1


def num_channels(prediction: bool = False) -> int:
    """``C`` of the conditions: 20, or 23 with the ``pred`` group."""
    return NUM_CHANNELS + (3 if prediction else 0)


def channel_slice(name: str) -> slice:
    """Slice of channel group ``name`` (of :data:`CHANNELS` or ``pred``) along the channel axis."""
    start, n = CHANNELS[name] if name in CHANNELS else PREDICTION_CHANNELS[name]
    return slice(start, start + n)


def to_signed(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` values in [0, 255] → ``float32 (3, H, W)`` in [-1, 1]."""
    return (np.asarray(img, np.float32).transpose(2, 0, 1) / 127.5 - 1.0).astype(np.float32)


def build_conditions(seg: DecodedSegment, t: int, bidirectional: bool = True,
                     prediction: bool = False) -> np.ndarray:
    """Conditions of segment-relative frame ``t`` (``0 <= t < L``).

    Args:
        prediction: append the ``pred`` group (the warp decoder's frame ``t``).

    Returns:
        ``float32 (C, H, W)`` (``C =`` :func:`num_channels`) laid out as in :data:`CHANNELS`,
        ``H, W`` being the keyframes' (coded) size.
    """
    length = seg.segment.length
    if not 0 <= t < length:
        raise ValueError(f"frame {t} outside segment of {length} frames")
    h, w = seg.key_start.shape[:2]
    out = np.zeros((num_channels(prediction), h, w), np.float32)
    w0, c0, w1, c1 = warp_keyframes(seg, t, float(seg.bandwidth), bidirectional=bidirectional)
    out[channel_slice("k0")] = to_signed(seg.key_start)
    out[channel_slice("w0")] = to_signed(w0)
    out[channel_slice("c0")] = np.clip(np.asarray(c0, np.float32), 0, 1)[None]
    if bidirectional:
        out[channel_slice("k1")] = to_signed(seg.key_end)
        out[channel_slice("w1")] = to_signed(w1)
        out[channel_slice("c1")] = np.clip(np.asarray(c1, np.float32), 0, 1)[None]
    raster = rasterise_tracks(seg.tracks, t, h, w, radius=SPLAT_RADIUS)
    out[CHANNELS["vis"][0]: CHANNELS["ident"][0] + 2] = raster
    out[channel_slice("tau")] = t / (length - 1) if length > 1 else 0.0
    if prediction:
        out[channel_slice("pred")] = to_signed(predict_frame(seg, t, bidirectional))
    return out


def build_segment_conditions(
    seg: DecodedSegment, frames: Sequence[int] | None = None, bidirectional: bool = True,
    prediction: bool = False,
) -> np.ndarray:
    """Batch version: ``float32 (len(frames), C, H, W)`` (default: all ``L`` frames)."""
    frames = range(seg.segment.length) if frames is None else frames
    return np.stack([build_conditions(seg, int(t), bidirectional, prediction) for t in frames])


def prediction_from_conditions(cond: Any) -> Any:
    """The ``pred`` group ``(..., 3, H, W)`` in [-1, 1] of ``prediction=True`` conditions
    ``(..., 23, H, W)`` (torch or NumPy); a ``ValueError`` for conditions without it."""
    if cond.shape[-3] != num_channels(True):
        raise ValueError(f"conditions with {cond.shape[-3]} channels carry no prediction "
                         f"(build them with prediction=True: {num_channels(True)} channels)")
    return cond[..., channel_slice("pred"), :, :]


def warp_blend_from_conditions(cond: Any) -> Any:
    """The warp prediction (:func:`actdiff.motion.prediction.blend_warps`) read from conditions.

    Without K1 (``bidirectional=False`` conditions: its channels are zero) ``τ`` counts as 0, so
    the result is ``w0``, as in the warp decoder.

    Args:
        cond: ``(B, NUM_CHANNELS, H, W)`` or ``(NUM_CHANNELS, H, W)`` torch tensor or NumPy array.

    Returns:
        ``(B, 3, H, W)`` (or ``(3, H, W)``) in [-1, 1], same type as ``cond``.
    """

    def g(name: str) -> Any:
        return cond[..., channel_slice(name), :, :]

    k1 = g("k1")
    energy = (k1 * k1).reshape(*k1.shape[:-3], -1).sum(-1)       # 0 exactly when K1 is absent
    has_k1 = (energy > 0).reshape(*energy.shape, 1, 1, 1) * 1.0
    tau = g("tau") * has_k1
    return blend_warps(g("w0"), g("c0"), g("w1"), g("c1"), tau)
