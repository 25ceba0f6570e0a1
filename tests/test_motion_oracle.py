"""``experiments/motion_oracle.py``: the in-between frames against motion and keyframe oracles."""

from __future__ import annotations

import numpy as np
from _eval_helpers import load_script, moving_texture

from actdiff.codec import encode_video
from actdiff.config import compose
from actdiff.types import Video


def test_rows_cover_the_same_frames_and_the_source_keyframe_beats_the_coded_one():
    oracle = load_script("experiments/motion_oracle.py")
    src = moving_texture(t=12, h=64, w=96)
    cfg = compose(None, ["codec.keyframes.max_gop=11", "codec.keyframe_codec.quality=5"])
    data = encode_video(Video(frames=src, fps=25.0), cfg).data
    m = oracle.measure(src, data)
    assert set(m) == set(oracle.ROWS)
    frames = {v["frames"] for v in m.values()}
    assert len(frames) == 1 and frames.pop() >= 5
    assert all(np.isfinite(v["psnr"]) and np.isfinite(v["psnr_lowres"]) for v in m.values())
    # the same (source) flow on the uncoded keyframe: only the keyframe coding loss separates them
    assert m["oracle_flow_source_key"]["psnr"] > m["oracle_flow"]["psnr"] + 1.0


def test_grid_rows_reproduce_an_affine_flow_and_are_measured():
    oracle = load_script("experiments/motion_oracle.py")
    gy, gx = np.mgrid[0:64, 0:96].astype(np.float32)
    flow = np.stack([1.5 + 0.02 * gx - 0.01 * gy, -0.7 + 0.015 * gy], -1)
    assert np.abs(oracle.grid_flow(flow, 48) - flow).max() < 0.05
    src = moving_texture(t=12, h=64, w=96)
    data = encode_video(Video(frames=src, fps=25.0), compose(None, ["codec.keyframes.max_gop=11"])).data
    m = oracle.measure(src, data, grids=(12, 192))
    assert {"grid12", "grid192"} <= set(m) and m["grid192"]["frames"] == m["tracks"]["frames"]


def test_colour_guided_field_keeps_a_motion_boundary():
    """Two trajectories 8 px apart, a red one moving 6 px and a blue one still, over a guess that is
    red left of x = 20 and blue right of it: the colour-guided map gives each side its own
    trajectory's motion, where the smooth (colour-blind, huge sigma) one blends them."""
    from actdiff.types import Tracks

    oracle = load_script("experiments/motion_oracle.py")
    h, w = 24, 40
    pos = np.array([[[16.0, 12.0], [24.0, 12.0]], [[22.0, 12.0], [24.0, 12.0]]], np.float32)  # (T=2, N=2, 2)
    tracks = Tracks(positions=pos, visible=np.ones((2, 2), bool), confidence=np.ones((2, 2), np.float32))
    key = np.zeros((h, w, 3), np.uint8)
    key[:, :23] = (255, 0, 0)  # in the keyframe (frame 1) the red object has moved right
    key[:, 23:] = (0, 0, 255)
    guess = np.zeros((h, w, 3), np.float32)
    guess[:, :20] = (255, 0, 0)
    guess[:, 20:] = (0, 0, 255)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    back = np.stack([gx + 3.0, gy], -1)  # a smooth field: half of the red point's motion everywhere
    sharp = oracle.colour_guided(back, tracks, 0, 1, key, guess, bandwidth=8.0, colour_sigma=20.0)
    blind = oracle.colour_guided(back, tracks, 0, 1, key, guess, bandwidth=8.0, colour_sigma=1e6)
    dx_sharp, dx_blind = sharp[12, :, 0] - gx[12], blind[12, :, 0] - gx[12]
    assert abs(dx_sharp[19] - 6.0) < 0.5 and abs(dx_sharp[21]) < 0.5  # each side its own motion
    assert 1.0 < dx_blind[19] < 5.0 and 1.0 < dx_blind[21] < 5.0  # blended across the boundary


def test_key_guided_field_moves_an_object_whole_and_keeps_the_background_still():
    """The forward field drawn on the decoded keyframe's grid, guided by its colours: a red object
    (left of x = 20) whose one trajectory moves 6 px right and a still blue background (one
    trajectory at x = 30). Inverted to a backward map of frame t, the object's pixels come back by
    6 px and the background's by 0; colour-blind, the motion fades across the boundary."""
    from actdiff.types import Tracks

    oracle = load_script("experiments/motion_oracle.py")
    h, w = 24, 48
    key = np.zeros((h, w, 3), np.uint8)
    key[:, :20] = (255, 0, 0)
    key[:, 20:] = (0, 0, 255)
    pos = np.array([[[14.0, 12.0], [30.0, 12.0]], [[20.0, 12.0], [30.0, 12.0]]], np.float32)  # (T=2, N=2, 2)
    tracks = Tracks(positions=pos, visible=np.ones((2, 2), bool), confidence=np.ones((2, 2), np.float32))
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    back = np.stack([gx - 3.0, gy], -1)
    sharp = oracle.key_guided(back, tracks, 1, 0, key, bandwidth=8.0, colour_sigma=30.0)[12, :, 0] - gx[12]
    blind = oracle.key_guided(back, tracks, 1, 0, key, bandwidth=8.0, colour_sigma=1e6)[12, :, 0] - gx[12]
    assert np.abs(sharp[10:22] + 6.0).max() < 0.3 and np.abs(sharp[25:40]).max() < 0.3
    assert blind[18] > -5.7 and blind[27] < -1.0


def test_guided_fields_keep_the_smooth_map_when_no_trajectory_is_visible_at_both_frames():
    from actdiff.types import Tracks

    oracle = load_script("experiments/motion_oracle.py")
    h, w = 16, 24
    pos = np.array([[[8.0, 8.0]], [[10.0, 8.0]]], np.float32)
    tracks = Tracks(positions=pos, visible=np.array([[True], [False]]), confidence=np.ones((2, 1), np.float32))
    key = np.full((h, w, 3), 128, np.uint8)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    back = np.stack([gx + 1.0, gy], -1)
    guess = np.zeros((h, w, 3), np.float32)
    assert np.array_equal(oracle.colour_guided(back, tracks, 0, 1, key, guess, 8.0, 20.0), back)
    assert np.array_equal(oracle.key_guided(back, tracks, 1, 0, key, 8.0, 30.0), back)
