"""Typed interfaces between the pipeline stages.

The data flows one way::

    Video → [Segment] → DenseMotion → Tracks (selected, quantised) → bitstream
          → decoded keyframes + Tracks → dense motion → decoder → frames

Conventions used everywhere:

* frames are ``uint8 (T, H, W, 3)`` RGB, or float ``[0, 1]`` tensors ``(T, 3, H, W)``;
* pixel coordinates are ``(x, y)`` with the origin at the centre of the top-left pixel;
* frame indices are absolute (in the whole video) unless a field says "segment-relative".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from actdiff.errors import InputError, shorten


def check_positive(value: Any, what: str, unit: str = "", error: type = InputError) -> float:
    """``value`` as a float when it is a finite number > 0 (``bool`` is no number here), else a
    one-line ``error`` naming ``what`` (and its ``unit``)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise error(f"{what} must be a finite number > 0{f' ({unit})' if unit else ''}, got {shorten(repr(value))}")
    return float(value)


def check_fps(fps: Any, what: str = "fps") -> float:
    """The one check of a frame rate, for :class:`Video` and the API alike (:func:`check_positive`)."""
    return check_positive(fps, what, "frames per second")



def check_frames(frames: Any, what: str = "Video frames") -> None:
    """One-line ``InputError`` unless ``frames`` is a ``uint8 (T, H, W, 3)`` NumPy array, ``T, H, W >= 1``."""
    if not isinstance(frames, np.ndarray):
        raise InputError(f"{what} must be a uint8 (T, H, W, 3) NumPy array, got {type(frames).__name__} "
                         "(actdiff.io.as_video converts lists, float arrays and tensors)")
    shape = tuple(int(n) for n in frames.shape)
    if frames.ndim != 4 or shape[-1] != 3 or frames.dtype != np.uint8 or min(shape) < 1:
        raise InputError(f"{what} must be uint8 (T, H, W, 3) RGB with T, H, W >= 1, got {frames.dtype} {shape} "
                         "(actdiff.io.as_video converts float [0, 1] arrays, single images and tensors)")


@dataclass
class Video:
    """A decoded clip held in memory.

    Attributes:
        frames: ``uint8 (T, H, W, 3)`` RGB.
        fps: frames per second (> 0).
        source: where it came from (path), for messages and results.
    """

    frames: np.ndarray
    fps: float = 25.0
    source: str = ""

    def __post_init__(self) -> None:
        """Checked here, so that a bad clip fails at once, not deep in the encoder after the flows."""
        check_frames(self.frames)
        self.fps = check_fps(self.fps, "Video fps")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])


@dataclass(frozen=True)
class Segment:
    """A run of frames between two keyframes, both inclusive.

    Consecutive segments share their boundary keyframe: ``segments[i].end ==
    segments[i + 1].start``. A one-frame video is the single segment ``(0, 0)``.
    """

    start: int
    end: int

    @property
    def length(self) -> int:
        """Number of frames including both keyframes."""
        return self.end - self.start + 1


@dataclass
class DenseMotion:
    """Where every pixel of a segment's first frame goes in each frame of the segment.

    Attributes:
        flow: ``float32 (T, H, W, 2)`` displacement ``(dx, dy)`` in pixels from pixel
            ``(x, y)`` of frame 0 to its position in frame ``t`` (``flow[0] == 0``).
        confidence: ``float32 (T, H, W)`` in ``[0, 1]``; a pixel is visible at ``t``
            when its confidence is at least the tracker's threshold.
    """

    flow: np.ndarray
    confidence: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.flow.shape[0])


@dataclass
class Tracks:
    """Point trajectories over one segment (segment-relative frame index ``t``).

    Attributes:
        positions: ``float32 (T, N, 2)`` pixel positions ``(x, y)``.
        visible: ``bool (T, N)``.
        confidence: ``float32 (T, N)`` in ``[0, 1]``.
    """

    positions: np.ndarray
    visible: np.ndarray
    confidence: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def num_points(self) -> int:
        return int(self.positions.shape[1])

    @classmethod
    def empty(cls, num_frames: int) -> "Tracks":
        return cls(
            positions=np.zeros((num_frames, 0, 2), np.float32),
            visible=np.zeros((num_frames, 0), bool),
            confidence=np.zeros((num_frames, 0), np.float32),
        )


