"""Fast mode: each keyframe's quality from how much of it the decoder reuses (``codec.keyframe_spread``).

A keyframe is seen once directly and, warped, in the interior frames of the segments on both
sides of it; the RD encoder weights its distortion by ``w_k`` (:func:`propagation_weight`, as
x265's cutree weights a reference). The fast mode has no search, but the same weights can spread
its one keyframe quality ``q`` (``keyframe_codec.quality``) over the keyframes:

    ``q_k = clip(round(q + s · (log2 w_k − mean_j log2 w_j)), 0, 100)``

with ``s = codec.keyframe_spread`` quality points per doubling of the weight (0: every keyframe at
``q``, the stream byte for byte as without it). The offsets average zero in the log domain, so
the rate stays near that of ``q``. Needs a keyframe codec whose payload carries its own quality
(``PER_KEYFRAME_QUALITY``: AVIF, WebP, JPEG); with any other codec every keyframe is coded at ``q``
and a warning says so. The header's ``kq`` stays ``q``.
"""

from __future__ import annotations

import logging
import math
from typing import Dict, Sequence

from actdiff.codec.rd_keyframes import DEFAULT_PROPAGATION, PER_KEYFRAME_QUALITY, propagation_weights
from actdiff.types import Segment

log = logging.getLogger(__name__)


def keyframe_weights(segments: Sequence[Segment]) -> Dict[int, float]:
    """``{frame: w_k}`` for every keyframe of contiguous ``segments``, as the RD encoder weighs them."""
    keys = sorted({s.start for s in segments} | {s.end for s in segments})
    return dict(zip(keys, propagation_weights(keys, DEFAULT_PROPAGATION)))


def spread_qualities(segments: Sequence[Segment], quality: int, spread: float, codec_name: str) -> Dict[int, int]:
    """``{frame: quality}`` of every keyframe (module docstring); all ``quality`` when ``spread`` is 0."""
    weights = keyframe_weights(segments)
    if not spread:
        return {k: int(quality) for k in weights}
    if codec_name not in PER_KEYFRAME_QUALITY:  # said, not silent: the payload could not carry it
        log.warning("codec.keyframe_spread=%g not applied: %s keyframes are all coded at quality %d (only %s payloads "
                    "carry their own quality)", spread, codec_name, int(quality), ", ".join(PER_KEYFRAME_QUALITY))
        return {k: int(quality) for k in weights}
    logs = {k: math.log2(w) for k, w in weights.items()}
    mean = sum(logs.values()) / len(logs)
    return {k: min(100, max(0, int(round(quality + spread * (v - mean))))) for k, v in logs.items()}


__all__ = ["keyframe_weights", "spread_qualities"]
