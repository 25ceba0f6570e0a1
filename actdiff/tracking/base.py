"""The tracker interface and flow chaining.

A tracker's basic product is the pair of forward/backward optical flows between consecutive
frames (:meth:`Tracker.pairwise_flows`); :func:`chain_flows` turns them into the dense motion
of every pixel of one frame over any range of frames, so the encoder computes pairwise flows
once per video and chains sub-ranges (segments) cheaply.

Confidence: at each step the forward–backward error ``e = |f(p) + b(p + f(p))|`` (pixels) is
mapped to ``max(0, 1 - e / (fb_threshold + 0.1·|f(p)|))`` (the tolerance grows with the motion,
as in Sundaram et al. 2010's consistency test); a pixel's confidence along a chain is the running
MINIMUM of its step confidences (one unreliable step makes the whole remaining trajectory
unreliable), and it is 0 from the first frame where the pixel leaves the frame.

Appearance re-validation (optional, ``appearance_tol`` grey levels > 0, with the frames): a pixel
whose running minimum has broken counts again, with confidence ``min(step, appearance)``, at a
frame where the current step is consistent and the colour at its chained position (frames
blurred by :data:`APPEARANCE_SIGMA` px) is within the tolerance of its colour in the first frame:
``appearance = max(0, 1 - mean|I_t(x_t) - I_0(x_0)| / appearance_tol)``. One inconsistent step
(a leg crossing, a motion-blurred frame) then no longer ends the trajectory of a moving object
for the rest of the segment, while a chain that slid onto another surface stays broken.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np

from actdiff.errors import InputError
from actdiff.tracking.flow_memory import flow_buffers
from actdiff.types import DenseMotion, Tracks

log = logging.getLogger(__name__)


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Validate ``uint8 (T, H, W, 3)`` frames (raises a one-line :class:`InputError`)."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[3] != 3 or arr.dtype != np.uint8:
        raise InputError(f"frames must be uint8 (T, H, W, 3), got {arr.dtype} {tuple(arr.shape)}")
    if arr.shape[0] < 1 or arr.shape[1] < 2 or arr.shape[2] < 2:
        raise InputError(f"frames too small: {tuple(arr.shape)}")
    return arr


def sample_field(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``field (H, W[, C])`` at ``(x, y)`` (any shape), border replicated."""
    fld = np.asarray(field, np.float32)
    shape = np.shape(x)
    out = cv2.remap(fld, np.asarray(x, np.float32).reshape(-1, 1), np.asarray(y, np.float32).reshape(-1, 1),
                    interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(shape + fld.shape[2:])


#: Share of the motion magnitude added to the forward–backward tolerance.
FB_RELATIVE = 0.1


def fb_confidence(err: np.ndarray, fb_threshold: float, motion: np.ndarray = 0.0) -> np.ndarray:
    """Step confidence ``max(0, 1 - err / (fb_threshold + 0.1·motion))`` in ``[0, 1]``
    (``err``, ``motion``: pixels)."""
    tol = max(float(fb_threshold), 1e-6) + FB_RELATIVE * np.asarray(motion, np.float32)
    return np.clip(1.0 - err / tol, 0.0, 1.0).astype(np.float32)


#: Gaussian sigma (pixels) of the blur before the appearance comparison.
APPEARANCE_SIGMA = 1.0


def _blurred(frame: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(np.asarray(frame, np.float32), (0, 0), APPEARANCE_SIGMA)


def appearance_confidence(ref: np.ndarray, frame: np.ndarray, x: np.ndarray, y: np.ndarray,
                          tol: float) -> np.ndarray:
    """``max(0, 1 - mean|frame(x, y) - ref| / tol)`` per pixel, ``float32 (H, W)`` in ``[0, 1]``.

    ``ref``: blurred first frame ``float32 (H, W, 3)``; ``frame``: blurred current frame, sampled
    bilinearly at the chained positions ``x, y`` (pixels, ``(H, W)``); ``tol``: grey levels.
    """
    cur = cv2.remap(frame, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = np.abs(cur - ref).mean(-1)
    return np.clip(1.0 - diff / max(float(tol), 1e-6), 0.0, 1.0).astype(np.float32)


def iter_chain(
    fw: np.ndarray, bw: np.ndarray, start: int, end: int, fb_threshold: float,
    frames: Optional[np.ndarray] = None, appearance_tol: float = 0.0,
) -> Iterator[Tuple[int, np.ndarray, np.ndarray]]:
    """Chain pairwise flows frame by frame, yielding ``(t, flow, confidence)``.

    Yields for ``t = start … end`` (absolute indices) the displacement ``float32 (H, W, 2)`` of
    every pixel of frame ``start`` to frame ``t`` and its confidence ``float32 (H, W)`` (see the
    module docstring). ``fw[k]`` is the flow frame ``k`` → ``k + 1``, ``bw[k]`` the flow
    ``k + 1`` → ``k``. With ``frames`` (``(T, H, W, 3)``, the frames the flows were computed on,
    same absolute indices) and ``appearance_tol > 0``, broken chains are re-validated by
    appearance (module docstring). The arrays yielded are fresh (safe to keep).
    """
    h, w = fw.shape[1:3]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = gx.copy(), gy.copy()
    conf = np.ones((h, w), np.float32)
    revalidate = frames is not None and appearance_tol > 0
    ref = _blurred(frames[start]) if revalidate else None
    run = conf.copy()                       # running minimum of the step confidences
    yield start, np.zeros((h, w, 2), np.float32), conf.copy()
    for k in range(start, end):
        f = cv2.remap(fw[k], x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        x = x + f[..., 0]
        y = y + f[..., 1]
        b = cv2.remap(bw[k], x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        err = np.sqrt((f[..., 0] + b[..., 0]) ** 2 + (f[..., 1] + b[..., 1]) ** 2)
        inside = (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)
        mag = np.sqrt(f[..., 0] ** 2 + f[..., 1] ** 2)
        step = fb_confidence(err, fb_threshold, mag)
        run = np.minimum(run, step)
        if revalidate:
            look = appearance_confidence(ref, _blurred(frames[k + 1]), x, y, appearance_tol)
            conf = np.maximum(run, np.minimum(step, look)) * inside
        else:
            conf = run * inside
        run = run * inside
        yield k + 1, np.stack([x - gx, y - gy], -1), conf.copy()


def chain_flows(fw: np.ndarray, bw: np.ndarray, start: int, end: int, fb_threshold: float,
                frames: Optional[np.ndarray] = None, appearance_tol: float = 0.0) -> DenseMotion:
    """Dense motion of every pixel of frame ``start`` over frames ``start … end`` (inclusive).

    Args:
        fw, bw: ``float32 (T-1, H, W, 2)`` forward / backward flows between consecutive frames
            of the whole video (from :meth:`Tracker.pairwise_flows`).
        start, end: absolute frame indices, ``0 <= start <= end <= T - 1``.
        fb_threshold: forward–backward error (pixels) at which a step's confidence reaches 0.
        frames, appearance_tol: optional appearance re-validation (:func:`iter_chain`).

    Returns:
        :class:`DenseMotion` with ``end - start + 1`` frames (``flow[0] == 0``, confidence 1).
    """
    if not 0 <= start <= end <= len(fw):
        raise ValueError(f"bad chain range {start}..{end} for {len(fw) + 1} frames")
    n = end - start + 1
    h, w = fw.shape[1:3] if len(fw) else (0, 0)
    flow = np.empty((n, h, w, 2), np.float32)
    conf = np.empty((n, h, w), np.float32)
    for t, f, c in iter_chain(fw, bw, start, end, fb_threshold, frames, appearance_tol):
        flow[t - start] = f
        conf[t - start] = c
    return DenseMotion(flow=flow, confidence=conf)


def tracks_from_motion(motion: DenseMotion, points: np.ndarray, visibility_threshold: float) -> Tracks:
    """Trajectories of ``points (N, 2)`` (pixels of frame 0) read from a dense motion.

    ``positions[t] = p + flow[t](p)`` and ``confidence[t] = confidence[t](p)`` sampled
    bilinearly; ``visible = confidence >= visibility_threshold``.
    """
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    n_frames = motion.num_frames
    if len(pts) == 0:
        return Tracks.empty(n_frames)
    pos = np.empty((n_frames, len(pts), 2), np.float32)
    conf = np.empty((n_frames, len(pts)), np.float32)
    for t in range(n_frames):
        pos[t] = pts + sample_field(motion.flow[t], pts[:, 0], pts[:, 1])
        conf[t] = sample_field(motion.confidence[t], pts[:, 0], pts[:, 1])
    conf = np.clip(conf, 0.0, 1.0)
    return Tracks(positions=pos, visible=conf >= visibility_threshold, confidence=conf)


class Tracker(ABC):
    """Estimates motion in a video.

    Args:
        fb_threshold: forward–backward error (pixels) at which confidence reaches 0.
        visibility_threshold: confidence at or above which a point counts as visible.
        appearance_tol: grey levels of the appearance re-validation of broken chains
            (:func:`iter_chain`; ``None``/0: off).
        flow_memory_gb: most GB the pairwise flows of a clip may take in memory before they are
            kept in a temporary file (:mod:`actdiff.tracking.flow_memory`; ``None``: half the
            memory available).
    """

    name = "base"

    def __init__(self, fb_threshold: float = 1.5, visibility_threshold: float = 0.3,
                 appearance_tol: Optional[float] = None, flow_memory_gb: Optional[float] = None) -> None:
        self.fb_threshold = float(fb_threshold)
        self.visibility_threshold = float(visibility_threshold)
        self.appearance_tol = float(appearance_tol or 0.0)
        self.flow_memory_gb = None if flow_memory_gb is None else float(flow_memory_gb)

    def flow_buffers(self, pairs: int, height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
        """Arrays for :meth:`pairwise_flows` to fill (:func:`actdiff.tracking.flow_memory.flow_buffers`)."""
        return flow_buffers(pairs, height, width, self.flow_memory_gb)

    @abstractmethod
    def pairwise_flows(self, frames: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Flows between consecutive frames of ``uint8 (T, H, W, 3)`` frames.

        Returns:
            ``(fw, bw)`` each ``float32 (T-1, H, W, 2)`` in pixels: ``fw[k]`` maps frame ``k``
            to ``k + 1``, ``bw[k]`` maps frame ``k + 1`` to ``k``.
        """

    def track_dense(self, frames: np.ndarray, start: int = 0, end: Optional[int] = None) -> DenseMotion:
        """Every pixel of frame ``start`` followed to each frame up to ``end`` (inclusive)."""
        frames = check_frames(frames)
        end = frames.shape[0] - 1 if end is None else int(end)
        if not 0 <= start <= end < frames.shape[0]:
            raise InputError(f"bad frame range {start}..{end} for {frames.shape[0]} frames")
        if end == start:
            h, w = frames.shape[1:3]
            return DenseMotion(np.zeros((1, h, w, 2), np.float32), np.ones((1, h, w), np.float32))
        fw, bw = self.pairwise_flows(frames[start:end + 1])
        return chain_flows(fw, bw, 0, end - start, self.fb_threshold, frames[start:end + 1], self.appearance_tol)

    def track_points(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        """Trajectories of ``queries (N, 2)`` (pixels ``(x, y)`` of frame 0) over all frames."""
        return tracks_from_motion(self.track_dense(frames), queries, self.visibility_threshold)
