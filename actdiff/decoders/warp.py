"""Non-generative decoder: both keyframes warped along the interpolated trajectories and fused.

Each in-between frame is :func:`actdiff.motion.prediction.predict_frame` (by default the ghost-free
``select`` fusion; ``prediction="blend"`` for the plain average), the prediction the video
diffusion decoder refines.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from actdiff.decoders.base import Decoder
from actdiff.errors import ConfigError
from actdiff.motion.fusion import FusionParams
from actdiff.motion.prediction import MODES, predict_frame
from actdiff.registry import DECODERS
from actdiff.types import DecodedSegment, StreamHeader


@DECODERS.register("warp")
class WarpDecoder(Decoder):
    """Warp-and-blend decoder (no learned weights).

    Args:
        bidirectional: use both keyframes (default) or the start keyframe only.
        prediction: ``select`` (ghost-free fusion, default) or ``blend`` (plain average).
        prediction_params: overrides of :class:`actdiff.motion.fusion.FusionParams` (``select``).
    """

    name = "warp"

    def __init__(self, bidirectional: bool = True, prediction: str | None = None,
                 prediction_params: dict | None = None, **unused: Any) -> None:
        self.bidirectional = bool(bidirectional)
        self.prediction = prediction or "select"
        if self.prediction not in MODES:
            raise ConfigError(f"unknown warp prediction {self.prediction!r} (known: {', '.join(MODES)})")
        try:
            self.params = FusionParams(**(prediction_params or {}))
        except TypeError as e:
            raise ConfigError(f"bad prediction_params: {e}") from None

    def settings(self) -> dict:
        """The effective settings (recorded in results JSONs)."""
        return {"name": self.name, "bidirectional": self.bidirectional, "prediction": self.prediction}

    def decode_segment(self, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
        """Frames ``uint8 (L, H, W, 3)``; the decoded keyframes at both ends unchanged."""
        length = seg.segment.length
        h, w = seg.key_start.shape[:2]
        out = np.empty((length, h, w, 3), np.uint8)
        out[0] = seg.key_start
        for t in range(1, length - 1):
            frame = predict_frame(seg, t, self.bidirectional, self.prediction, self.params)
            out[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        if length > 1:
            out[-1] = seg.key_end
        return out
