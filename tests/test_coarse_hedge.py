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


def test_gates_stay_between_prediction_and_the_hedge_and_the_oracle_is_the_best_mix():
    hedge = load_script("experiments/coarse_hedge.py")
    src = moving_texture(t=12, h=64, w=96)
    data = encode_video(Video(frames=src, fps=25.0), compose(None, ["codec.keyframes.max_gop=11"])).data
    seg = decode_segments(data, trusted=True)[1][0]
    c = hedge.candidates(seg, 5, [0.5], 4.0, gates=True)
    tau = 5 / (seg.segment.length - 1)
    expected = c["prediction"] + hedge.GATE_MAX * 4 * tau * (1 - tau) * (c["mix=0.5"] - c["prediction"]) / 0.5
    np.testing.assert_allclose(c["time"], expected, atol=1e-3)
    for e0 in hedge.EVIDENCE_SCALES:  # a gate in [0, β_max] moves each pixel at most as far as β_max does
        gated = np.abs(hedge.coarse(c[f"evidence={e0:g}"] - c["prediction"], 1.0))
        assert gated.max() <= np.abs(c["blend"] - c["prediction"]).max() * hedge.GATE_MAX + 1e-3
    m = hedge.measure(src, data, [0.25, 0.5], 4.0, gates=True)
    best = max(m[k]["psnr_lowres"] for k in ("prediction", "mix=0.25", "mix=0.5"))
    assert m["frame-oracle"]["psnr_lowres"] >= best - 1e-9
    assert {"time", "frame-oracle", *(f"evidence={e:g}" for e in hedge.EVIDENCE_SCALES)} <= set(m)


def test_segment_oracle_picks_one_mix_per_segment_between_the_best_constant_and_the_frame_oracle():
    hedge = load_script("experiments/coarse_hedge.py")
    frames = [{"a": (20.0, 40.0), "b": (20.0, 24.0)}, {"a": (20.0, 10.0), "b": (20.0, 24.0)}]
    assert hedge.segment_choice(frames, ["a", "b"]) == "a"  # best mean dB (25 against 24), as the metric
    src = moving_texture(t=24, h=64, w=96)
    data = encode_video(Video(frames=src, fps=25.0), compose(None, ["codec.keyframes.max_gop=11"])).data
    m = hedge.measure(src, data, [0.25, 0.5, 1.0], 4.0, oracles=True)
    assert {"frame-oracle", "segment-oracle"} <= set(m) and "time" not in m
    assert m["segment-oracle"]["frames"] == m["mix=0.5"]["frames"]
    assert m["segment-oracle"]["psnr_lowres"] <= m["frame-oracle"]["psnr_lowres"] + 1e-9
    best = max(m[k]["psnr_lowres"] for k in ("prediction", "mix=0.25", "mix=0.5", "mix=1"))
    assert m["segment-oracle"]["psnr_lowres"] >= best - 1e-9  # never below the best constant
