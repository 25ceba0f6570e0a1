"""Decoder conditions built from a :class:`~actdiff.types.DecodedSegment` (train = decode)."""

from actdiff.conditioning.conditions import (
    CHANNELS,
    NUM_CHANNELS,
    build_conditions,
    build_segment_conditions,
    channel_slice,
    warp_blend_from_conditions,
)
from actdiff.conditioning.raster import rasterise_tracks

__all__ = [
    "CHANNELS",
    "NUM_CHANNELS",
    "build_conditions",
    "build_segment_conditions",
    "channel_slice",
    "rasterise_tracks",
    "warp_blend_from_conditions",
]
