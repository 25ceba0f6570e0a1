"""Decoder conditions built from a :class:`~actdiff.types.DecodedSegment` (train = decode).

Per frame (2D denoiser): :func:`build_conditions` (layout :data:`CHANNELS`). Per window of a
segment (video generators): :func:`build_window_conditions` (layout :data:`VIDEO_CHANNELS`, whose
first channels are the per-frame layout).
"""

from actdiff.conditioning.conditions import (
    CHANNELS,
    NUM_CHANNELS,
    build_conditions,
    build_segment_conditions,
    channel_slice,
    num_channels,
    prediction_from_conditions,
    warp_blend_from_conditions,
)
from actdiff.conditioning.raster import rasterise_tracks
from actdiff.conditioning.segment import (
    NUM_VIDEO_CHANNELS,
    VIDEO_CHANNELS,
    build_window_conditions,
    frame_conditions,
    video_channel_slice,
)
from actdiff.conditioning.tracking_video import render_tracking_video

__all__ = [
    "CHANNELS",
    "NUM_CHANNELS",
    "NUM_VIDEO_CHANNELS",
    "VIDEO_CHANNELS",
    "build_conditions",
    "build_segment_conditions",
    "build_window_conditions",
    "channel_slice",
    "frame_conditions",
    "num_channels",
    "prediction_from_conditions",
    "rasterise_tracks",
    "render_tracking_video",
    "video_channel_slice",
    "warp_blend_from_conditions",
]
