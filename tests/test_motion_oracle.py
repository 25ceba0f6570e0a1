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
