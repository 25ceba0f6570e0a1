"""Temporal processing of tracks: smoothing, coded frames, interpolation back to every frame."""

import numpy as np
import pytest

from actdiff.codec.encoding import TrackCoding
from actdiff.config import compose
from actdiff.motion.temporal import coded_frames, smooth_tracks, subsample_tracks, upsample_tracks
from actdiff.registry import TRAJECTORY_CODERS
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


@pytest.mark.parametrize("frames", [3, 4, 12, 30])
def test_pinned_smoothing_keeps_both_ends_and_constant_velocity(frames):
    """``ends="pin"``: a point moving at constant velocity is unchanged, first and last frames exact;
    ``hold`` lags it at the last frame (what ``pin`` is for)."""
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    start = np.array([[[10.0, 20.0], [50.0, 5.0]]], np.float32)
    linear = Tracks(start + t * np.array([3.0, -1.5], np.float32), np.ones((frames, 2), bool),
                    np.ones((frames, 2), np.float32))
    pinned = smooth_tracks(linear, 1.0, ends="pin")
    np.testing.assert_allclose(pinned.positions, linear.positions, atol=1e-4)
    held = smooth_tracks(linear, 1.0, ends="hold")
    assert np.abs(held.positions[-1] - linear.positions[-1]).max() > 0.5


def test_pinned_smoothing_removes_jitter_inside():
    clean = make_tracks(30, 8)
    noisy = Tracks(clean.positions + np.random.default_rng(2).normal(0, 0.4, clean.positions.shape).astype(np.float32),
                   clean.visible, clean.confidence)
    noisy.positions[0] = clean.positions[0]
    smooth = smooth_tracks(noisy, 1.5, ends="pin")
    np.testing.assert_array_equal(smooth.positions[[0, -1]], noisy.positions[[0, -1]])
    inner = slice(3, -3)
    assert (np.abs(smooth.positions[inner] - clean.positions[inner]).mean()
            < 0.6 * np.abs(noisy.positions[inner] - clean.positions[inner]).mean())
    with pytest.raises(ValueError, match="ends"):
        smooth_tracks(noisy, 1.0, ends="mirror")


def test_track_coding_reads_smooth_ends_from_the_config():
    """The encoder's coded tracks follow ``codec.trajectories.smooth_ends``: with ``pin`` a point
    moving at constant velocity is coded at its last position; ``hold`` pulls it back (plain
    smoothing, ``smooth_keep=0``, so the lag is not partly kept)."""
    frames = 9
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    linear = Tracks(np.array([[[40.0, 30.0]]], np.float32) + t * np.array([4.0, 2.0], np.float32),
                    np.ones((frames, 1), bool), np.ones((frames, 1), np.float32))
    last = {}
    for ends in ("hold", "pin"):
        codec = compose(None, [f"codec.trajectories.smooth_ends={ends}", "codec.trajectories.smooth_keep=0"],
                        default="experiment/codec").codec
        coding = TrackCoding(codec, TRAJECTORY_CODERS.build(codec.entropy.name, step=0.5), 128, 128)
        last[ends] = coding(linear).positions[-1, 0]
    np.testing.assert_allclose(last["pin"], linear.positions[-1, 0], atol=0.25)
    assert np.abs(last["hold"] - linear.positions[-1, 0]).max() > 1.0


def test_smooth_ends_default_is_pin_in_config_schema_and_encoder():
    """The shipped codec config, the schema and a codec section written without the key all mean
    ``pin`` (chosen on training clips, docs/rd_mode.md "No temporal smoothing")."""
    from omegaconf import OmegaConf

    from actdiff.codec.schema import CodecSchema

    codec = compose(None, [], default="experiment/codec").codec
    assert codec.trajectories.smooth_ends == "pin"
    assert OmegaConf.structured(CodecSchema).trajectories.smooth_ends == "pin"
    frames = 9
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    linear = Tracks(np.array([[[40.0, 30.0]]], np.float32) + t * np.array([4.0, 2.0], np.float32),
                    np.ones((frames, 1), bool), np.ones((frames, 1), np.float32))
    del codec.trajectories["smooth_ends"]
    coding = TrackCoding(codec, TRAJECTORY_CODERS.build(codec.entropy.name, step=0.5), 128, 128)
    np.testing.assert_allclose(coding(linear).positions[-1, 0], linear.positions[-1, 0], atol=0.25)


