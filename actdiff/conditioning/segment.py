"""Segment conditions as a video — the ONE place the layout of the video decoders' input is defined.

``build_window_conditions(seg, frames)`` turns what the bitstream carries for one segment (decoded
keyframes + decoded trajectories, a :class:`~actdiff.types.DecodedSegment`) into a
``float32 (T, C, H, W)`` tensor for ``T`` segment-relative frames (a window) of a segment of
``L`` frames. The video diffusion models are trained on it (:mod:`actdiff.training.windows`) and
decode from it (:mod:`actdiff.decoders.video`) through this one function, so the two cannot
drift apart. Everything in it is decoded data; nothing depends on the source video.

Channel layout (``VIDEO_CHANNELS``; ``C = 30``). Channels 0–19 are, frame by frame, exactly the
per-frame conditions of :func:`actdiff.conditioning.build_conditions` (layout ``CHANNELS``), so a
frame model's conditions are the first 20 channels of a video model's:

=========  ============  ==================================================================  ========
channels   name          content (frame ``t`` of the window, segment-relative)               range
=========  ============  ==================================================================  ========
0–19       (frame)       ``build_conditions(seg, t)``: ``k0, k1, w0, c0, w1, c1, vis,``      see
                         ``disp, ident, tau`` (both keyframes everywhere, both keyframes     CHANNELS
                         warped to ``t`` with their confidences, trajectory splats, τ)
20–22      ``key``       the decoded keyframe AT ITS POSITION: K0 at ``t = 0``, K1 at        [-1, 1]
                         ``t = L - 1``, zeros elsewhere (first, zeros, last — as the
                         reference places the keyframe latents)
23         ``key_mask``  1 where ``key`` holds a keyframe, else 0                            {0, 1}
24–26      ``track``     the tracking video (:mod:`~actdiff.conditioning.tracking_video`):   [-1, 1]
                         each visible trajectory a square coloured by its frame-0 position
                         (R = x0, G = y0, B = inverse depth, 0.5 without depth); black = -1
27–29      ``pred``      the prediction the generator refines:                               [-1, 1]
                         :func:`actdiff.motion.prediction.predict_frame` (the warp decoder's
                         output for that frame)
=========  ============  ==================================================================  ========

With ``bidirectional=False`` the K1 channels (``k1``, ``w1``, ``c1``, and ``key`` at ``L - 1``) are
zero and ``pred`` is the start keyframe's warp alone, as in the warp decoder. ``depth`` (off by
default, no depth model ships) is an inverse-depth map of the start keyframe for the tracking
video's blue channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actdiff.conditioning.conditions import NUM_CHANNELS, build_conditions, to_signed
from actdiff.conditioning.tracking_video import render_tracking_video
from actdiff.motion.prediction import predict_frame
from actdiff.types import DecodedSegment

#: Channel name → (first channel, number of channels), in the tensor's order. ``frame`` is the
#: whole per-frame layout of :data:`actdiff.conditioning.CHANNELS`.
VIDEO_CHANNELS: dict[str, tuple[int, int]] = {
    "frame": (0, NUM_CHANNELS),
    "key": (NUM_CHANNELS, 3),
    "key_mask": (NUM_CHANNELS + 3, 1),
    "track": (NUM_CHANNELS + 4, 3),
    "pred": (NUM_CHANNELS + 7, 3),
}
NUM_VIDEO_CHANNELS: int = sum(n for _, n in VIDEO_CHANNELS.values())


def video_channel_slice(name: str) -> slice:
    """Slice of channel group ``name`` of :data:`VIDEO_CHANNELS` along the channel axis."""
    start, n = VIDEO_CHANNELS[name]
    return slice(start, start + n)


def check_frames(seg: DecodedSegment, frames: Sequence[int]) -> list[int]:
    """``frames`` as ints, or ``ValueError`` naming the first one outside ``[0, L)``."""
    length = seg.segment.length
    out = [int(t) for t in frames]
    if not out:
        raise ValueError("a window needs at least one frame")
    for t in out:
        if not 0 <= t < length:
            raise ValueError(f"frame {t} outside segment of {length} frames")
    return out


def build_window_conditions(
    seg: DecodedSegment,
    frames: Sequence[int] | None = None,
    bidirectional: bool = True,
    depth: np.ndarray | None = None,
    groups: Sequence[str] | None = None,
) -> np.ndarray:
    """Conditions of the segment-relative ``frames`` (default: all ``L`` frames of the segment).

    Args:
        seg: the decoded segment (keyframes ``uint8 (H, W, 3)`` at the coded size, tracks).
        frames: segment-relative frame indices, each in ``[0, L)``, in window order (usually
            consecutive; repeats are allowed, e.g. to pad a window to a model's frame-count rule).
        bidirectional: use the end keyframe K1 (the stream's ``bidirectional`` parameter).
        depth: optional ``float32 (H, W)`` inverse depth of K0 in [0, 1] for the tracking video.
        groups: names of :data:`VIDEO_CHANNELS` to compute (default: all); the others stay zero
            (a model that reads a few groups skips the costly ``frame`` and ``pred`` ones).

    Returns:
        ``float32 (T, NUM_VIDEO_CHANNELS, H, W)`` laid out as in :data:`VIDEO_CHANNELS`.
    """
    want = set(VIDEO_CHANNELS if groups is None else groups)
    if want - set(VIDEO_CHANNELS):
        raise ValueError(f"unknown condition group(s) {sorted(want - set(VIDEO_CHANNELS))}")
    frames = check_frames(seg, range(seg.segment.length) if frames is None else frames)
    length = seg.segment.length
    h, w = seg.key_start.shape[:2]
    out = np.zeros((len(frames), NUM_VIDEO_CHANNELS, h, w), np.float32)
    track = render_tracking_video(seg.tracks, frames, h, w, depth=depth) if "track" in want else None
    for i, t in enumerate(frames):
        if "frame" in want:
            out[i, video_channel_slice("frame")] = build_conditions(seg, t, bidirectional)
        key = seg.key_start if t == 0 else seg.key_end if (t == length - 1 and bidirectional) else None
        if key is not None:
            if "key" in want:
                out[i, video_channel_slice("key")] = to_signed(key)
            if "key_mask" in want:
                out[i, video_channel_slice("key_mask")] = 1.0
        if track is not None:
            out[i, video_channel_slice("track")] = track[i]
        if "pred" in want:
            out[i, video_channel_slice("pred")] = np.clip(
                to_signed(predict_frame(seg, t, bidirectional)), -1.0, 1.0)
    return out


def frame_conditions(cond: np.ndarray) -> np.ndarray:
    """The per-frame (2D model) part of window conditions: ``(..., NUM_CHANNELS, H, W)``."""
    return cond[..., video_channel_slice("frame"), :, :]
