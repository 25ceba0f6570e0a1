"""Which keyframes each segment carries, and the decoded keyframe shared by neighbours.

Consecutive segments share their boundary keyframe: the first segment carries its start and end
keyframe (one when it is a single frame), every later segment only its end keyframe; the start
keyframe of segment ``i > 0`` is the decoded end keyframe of segment ``i - 1``. The encoder (which
decodes its own keyframes, closed loop) and the decoder both follow this rule through
:class:`KeyframeChain`, and the container (:mod:`actdiff.codec.bitstream`) through
:func:`carried_keyframes`, so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actdiff.errors import BitstreamError
from actdiff.types import Segment


def carried_keyframes(index: int, seg: Segment) -> list[int]:
    """Absolute frame indices of the keyframes that segment ``index`` carries, in stream order."""
    if index == 0:
        return [seg.start] if seg.end == seg.start else [seg.start, seg.end]
    return [seg.end]


class KeyframeChain:
    """Hands each segment its decoded ``(key_start, key_end)``, carrying the shared keyframe over.

    Call :meth:`link` once per segment, in order, with the decoded images of the keyframes the
    segment carries (``uint8 (H, W, 3)``, as listed by :func:`carried_keyframes`).
    """

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._index = 0

    def link(self, seg: Segment, decoded: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(key_start, key_end)`` of the next segment ``seg``; ``BitstreamError`` on a wrong count."""
        index = self._index
        expected = len(carried_keyframes(index, seg))
        if len(decoded) != expected:
            raise BitstreamError(f"segment {index} carries {len(decoded)} keyframes, expected {expected}")
        key_start = decoded[0] if index == 0 else self._previous
        key_end = decoded[-1]
        self._previous, self._index = key_end, index + 1
        return key_start, key_end
