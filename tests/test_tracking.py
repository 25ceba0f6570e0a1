"""Trackers: DIS flows, chaining, forward–backward confidence, CoTracker3 error path."""

import cv2
import numpy as np
import pytest

from actdiff.errors import ConfigError, InputError, MissingWeightsError
from actdiff.registry import TRACKERS
from actdiff.tracking import chain_flows
from actdiff.tracking.base import tracks_from_motion

H, W = 96, 128


def canvas(seed=0, size=(H + 64, W + 64)):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, size + (3,)).astype(np.float32), (0, 0), 2.5)
    return np.clip((img - img.mean()) * 4 + 128, 0, 255).astype(np.float32)


def translated(n, dx, dy, seed=0):
    big = canvas(seed)
    frames = []
    for t in range(n):
        m = np.float32([[1, 0, -32 + dx * t], [0, 1, -32 + dy * t]])
        frames.append(cv2.warpAffine(big, m, (W, H), flags=cv2.INTER_LINEAR))
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def test_dis_recovers_translation():
    frames = translated(4, 1.5, -0.75)
    fw, bw = TRACKERS.build("dis", preset="medium").pairwise_flows(frames)
    assert fw.shape == (3, H, W, 2) and fw.dtype == np.float32
    inner = (slice(16, -16), slice(16, -16))
    assert np.abs(np.median(fw[:, inner[0], inner[1]], axis=(1, 2)) - [1.5, -0.75]).max() < 0.5
    assert np.abs(np.median(bw[:, inner[0], inner[1]], axis=(1, 2)) + [1.5, -0.75]).max() < 0.5


def test_chain_equals_track_dense_and_accumulates():
    frames = translated(6, 1.0, 0.5)
    tracker = TRACKERS.build("dis", preset="fast")
    fw, bw = tracker.pairwise_flows(frames)
    chained = chain_flows(fw, bw, 2, 5, tracker.fb_threshold)
    direct = tracker.track_dense(frames, 2, 5)
    np.testing.assert_allclose(chained.flow, direct.flow, atol=1e-4)
    np.testing.assert_allclose(chained.confidence, direct.confidence, atol=1e-4)
    assert chained.num_frames == 4 and not chained.flow[0].any()
    assert np.abs(np.median(chained.flow[3, 20:-20, 20:-20], axis=(0, 1)) - [3.0, 1.5]).max() < 0.5


def test_confidence_drops_outside_and_occluded():
    frames = translated(5, 4.0, 0.0)
    # an occluder appears in the last frame
    frames[4, 30:60, 40:80] = 255
    tracker = TRACKERS.build("dis", preset="medium")
    motion = tracker.track_dense(frames)
    conf = motion.confidence
    assert conf[4, :, -10:].mean() < 0.05          # right border pixels left the frame
    assert conf[3, 30:60, 30:60].mean() > 0.6      # fine before the occluder
    assert conf[4, 35:55, 35:70].mean() < conf[3, 35:55, 35:70].mean() - 0.3
    tracks = tracks_from_motion(motion, np.array([[64.0, 48.0], [125.0, 10.0]]), 0.3)
    assert tracks.visible[:, 1].tolist()[-1] is False and tracks.positions.shape == (5, 2, 2)


def test_track_points_and_bad_input():
    frames = translated(3, 1.0, 1.0)
    tracker = TRACKERS.build("dis")
    tr = tracker.track_points(frames, np.array([[60.0, 40.0]]))
    np.testing.assert_allclose(tr.positions[2, 0], [62.0, 42.0], atol=0.5)
    with pytest.raises(InputError):
        tracker.pairwise_flows(np.zeros((3, H, W), np.uint8))
    with pytest.raises(ConfigError):
        TRACKERS.build("dis", preset="slowest")


def test_cotracker_missing_is_one_line(tmp_path):
    with pytest.raises((ConfigError, MissingWeightsError)) as err:
        TRACKERS.build("cotracker3", checkpoint=str(tmp_path / "scaled_offline.pth"))
    msg = str(err.value)
    assert "\n" not in msg and ("pip install" in msg or "scaled_offline.pth" in msg)


def square_scene(jump: float):
    """A dark 10-px square moving 2 px/frame right over a mid-grey background, its flows given
    exactly except at step 1, whose backward flow disagrees on the square (an inconsistent step);
    ``jump`` px are added to that step's forward flow there (0: the chain stays on the square)."""
    n, h, w, side = 6, 32, 48, 10
    frames = np.full((n, h, w, 3), 120, np.uint8)
    fw, bw = np.zeros((n - 1, h, w, 2), np.float32), np.zeros((n - 1, h, w, 2), np.float32)
    for t in range(n):
        frames[t, 10:10 + side, 6 + 2 * t:6 + 2 * t + side] = (20, 30, 40)
    for k in range(n - 1):
        fw[k, 10:10 + side, 6 + 2 * k:6 + 2 * k + side, 0] = 2.0
        bw[k, 10:10 + side, 8 + 2 * k:8 + 2 * k + side, 0] = -2.0
    fw[1, 10:10 + side, 8:8 + side, 0] += jump
    bw[1, 10:10 + side, 10:10 + side, 0] = 4.0            # disagrees with the forward flow
    return frames, fw, bw


def test_appearance_revalidates_a_chain_broken_by_one_step():
    frames, fw, bw = square_scene(jump=0.0)
    plain = chain_flows(fw, bw, 0, 5, 1.5)
    again = chain_flows(fw, bw, 0, 5, 1.5, frames, appearance_tol=20.0)
    centre = (15, 11)                                     # (y, x) inside the square at frame 0
    assert plain.confidence[2:, centre[0], centre[1]].max() == 0.0     # the running minimum stays broken
    assert again.confidence[2, centre[0], centre[1]] == 0.0           # the inconsistent step itself
    assert (again.confidence[3:, centre[0], centre[1]] > 0.9).all()   # then consistent and the same colour
    np.testing.assert_array_equal(again.flow, plain.flow)
    assert (again.confidence[:, 25:, :] == plain.confidence[:, 25:, :]).all()  # the background unchanged
    assert (chain_flows(fw, bw, 0, 5, 1.5, frames, appearance_tol=0.0).confidence == plain.confidence).all()


def test_appearance_keeps_a_chain_that_slid_off_broken():
    frames, fw, bw = square_scene(jump=14.0)              # step 1 throws the square's pixels onto the grey
    again = chain_flows(fw, bw, 0, 5, 1.5, frames, appearance_tol=20.0)
    assert again.confidence[2:, 15, 11].max() == 0.0


def test_dis_tracker_takes_appearance_tol_and_track_dense_uses_it(caplog):
    frames, _, _ = square_scene(jump=0.0)
    with caplog.at_level("WARNING"):
        dis = TRACKERS.build("dis", preset="medium", appearance_tol=20.0)
    assert dis.appearance_tol == 20.0 and "ignores" not in caplog.text
    fw, bw = dis.pairwise_flows(frames)
    again = chain_flows(fw, bw, 0, 5, 1.5, frames, 20.0).confidence
    assert not np.array_equal(again, chain_flows(fw, bw, 0, 5, 1.5).confidence)   # the scene re-validates some
    np.testing.assert_array_equal(dis.track_dense(frames).confidence, again)
    assert TRACKERS.build("dis", preset="medium").appearance_tol == 0.0
