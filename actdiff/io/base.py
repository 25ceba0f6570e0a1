"""Shared pieces of the readers and writers."""

from __future__ import annotations

from dataclasses import dataclass


class FormatError(Exception):
    """Raised by a format module; :mod:`actdiff.io.reader` turns it into a one-line ``InputError``."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds, read without decoding every frame.

    Attributes:
        num_frames: frame count (from the header/index, or by demuxing packets without decoding).
        height, width: frame size in pixels (before any protocol resize).
        fps: frames per second.
        format: ``container``, ``y4m``, ``yuv`` or ``png``.
    """

    num_frames: int
    height: int
    width: int
    fps: float
    format: str
