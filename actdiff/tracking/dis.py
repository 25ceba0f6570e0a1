"""OpenCV DIS optical flow tracker (weight-free, CPU, the default)."""

from __future__ import annotations

import logging
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from actdiff.errors import ConfigError
from actdiff.progress import bar
from actdiff.registry import TRACKERS
from actdiff.tracking.base import Tracker, check_frames

log = logging.getLogger(__name__)

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@TRACKERS.register("dis")
class DISTracker(Tracker):
    """Dense Inverse Search flow on grayscale frames, forward and backward per frame pair.

    Args:
        preset: ``ultrafast`` | ``fast`` | ``medium`` (about 1 / 1.5 / 4 ms per flow at 384×256).
        fb_threshold, visibility_threshold, appearance_tol, flow_memory_gb: see :class:`Tracker`.
    """

    name = "dis"

    def __init__(self, preset: str = "medium", fb_threshold: float = 1.5, visibility_threshold: float = 0.3,
                 appearance_tol: Optional[float] = None, flow_memory_gb: Optional[float] = None,
                 **unused: Any) -> None:
        super().__init__(fb_threshold, visibility_threshold, appearance_tol, flow_memory_gb)
        if preset not in PRESETS:
            raise ConfigError(f"unknown DIS preset {preset!r} (known: {', '.join(PRESETS)})")
        if unused:
            log.warning("DIS tracker ignores config keys: %s", ", ".join(sorted(unused)))
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def pairwise_flows(self, frames: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        frames = check_frames(frames)
        t, h, w = frames.shape[:3]
        fw, bw = self.flow_buffers(t - 1, h, w)
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        with bar(t - 1, "motion (DIS flow)", unit="frame", leave=False) as pbar:
            for k in range(t - 1):
                fw[k] = self._dis.calc(gray[k], gray[k + 1], None)
                bw[k] = self._dis.calc(gray[k + 1], gray[k], None)
                pbar.update(1)
        return fw, bw
