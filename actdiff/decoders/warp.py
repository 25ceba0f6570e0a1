"""Non-generative decoder: both keyframes warped along the interpolated trajectories and fused.

Each in-between frame is :func:`actdiff.motion.prediction.predict_frame` (by default the ghost-free
``select`` fusion; ``prediction="blend"`` for the plain average), the prediction the video
diffusion decoder refines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from actdiff.decoders.base import Decoder, refuse_unknown_options
from actdiff.errors import ConfigError
from actdiff.motion.edge_field import planned_frames
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
    #: The options this decoder takes; the others of a shared ``codec.decoder`` section are the
    #: diffusion decoders' and ignored here (callers refuse them when a user names them explicitly);
    #: a key no decoder takes is refused (:data:`actdiff.decoders.base.SECTION_OPTIONS`).
    OPTIONS = ("bidirectional", "prediction", "prediction_params")

    def __init__(self, bidirectional: bool = True, prediction: str | None = None,
                 prediction_params: dict | None = None, **unused: Any) -> None:
        refuse_unknown_options("warp", unused)  # the diffusion decoders' options pass, a typo does not
        self.bidirectional = bool(bidirectional)
        self.prediction = prediction or "select"
        if self.prediction not in MODES:
            raise ConfigError(f"unknown warp prediction {self.prediction!r} (known: {', '.join(MODES)})")
        try:
            self.params = FusionParams(**(prediction_params or {}))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad prediction_params: {e}") from None
        self.prediction_params = dict(prediction_params or {})

    def settings(self) -> dict:
        """The effective settings (recorded in results JSONs): ``keyflow`` and ``edge_sigma_r``
        always (``select``), ``prediction_params`` only when some are given."""
        out = {"name": self.name, "bidirectional": self.bidirectional, "prediction": self.prediction}
        if self.prediction == "select":
            out.update(keyflow=self.params.keyflow, edge_sigma_r=self.params.edge_sigma_r)
        return {**out, "prediction_params": self.prediction_params} if self.prediction_params else out

    def decode_segment(self, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
        """Frames ``uint8 (L, H, W, 3)``; the decoded keyframes at both ends unchanged."""
        return self.decode_frames(header, seg, range(seg.segment.length))

    def decode_frames(self, header: StreamHeader, seg: DecodedSegment, frames: Sequence[int]) -> np.ndarray:
        """Only the frames at the segment-relative indices ``frames`` (each in-between frame is
        predicted on its own), identical to those of :meth:`decode_segment`."""
        length = seg.segment.length
        h, w = seg.key_start.shape[:2]
        frames = [int(t) for t in frames]
        bad = [t for t in frames if not 0 <= t < length]
        if bad:
            raise ValueError(f"frame {bad[0]} outside segment of {length} frames")
        out = np.empty((len(frames), h, w, 3), np.uint8)
        with planned_frames(seg, frames):  # one motion-field pass per CHUNK of the frames asked for
            for i, t in enumerate(frames):
                if t == 0:
                    out[i] = seg.key_start
                elif t == length - 1:
                    out[i] = seg.key_end
                else:
                    frame = predict_frame(seg, t, self.bidirectional, self.prediction, self.params)
                    out[i] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        return out
