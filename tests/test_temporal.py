"""Temporal processing of tracks: smoothing, coded frames, interpolation back to every frame."""

import numpy as np
import pytest

from actdiff.motion.temporal import coded_frames, smooth_tracks, subsample_tracks, upsample_tracks
from actdiff.types import Tracks


def make_tracks(num_frames=11, num_points=5, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None]
    start = rng.uniform(10, 50, (1, num_points, 2))
    vel = rng.uniform(-2, 2, (1, num_points, 2))
    pos = (start + vel * t).astype(np.float32)
    vis = np.ones((num_frames, num_points), bool)
    return Tracks(pos, vis, vis.astype(np.float32))


@pytest.mark.parametrize("n,stride,expected", [(1, 2, [0]), (2, 2, [0, 1]), (5, 2, [0, 2, 4]), (6, 2, [0, 2, 4, 5]),
                                               (7, 3, [0, 3, 6]), (5, 1, [0, 1, 2, 3, 4])])
def test_coded_frames(n, stride, expected):
    assert coded_frames(n, stride).tolist() == expected


@pytest.mark.parametrize("n", [3, 10, 11])
def test_linear_motion_survives_subsampling_exactly(n):
    tracks = make_tracks(n)
    back = upsample_tracks(subsample_tracks(tracks, 3), n, 3)
    np.testing.assert_allclose(back.positions, tracks.positions, atol=1e-4)
    assert back.visible.all()


def test_visibility_between_coded_frames_needs_both_ends():
    tracks = make_tracks(5, 2)
    tracks.visible[4, 0] = False
    back = upsample_tracks(subsample_tracks(tracks, 2), 5, 2)
    assert back.visible[:3, 0].all() and not back.visible[3, 0] and back.visible[:, 1].all()


def test_upsample_rejects_wrong_frame_count():
    with pytest.raises(ValueError):
        upsample_tracks(make_tracks(4), 11, 2)


def test_smoothing_removes_jitter_keeps_frame0_and_linear_motion():
    clean = make_tracks(30, 8)
    noisy = Tracks(clean.positions + np.random.default_rng(1).normal(0, 0.4, clean.positions.shape).astype(np.float32),
                   clean.visible, clean.confidence)
    noisy.positions[0] = clean.positions[0]
    smooth = smooth_tracks(noisy, 1.5)
    np.testing.assert_array_equal(smooth.positions[0], noisy.positions[0])
    inner = slice(3, -3)  # edges are biased by the filter's boundary handling
    err_noisy = np.abs(noisy.positions[inner] - clean.positions[inner]).mean()
    err_smooth = np.abs(smooth.positions[inner] - clean.positions[inner]).mean()
    assert err_smooth < 0.6 * err_noisy
    assert smooth_tracks(noisy, 0) is noisy
