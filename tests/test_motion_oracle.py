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