@dataclass
class StreamHeader:
    """What the decoder needs before the first segment.

    Attributes:
        height, width: display size in pixels (frames are cropped to it after decoding).
        coded_height, coded_width: size the codec worked at (display size padded).
        num_frames: frames coded (the segments tile ``0 … num_frames − 1``).
        fps: frames per second.
        seed: seed of the decoder's noise (diffusion decoder), for deterministic decoding.
        params: codec parameters the decoder must know (keyframe codec, quantiser step, …).
        repeated: display indices of the frames that show the frame before them again, sorted,
            never 0 (:mod:`actdiff.codec.repeats`); the video shows ``shown_frames`` frames.
    """

    height: int
    width: int
    coded_height: int
    coded_width: int
    num_frames: int
    fps: float
    seed: int = 0
    params: Dict[str, Any] = field(default_factory=dict)
    repeated: Tuple[int, ...] = ()

    @property
    def shown_frames(self) -> int:
        """Frames the video shows: the coded ones and the repeats."""
        return self.num_frames + len(self.repeated)

    def display_index(self) -> List[int]:
        """The display index of each coded frame (``0 … num_frames − 1`` without repeats): where
        a segment's frames sit in the decoded video and the source."""
        return display_indices(self.num_frames, self.repeated)


def display_indices(num_coded: int, repeated: Sequence[int]) -> List[int]:
    """The display index of each of ``num_coded`` coded frames when the display frames
    ``repeated`` (sorted) show the frame before them again (:mod:`actdiff.codec.repeats`)."""
    gone = set(repeated)
    return [t for t in range(num_coded + len(gone)) if t not in gone]


@dataclass
class SegmentSection:
    """One segment's payloads in the bitstream.

    Attributes:
        segment: the frames it spans (absolute indices).
        keyframes: coded images; the first segment carries its start and end keyframe
            (one if ``start == end``), every later segment only its end keyframe.
        trajectories: coded trajectory payload (may be empty).
        bandwidth: interpolation bandwidth (pixels, quantised with
            ``actdiff.motion.quantize_bandwidth``) used to densify the trajectories.
        detail_mix: the encoder's choice of the diffusion decoder's ``detail_mix`` ``β`` for
            this segment, in [0, 1] in steps of 0.01 (``actdiff.codec.detail_mix``); ``None``: not
            sent (the stream's header has no ``dm``, or the segment has no in-between frame).
    """

    segment: Segment
    keyframes: List[bytes]
    trajectories: bytes
    bandwidth: float = 16.0
    detail_mix: Optional[float] = None


@dataclass
class Bitstream:
    header: StreamHeader
    sections: List[SegmentSection]


@dataclass
class EncodeResult:
    """What ``encode`` returns: the file's bytes and its statistics (the ``--stats`` JSON)."""

    data: bytes
    stats: Dict[str, Any]
    debug: Optional[Dict[str, Any]] = None


@dataclass
class DecodedSegment:
    """The conditions a decoder gets for one segment, built only from the bitstream.

    Attributes:
        segment: absolute frame span.
        key_start, key_end: decoded keyframes ``uint8 (H, W, 3)`` (coded size).
        tracks: decoded (quantised) trajectories, segment-relative frames.
        bandwidth: interpolation bandwidth (pixels) for densifying ``tracks``.
        detail_mix: the encoder's ``detail_mix`` ``β`` in [0, 1] for the diffusion decoder's
            ``detail`` base, when the stream carries one (``None``: the decoder's own setting).
    """

    segment: Segment
    key_start: np.ndarray
    key_end: np.ndarray
    tracks: Tracks
    bandwidth: float = 16.0
    detail_mix: Optional[float] = None