def test_smooth_keep_removes_small_jitter_and_keeps_a_fast_oscillation():
    """``keep``: a ±0.2 px jitter is smoothed as before, a ±2 px frame-to-frame oscillation (which
    σ = 1 nearly flattens) survives, shrunk by ``keep``; ``keep = 0`` is the plain filter."""
    frames = 24
    sign = np.where(np.arange(frames) % 2 == 0, 1.0, -1.0).astype(np.float32)
    base = np.array([[[30.0, 40.0]]], np.float32) + np.arange(frames, dtype=np.float32)[:, None, None] * [1.0, 0.0]
    vis, conf = np.ones((frames, 1), bool), np.ones((frames, 1), np.float32)

    def wiggle(amp):
        pos = base + amp * sign[:, None, None] * np.array([0.0, 1.0], np.float32)
        pos[0] = base[0]
        return Tracks(pos.astype(np.float32), vis, conf)

    inner = slice(4, -4)
    small, big = wiggle(0.2), wiggle(2.0)
    plain = smooth_tracks(big, 1.0, "pin")
    np.testing.assert_array_equal(smooth_tracks(big, 1.0, "pin", keep=0.0).positions, plain.positions)
    kept = smooth_tracks(big, 1.0, "pin", keep=0.5).positions[inner, 0, 1] - base[inner, 0, 1]
    assert np.abs(plain.positions[inner, 0, 1] - base[inner, 0, 1]).max() < 0.5  # σ = 1 flattens it
    assert np.abs(np.abs(kept) - 1.5).max() < 0.35  # 2 px less the 0.5 px kept back
    jitter = smooth_tracks(small, 1.0, "pin", keep=0.5).positions[inner, 0, 1] - base[inner, 0, 1]
    assert np.abs(jitter).max() < 0.1


def _wiggle_3px(frames: int = 9) -> Tracks:
    """One point at (40, 30) jumping ±3 px in y every frame (frame 0 in place)."""
    sign = np.where(np.arange(frames) % 2 == 0, 1.0, -1.0).astype(np.float32)
    pos = np.array([[[40.0, 30.0]]], np.float32) + 3.0 * sign[:, None, None] * np.array([0.0, 1.0], np.float32)
    pos[0] = [40.0, 30.0]
    return Tracks(pos.astype(np.float32), np.ones((frames, 1), bool), np.ones((frames, 1), np.float32))


def test_track_coding_reads_smooth_keep_from_the_config():
    wiggle = _wiggle_3px()
    spread = {}
    for keep in (0.0, 1.0):
        codec = compose(None, [f"codec.trajectories.smooth_keep={keep}", "codec.trajectories.temporal_stride=1"],
                        default="experiment/codec").codec
        coding = TrackCoding(codec, TRAJECTORY_CODERS.build(codec.entropy.name, step=0.5), 128, 128)
        spread[keep] = float(np.ptp(coding(wiggle).positions[2:-2, 0, 1]))
    assert spread[0.0] < 1.5 and spread[1.0] > 3.0


def test_smooth_keep_default_is_one_value_in_config_schema_and_encoder():
    """The shipped codec config, the schema and a codec section written without the key all mean
    ``smooth_keep = DEFAULT_SMOOTH_KEEP`` (0.5 px, chosen on training clips, docs/benchmarks.md)."""
    from omegaconf import OmegaConf

    from actdiff.codec.schema import CodecSchema
    from actdiff.motion.temporal import DEFAULT_SMOOTH_KEEP

    assert DEFAULT_SMOOTH_KEEP == 0.5
    codec = compose(None, [], default="experiment/codec").codec
    assert codec.trajectories.smooth_keep == DEFAULT_SMOOTH_KEEP
    assert OmegaConf.structured(CodecSchema).trajectories.smooth_keep == DEFAULT_SMOOTH_KEEP
    wiggle = _wiggle_3px()
    coding = TrackCoding(codec, TRAJECTORY_CODERS.build(codec.entropy.name, step=0.5), 128, 128)
    expected = smooth_tracks(wiggle, float(codec.trajectories.smooth_sigma), "pin", keep=DEFAULT_SMOOTH_KEEP)
    np.testing.assert_array_equal(coding.smooth(wiggle).positions, expected.positions)
    del codec.trajectories["smooth_keep"]
    np.testing.assert_array_equal(coding.smooth(wiggle).positions, expected.positions)
    assert np.ptp(coding.smooth(wiggle).positions[2:-2, 0, 1]) > 3.0  # the plain filter flattens it
