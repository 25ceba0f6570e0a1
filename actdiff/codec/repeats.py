"""Repeated frames: a frame that shows the frame before it again is not coded (``codec.repeat_psnr``).

Real footage often repeats frames: a 12.5 fps capture stored at 25 fps (every second frame a
copy), a cadence that inserts one duplicate every few frames, a freeze. Coding such a clip as it
is spends trajectory bits on frames that do not move and makes the decoder spread the motion of
one real step over two frames, so every second decoded frame moves where the source stands still.

With ``codec.repeat_psnr`` set (dB), the encoder marks a frame as a repeat when its PSNR against
the last frame it kept (not merely the one before, so a slow drift is never frozen away) is at
least that value, and codes only the kept frames: the segments, keyframes and trajectories of
the stream live on the kept frames' time line. The stream lists the repeated display frames
(format version 4, :mod:`actdiff.codec.bitstream`), and the decoder shows the frame before at
each of them (:func:`show_repeats`; :func:`actdiff.codec.decoder.decoded_frames` shows them as it goes).
``null`` codes every frame.

Indices: a stream of ``T`` kept ("coded") frames with repeats ``R`` (sorted display indices, never
0) shows ``T + len(R)`` frames.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from actdiff.errors import BitstreamError

#: The highest PSNR the rule compares with (identical frames score this instead of infinity).
IDENTICAL_DB = 200.0


def frame_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two ``uint8`` frames of the same shape (:data:`IDENTICAL_DB` when equal)."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return IDENTICAL_DB if mse == 0 else min(IDENTICAL_DB, 10.0 * np.log10(255.0 ** 2 / mse))


def find_repeats(frames: np.ndarray, min_psnr: Optional[float]) -> Tuple[int, ...]:
    """Display indices of the frames of ``uint8 (T, H, W, 3)`` that repeat the last kept frame:
    PSNR against it at least ``min_psnr`` dB (``None``: none). Frame 0 is always kept."""
    if min_psnr is None or len(frames) < 2:
        return ()
    out, kept = [], frames[0]
    for t in range(1, len(frames)):
        if frame_psnr(frames[t], kept) >= float(min_psnr):
            out.append(t)
        else:
            kept = frames[t]
    return tuple(out)


def drop_repeats(frames: np.ndarray, repeated: Sequence[int]) -> np.ndarray:
    """The kept frames of display frames ``(T + len(repeated), ...)``: ``(T, ...)``."""
    if not len(repeated):
        return frames
    keep = np.ones(len(frames), bool)
    keep[list(repeated)] = False
    return frames[keep]


def shown_index(num_coded: int, repeated: Sequence[int]) -> np.ndarray:
    """``int64 (num_coded + len(repeated),)``: the coded frame each display frame shows."""
    shown = num_coded + len(repeated)
    step = np.ones(shown, np.int64)
    step[0] = 0
    step[list(repeated)] = 0
    return np.cumsum(step)


def show_repeats(frames: np.ndarray, repeated: Sequence[int]) -> np.ndarray:
    """The display frames of coded frames ``(T, ...)``: each repeat shows the frame before it."""
    if not len(repeated):
        return frames
    return frames[shown_index(len(frames), repeated)]


def pack_repeats(repeated: Sequence[int], shown: int) -> bytes:
    """``ceil(shown / 8)`` bytes, bit ``t`` (least significant first) set when display frame
    ``t`` repeats the frame before it."""
    bits = np.zeros(shown, np.uint8)
    bits[list(repeated)] = 1
    return np.packbits(bits, bitorder="little").tobytes()


def unpack_repeats(data: bytes, shown: int, coded: int) -> Tuple[int, ...]:
    """Inverse of :func:`pack_repeats`, checked: ``BitstreamError`` unless frame 0 is coded,
    ``shown − coded`` frames are repeats and the padding bits are clear."""
    bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
    if len(bits) != 8 * ((shown + 7) // 8) or bits[shown:].any():
        raise BitstreamError("corrupt file: the repeated-frame list has stray bits")
    repeated = tuple(int(t) for t in np.flatnonzero(bits[:shown]))
    if len(repeated) != shown - coded or (repeated and repeated[0] == 0):
        raise BitstreamError(f"corrupt file: {len(repeated)} repeated frames listed for {shown} shown and "
                             f"{coded} coded frames (frame 0 is always coded)")
    return repeated


__all__ = ["IDENTICAL_DB", "drop_repeats", "find_repeats", "frame_psnr", "pack_repeats",
           "show_repeats", "shown_index", "unpack_repeats"]
