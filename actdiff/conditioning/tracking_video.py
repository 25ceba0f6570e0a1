"""The tracking video of a segment, rendered as in Diffusion-as-Shader / ActDiff-VC.

Every decoded trajectory is drawn, in every frame where it is visible, as a small filled square
whose colour is fixed for the whole segment and encodes where the point was in the segment's
FIRST frame: red = ``x0 / (W - 1)``, green = ``y0 / (H - 1)``, blue = the inverse depth of the
point in the start keyframe (``depth``, in [0, 1]) or the constant :data:`NO_DEPTH` when no depth
map is given (the default: no depth model ships, and the stream carries no depth). The background
is black. Where squares overlap, the nearer point (larger inverse depth) wins; without depth the
later track wins. Colours are returned in [-1, 1] (black = -1), like the other image conditions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actdiff.types import Tracks

#: Blue value (in [0, 1]) of every square when no depth map is given.
NO_DEPTH = 0.5
#: Half side of the squares, pixels (a square is ``2 r + 1`` pixels wide).
TRACK_RADIUS = 2


def track_colours(tracks: Tracks, height: int, width: int, depth: np.ndarray | None = None) -> np.ndarray:
    """Per-track colour ``float32 (N, 3)`` in [0, 1] from the first-frame positions (see module doc).

    Args:
        depth: optional ``float32 (H, W)`` inverse depth of the start keyframe in [0, 1].
    """
    first = tracks.positions[0].astype(np.float32)
    red = np.clip(first[:, 0] / max(width - 1, 1), 0, 1)
    green = np.clip(first[:, 1] / max(height - 1, 1), 0, 1)
    if depth is None:
        blue = np.full(len(first), NO_DEPTH, np.float32)
    else:
        if depth.shape != (height, width):
            raise ValueError(f"depth map {depth.shape} does not match the frame {(height, width)}")
        xi = np.clip(np.rint(first[:, 0]), 0, width - 1).astype(np.int64)
        yi = np.clip(np.rint(first[:, 1]), 0, height - 1).astype(np.int64)
        blue = np.clip(depth[yi, xi].astype(np.float32), 0, 1)
    return np.stack([red, green, blue], -1).astype(np.float32)


def render_tracking_video(
    tracks: Tracks,
    frames: Sequence[int],
    height: int,
    width: int,
    depth: np.ndarray | None = None,
    radius: int = TRACK_RADIUS,
) -> np.ndarray:
    """Render the tracking video at segment-relative ``frames``.

    Returns:
        ``float32 (len(frames), 3, H, W)`` in [-1, 1]; -1 (black) away from the squares.
    """
    out = np.full((len(frames), 3, height, width), -1.0, np.float32)
    if tracks.num_points == 0 or tracks.num_frames == 0:
        return out
    colour = track_colours(tracks, height, width, depth) * 2.0 - 1.0          # (N, 3) in [-1, 1]
    order = np.argsort(colour[:, 2], kind="stable") if depth is not None else np.arange(tracks.num_points)
    for i, t in enumerate(frames):
        t = int(np.clip(t, 0, tracks.num_frames - 1))
        pos = tracks.positions[t][order]
        vis = tracks.visible[t][order].astype(bool)
        xi, yi = np.rint(pos[:, 0]).astype(np.int64), np.rint(pos[:, 1]).astype(np.int64)
        col = colour[order].T                                                 # (3, N)
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                x, y = xi + dx, yi + dy
                ok = vis & (x >= 0) & (x < width) & (y >= 0) & (y < height)
                # repeated pixels take the later (nearer) point: NumPy's CPU assignment is in order
                out[i][:, y[ok], x[ok]] = col[:, ok]
    return out
