"""CoTracker3 (offline) point tracker — optional, needs the ``cotracker`` package and weights.

CoTracker3 is not on PyPI: ``pip install git+https://github.com/facebookresearch/co-tracker``
and put ``scaled_offline.pth`` at the config key ``checkpoint`` (default
``~/.cache/actdiff/cotracker/scaled_offline.pth``). Model input: video ``(B, T, 3, H, W)``
float in [0, 255] and ``grid_size`` or ``queries (B, N, 3)`` as ``(t, x, y)``; output tracks
``(B, T, N, 2)`` and visibility ``(B, T, N)``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Tuple

import numpy as np

from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.motion.interpolate import interpolate_sparse
from actdiff.registry import TRACKERS
from actdiff.tracking.base import Tracker, check_frames
from actdiff.types import DenseMotion, Tracks

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = "~/.cache/actdiff/cotracker/scaled_offline.pth"
INSTALL = "pip install git+https://github.com/facebookresearch/co-tracker"


@TRACKERS.register("cotracker3")
class CoTracker3Tracker(Tracker):
    """Dense motion from CoTracker3 grid tracks (``stride`` pixels apart), interpolated.

    Args:
        checkpoint: path of ``scaled_offline.pth``.
        stride: grid spacing in pixels for :meth:`track_dense`.
        device: torch device string.
        fb_threshold, visibility_threshold, appearance_tol, flow_memory_gb: see :class:`Tracker`.
    """

    name = "cotracker3"

    def __init__(self, checkpoint: str = DEFAULT_CHECKPOINT, stride: int = 8, device: str = "cpu",
                 fb_threshold: float = 1.5, visibility_threshold: float = 0.3,
                 appearance_tol: Optional[float] = None, flow_memory_gb: Optional[float] = None,
                 **unused: Any) -> None:
        super().__init__(fb_threshold, visibility_threshold, appearance_tol, flow_memory_gb)
        try:
            import cotracker  # noqa: F401
        except ImportError:
            raise ConfigError(f"tracker cotracker3 needs the 'cotracker' package: {INSTALL}") from None
        self.checkpoint = os.path.expanduser(str(checkpoint))
        if not os.path.isfile(self.checkpoint):
            raise MissingWeightsError(
                f"CoTracker3 weights not found: put scaled_offline.pth at {self.checkpoint} "
                "(config key tracker.checkpoint)"
            )
        self.stride, self.device = int(stride), device
        self._model: Optional[Any] = None

    def _predict(self, frames: np.ndarray, queries: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        import torch
        from cotracker.predictor import CoTrackerPredictor

        if self._model is None:
            self._model = CoTrackerPredictor(checkpoint=self.checkpoint).to(self.device).eval()
        video = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float().to(self.device)
        q = torch.from_numpy(np.asarray(queries, np.float32))[None].to(self.device)
        with torch.no_grad():
            tracks, vis = self._model(video, queries=q)
        return tracks[0].cpu().numpy().astype(np.float32), vis[0].cpu().numpy().astype(bool)

    def track_points(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        frames = check_frames(frames)
        pts = np.asarray(queries, np.float32).reshape(-1, 2)
        q = np.concatenate([np.zeros((len(pts), 1), np.float32), pts], 1)
        pos, vis = self._predict(frames, q)
        return Tracks(positions=pos, visible=vis, confidence=vis.astype(np.float32))

    def track_dense(self, frames: np.ndarray, start: int = 0, end: Optional[int] = None) -> DenseMotion:
        frames = check_frames(frames)
        end = frames.shape[0] - 1 if end is None else int(end)
        clip = frames[start:end + 1]
        t, h, w = clip.shape[:3]
        gy, gx = np.mgrid[self.stride // 2:h:self.stride, self.stride // 2:w:self.stride]
        grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
        tracks = self.track_points(clip, grid)
        flow = np.zeros((t, h, w, 2), np.float32)
        conf = np.ones((t, h, w), np.float32)
        for k in range(1, t):
            values = np.concatenate([tracks.positions[k] - grid, tracks.confidence[k][:, None]], 1)
            dense, _ = interpolate_sparse(grid, values, h, w, float(self.stride))
            flow[k], conf[k] = dense[..., :2], np.clip(dense[..., 2], 0, 1)
        return DenseMotion(flow=flow, confidence=conf)

    def pairwise_flows(self, frames: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Pairwise flows from two-frame dense tracking (slow: 2 model calls per frame pair)."""
        frames = check_frames(frames)
        log.warning("cotracker3: pairwise flows need 2 model calls per frame pair (slow)")
        n, h, w = frames.shape[0] - 1, frames.shape[1], frames.shape[2]
        fw, bw = self.flow_buffers(n, h, w)
        for k in range(n):
            fw[k] = self.track_dense(frames[k:k + 2]).flow[1]
            bw[k] = self.track_dense(frames[k:k + 2][::-1].copy()).flow[1]
        return fw, bw
