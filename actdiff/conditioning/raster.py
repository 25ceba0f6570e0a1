"""Rasterise point trajectories at one frame as small square splats."""

from __future__ import annotations

import numpy as np

from actdiff.types import Tracks


def rasterise_tracks(tracks: Tracks, t: int, height: int, width: int, radius: int = 1) -> np.ndarray:
    """Render the trajectories at segment-relative frame ``t``.

    Every visible point is a ``(2 * radius + 1)``-pixel square centred on its (rounded)
    position at ``t``. Later points overwrite earlier ones where squares overlap.

    Returns:
        ``float32 (5, H, W)``: ``[visibility, dx, dy, x0, y0]`` where visibility is 1 under a
        splat and 0 elsewhere, ``(dx, dy)`` is the displacement from the point's frame-0
        position divided by ``(W, H)`` (so in about ``[-1, 1]``), and ``(x0, y0)`` is the
        frame-0 position mapped to ``[-1, 1]`` (the point's identity colour). All channels
        are 0 away from splats.
    """
    out = np.zeros((5, height, width), np.float32)
    if tracks.num_points == 0 or tracks.num_frames == 0:
        return out
    t = int(np.clip(t, 0, tracks.num_frames - 1))
    pos = tracks.positions[t].astype(np.float32)
    first = tracks.positions[0].astype(np.float32)
    vis = tracks.visible[t].astype(bool)
    xi = np.rint(pos[:, 0]).astype(np.int64)
    yi = np.rint(pos[:, 1]).astype(np.int64)
    values = np.stack(
        [
            np.ones(len(pos), np.float32),
            (pos[:, 0] - first[:, 0]) / max(width, 1),
            (pos[:, 1] - first[:, 1]) / max(height, 1),
            2.0 * first[:, 0] / max(width - 1, 1) - 1.0,
            2.0 * first[:, 1] / max(height - 1, 1) - 1.0,
        ],
        axis=0,
    )
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            x, y = xi + dx, yi + dy
            ok = vis & (x >= 0) & (x < width) & (y >= 0) & (y < height)
            out[:, y[ok], x[ok]] = values[:, ok]
    return out
