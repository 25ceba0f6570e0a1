"""``experiments/coarse_hedge.py``: the images under the diffusion decoder's residual by ``detail_mix``."""

from __future__ import annotations

import numpy as np
from _eval_helpers import load_script, moving_texture

from actdiff.codec import encode_video
from actdiff.codec.decoder import decode_segments
from actdiff.config import compose
from actdiff.types import Video


def test_mix_spans_prediction_to_the_blends_coarse_band_and_is_measured():
    hedge = load_script("experiments/coarse_hedge.py")
    src = moving_texture(t=12, h=64, w=96)
    data = encode_video(Video(frames=src, fps=25.0), compose(None, ["codec.keyframes.max_gop=11"])).data
    seg = decode_segments(data, trusted=True)[1][0]
    c = hedge.candidates(seg, 5, [0.0, 0.5, 1.0], 4.0)
    assert np.abs(c["blend"] - c["prediction"]).max() > 1.0  # the two differ here
    np.testing.assert_allclose(c["mix=0"], c["prediction"], atol=1e-4)
    diff = c["prediction"] - c["blend"]  # mix=1: the blend plus the fine band of prediction − blend
    np.testing.assert_allclose(c["mix=1"], c["blend"] + diff - hedge.coarse(diff, 4.0), atol=1e-3)
    np.testing.assert_allclose(c["mix=0.5"], (c["mix=0"] + c["mix=1"]) / 2, atol=1e-3)
    m = hedge.measure(src, data, [0.5], 4.0)
    assert set(m) == {"prediction", "blend", "mix=0.5"} and m["mix=0.5"]["frames"] >= 5
    assert all(np.isfinite(v["psnr_lowres"]) for v in m.values())
