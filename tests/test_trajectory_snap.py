"""Rounding trajectory positions toward the coder's prediction (``entropy.snap``, encoder only)."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from actdiff.codec.schema import check_codec_config
from actdiff.config import load_group
from actdiff.entropy import AdaptiveTrajectoryCoder, decode_tracks, encode_tracks, quantize_tracks
from actdiff.errors import ConfigError
from actdiff.types import Tracks

H, W, STEP = 256, 384, 0.5


def jittery_tracks(seed: int, t: int = 24, n: int = 64, noise: float = 0.3,
                   occlusion: float = 0.0) -> Tracks:
    """Smooth motion plus tracker-like jitter; frame-0 points already in raster order (distinct
    rows), so the coder keeps their order and positions compare point by point."""
    rng = np.random.default_rng(seed)
    ys = np.sort(rng.choice(np.arange(8, H - 8), n, replace=False)).astype(np.float64)
    p0 = np.stack([rng.uniform(8, W - 60, n), ys], 1)
    p0 = np.rint(p0 / STEP) * STEP
    tt = np.arange(t, dtype=np.float64)[:, None, None]
    vel = np.array([1.3, -0.2]) + rng.normal(0, 0.2, (n, 2))
    pos = p0 + vel * tt + rng.normal(0, noise, (t, n, 2)) * (tt > 0)
    vis = rng.random((t, n)) >= occlusion
    return Tracks(pos.astype(np.float32), vis, vis.astype(np.float32))


@pytest.mark.parametrize("snap", [0.7, 0.9])
@pytest.mark.parametrize("occlusion", [0.0, 0.2])
def test_snapped_tracks_decode_exactly_stay_near_and_are_a_fixed_point(snap, occlusion):
    tr = jittery_tracks(3, occlusion=occlusion)
    q = quantize_tracks(tr, STEP, H, W, snap)
    data = encode_tracks(tr, STEP, H, W, snap)
    dec = decode_tracks(data, tr.num_frames, STEP, H, W)
    assert np.array_equal(dec.positions, q.positions) and np.array_equal(dec.visible, q.visible)
    assert encode_tracks(q, STEP, H, W, snap) == data, "quantising twice changes nothing"
    vis = q.visible
    err = np.abs(q.positions - tr.positions)[vis]
    assert err.max() <= snap * STEP + 1e-5, "a coded position lies within snap steps of the tracked one"
    assert err.max() > 0.5 * STEP, "some positions moved off the nearest step"
    plain = quantize_tracks(tr, STEP, H, W)
    assert np.abs(plain.positions - tr.positions)[vis].max() <= 0.5 * STEP + 1e-5
    assert np.array_equal(q.positions[0], plain.positions[0]), "frame 0 is rounded as before"


def test_snap_saves_bits_on_jittery_motion_and_off_is_plain_rounding():
    sizes = {}
    for snap in (0.5, 0.7, 0.9):
        sizes[snap] = np.mean([len(encode_tracks(jittery_tracks(s), STEP, H, W, snap)) for s in range(4)])
    assert sizes[0.9] < sizes[0.7] < sizes[0.5]
    assert sizes[0.9] < 0.9 * sizes[0.5], sizes
    tr = jittery_tracks(5)
    assert encode_tracks(tr, STEP, H, W, 0.5) == encode_tracks(tr, STEP, H, W)


def test_coder_and_config_check_the_reach():
    tr = jittery_tracks(1)
    coder = AdaptiveTrajectoryCoder(step=STEP, snap=0.9)
    assert coder.encode(tr, H, W) == encode_tracks(tr, STEP, H, W, 0.9)
    assert np.array_equal(coder.quantize(tr, H, W).positions, quantize_tracks(tr, STEP, H, W, 0.9).positions)
    for bad in (0.4, 1.0, True, "0.7"):
        with pytest.raises(ConfigError, match="snap"):
            AdaptiveTrajectoryCoder(step=STEP, snap=bad)
    codec = load_group("codec", "default")
    assert check_codec_config(codec).entropy.snap == 0.5
    with pytest.raises(ConfigError, match="snap"):
        check_codec_config(OmegaConf.merge(codec, {"entropy": {"snap": 1.0}}))
