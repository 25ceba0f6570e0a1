"""Temporal processing of point trajectories: smoothing, and coding every ``stride``-th frame.

Dense-flow tracks jitter by a fraction of a pixel from frame to frame; coded at a ½-pixel step
that jitter costs bits and carries no information the decoder can use: a Gaussian low-pass
along time (encoder only) removes it. Motion at video frame rates is smooth over a few frames,
so the encoder codes positions only every ``stride``-th frame (and the last) and both sides
rebuild the frames in between by linear interpolation (:func:`upsample_tracks`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from actdiff.types import Tracks

#: How :func:`smooth_tracks` treats a segment's last frame: ``hold`` repeats it past the end (the
#: filter then lags moving points there, by about 0.4·σ frames of their motion); ``pin`` mirrors the
#: motion through it (odd reflection), which keeps the last position and any constant velocity.
SMOOTH_ENDS = ("hold", "pin")
#: The default (``codec.trajectories.smooth_ends``; ``hold`` before 2026-12-04).
DEFAULT_SMOOTH_ENDS = "pin"
#: The codec's default ``keep`` of :func:`smooth_tracks` (``codec.trajectories.smooth_keep``,
#: pixels; 0, plain smoothing, before 2026-12-04 late). The function's own default stays 0.
DEFAULT_SMOOTH_KEEP = 0.5


def _odd_extend(x: np.ndarray, radius: int) -> np.ndarray:
    """``x`` (T, ...) with ``radius`` more frames after its end, mirrored through its last value
    (repeatedly when T is shorter than ``radius``): a linear sequence stays linear."""
    while x.shape[0] > 1 and radius > 0:
        r = min(radius, x.shape[0] - 1)
        x = np.concatenate([x, 2.0 * x[-1:] - x[-r - 1:-1][::-1]], axis=0)
        radius -= r
    return x


def smooth_tracks(tracks: Tracks, sigma: float, ends: str = DEFAULT_SMOOTH_ENDS, keep: float = 0.0) -> Tracks:
    """Gaussian-smooth ``tracks.positions`` along time (``sigma`` in frames; 0 = unchanged).

    Frame 0 (where points were chosen, on the keyframe) keeps its exact positions; the smoothed
    displacement from frame 0 is used after it. ``ends`` (:data:`SMOOTH_ENDS`) chooses how the
    filter sees past the segment's ends: ``hold`` repeats frames 0 and T-1, ``pin`` mirrors the
    motion through them (both then keep their positions and constant motion is unchanged).
    Invisible frames are filled by holding the last visible position before filtering so they
    do not pull the curve. Visibility and confidence are unchanged.

    ``keep`` > 0 (pixels) keeps motion the filter would remove beyond that size: each frame's
    deviation of the track from its smoothed curve is shrunk by ``keep`` (soft threshold on its
    length), so sub-``keep`` jitter is removed and a fast oscillation (a hand brushing back and
    forth) survives less ``keep``. 0: plain smoothing.
    """
    if ends not in SMOOTH_ENDS:
        raise ValueError(f"ends must be one of {SMOOTH_ENDS}, got {ends!r}")
    if sigma <= 0 or tracks.num_frames < 3 or tracks.num_points == 0:
        return tracks
    pos = tracks.positions.astype(np.float64).copy()
    vis = tracks.visible.copy()
    vis[0] = True
    for t in range(1, pos.shape[0]):  # hold the last visible position through occlusions
        pos[t, ~vis[t]] = pos[t - 1, ~vis[t]]
    disp = pos - pos[:1]
    if ends == "hold":
        smooth = gaussian_filter1d(disp, sigma, axis=0, mode="nearest")
    else:
        radius = int(4.0 * sigma + 0.5)  # gaussian_filter1d's default support
        ext = _odd_extend(_odd_extend(disp, radius)[::-1], radius)[::-1]  # both ends (frame 0: disp 0)
        smooth = gaussian_filter1d(ext, sigma, axis=0, mode="nearest")[radius:radius + disp.shape[0]]
    if keep > 0:
        dev = disp - smooth
        size = np.linalg.norm(dev, axis=-1, keepdims=True)
        smooth = smooth + dev * (np.maximum(size - keep, 0.0) / np.maximum(size, 1e-12))
    smooth[0] = 0.0
    out = (pos[:1] + smooth).astype(np.float32)
    return Tracks(positions=out, visible=tracks.visible.copy(), confidence=tracks.confidence.copy())


def coded_frames(num_frames: int, stride: int) -> np.ndarray:
    """Segment-relative frames whose positions are coded: ``0, s, 2s, …`` and always the last."""
    if num_frames <= 0:
        return np.zeros(0, np.int64)
    idx = np.arange(0, num_frames, max(1, int(stride)), dtype=np.int64)
    return idx if idx[-1] == num_frames - 1 else np.append(idx, num_frames - 1)


def subsample_tracks(tracks: Tracks, stride: int) -> Tracks:
    """The tracks at :func:`coded_frames` only (what the encoder codes)."""
    idx = coded_frames(tracks.num_frames, stride)
    return Tracks(positions=tracks.positions[idx].copy(), visible=tracks.visible[idx].copy(),
                  confidence=tracks.confidence[idx].copy())


def upsample_tracks(coded: Tracks, num_frames: int, stride: int) -> Tracks:
    """Rebuild every frame from the coded frames: positions linearly interpolated in time,
    a point visible between two coded frames when it is visible at both (deterministic, the
    encoder and the decoder both call this on the same quantised tracks)."""
    idx = coded_frames(num_frames, stride)
    if coded.num_frames != len(idx):
        raise ValueError(
            f"{coded.num_frames} coded frames, expected {len(idx)} for {num_frames} frames, stride {stride}"
        )
    if len(idx) == num_frames:
        return coded
    t = np.arange(num_frames)
    hi = np.clip(np.searchsorted(idx, t, side="left"), 0, len(idx) - 1)
    lo = np.where(idx[hi] == t, hi, np.maximum(hi - 1, 0))
    span = np.maximum(idx[hi] - idx[lo], 1)
    w = ((t - idx[lo]) / span).astype(np.float32)[:, None, None]
    pos = (1 - w) * coded.positions[lo] + w * coded.positions[hi]
    vis = coded.visible[lo] & coded.visible[hi]
    return Tracks(positions=pos.astype(np.float32), visible=vis, confidence=vis.astype(np.float32))


def skip_error(tracks: Tracks, stride: int) -> np.ndarray:
    """What coding every ``stride``-th frame loses: at each frame :func:`coded_frames` skips, the
    distance (pixels) of each point from its linear interpolation between the coded frames around
    it (:func:`upsample_tracks` of the same positions unquantised). One value per point and skipped
    frame where the point is visible there and at both coded neighbours; ``float64 (K,)``, empty
    when nothing is skipped."""
    n = tracks.num_frames
    if n < 3 or tracks.num_points == 0 or stride <= 1:
        return np.zeros(0)
    rebuilt = upsample_tracks(subsample_tracks(tracks, stride), n, stride)
    skipped = np.setdiff1d(np.arange(n), coded_frames(n, stride))
    dist = np.linalg.norm(tracks.positions[skipped].astype(np.float64) - rebuilt.positions[skipped], axis=-1)
    seen = tracks.visible[skipped] & rebuilt.visible[skipped]
    return dist[seen]
