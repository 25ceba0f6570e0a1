"""Conditions: channel layout, bidirectional switch, trajectory raster, warp-blend."""

import numpy as np
import pytest
import torch

from actdiff import conditioning
from actdiff.conditioning import (
    CHANNELS,
    NUM_CHANNELS,
    build_conditions,
    build_segment_conditions,
)
from actdiff.conditioning.conditions import channel_slice, warp_blend_from_conditions
from actdiff.conditioning.raster import rasterise_tracks
from actdiff.motion.prediction import BLEND_FLOOR
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import Tracks


@pytest.fixture
def seg():
    frames = moving_texture(7, 32, 48, seed=1)
    return segment_from_frames(frames, 0, 6, num_points=10)


def _stub_warp(seg, t, bandwidth, bidirectional=True):
    """Identity 'warp' with distinctive confidences, to check the layout independently of warp."""
    h, w = seg.key_start.shape[:2]
    return (seg.key_start.astype(np.float32), np.full((h, w), 0.25, np.float32),
            seg.key_end.astype(np.float32), np.full((h, w), 0.75, np.float32))


def test_channels_table_is_contiguous_and_complete():
    spans = sorted(CHANNELS.values())
    pos = 0
    for start, n in spans:
        assert start == pos
        pos += n
    assert pos == NUM_CHANNELS == 20
    assert f"{NUM_CHANNELS}" in conditioning.conditions.__doc__ or "C = 20" in conditioning.conditions.__doc__


def test_layout_with_stub_warp(seg, monkeypatch):
    monkeypatch.setattr(conditioning.conditions, "warp_keyframes", _stub_warp)
    c = build_conditions(seg, 3)
    assert c.shape == (NUM_CHANNELS, 32, 48) and c.dtype == np.float32
    k0 = seg.key_start.transpose(2, 0, 1) / 127.5 - 1
    np.testing.assert_allclose(c[channel_slice("k0")], k0, atol=1e-6)
    np.testing.assert_allclose(c[channel_slice("w1")], seg.key_end.transpose(2, 0, 1) / 127.5 - 1, atol=1e-6)
    assert np.all(c[channel_slice("c0")] == 0.25) and np.all(c[channel_slice("c1")] == 0.75)
    assert np.all(c[channel_slice("tau")] == pytest.approx(0.5))
    assert c[channel_slice("vis")].sum() > 0
    assert c.min() >= -1.0 and c.max() <= 1.0
    off = build_conditions(seg, 3, bidirectional=False)
    for name in ("k1", "w1", "c1"):
        assert np.all(off[channel_slice(name)] == 0)
    np.testing.assert_array_equal(off[channel_slice("w0")], c[channel_slice("w0")])


def test_segment_batch(seg, monkeypatch):
    monkeypatch.setattr(conditioning.conditions, "warp_keyframes", _stub_warp)
    b = build_segment_conditions(seg)
    assert b.shape == (7, NUM_CHANNELS, 32, 48)
    np.testing.assert_allclose(b[:, CHANNELS["tau"][0], 0, 0], np.arange(7) / 6)
    with pytest.raises(ValueError):
        build_conditions(seg, 7)


def test_raster_splats():
    tracks = Tracks(positions=np.array([[[10.0, 5.0], [3.0, 3.0]], [[12.0, 6.0], [3.0, 3.0]]], np.float32),
                    visible=np.array([[True, True], [True, False]]), confidence=np.ones((2, 2), np.float32))
    r = rasterise_tracks(tracks, 1, 16, 20, radius=1)
    assert r.shape == (5, 16, 20)
    assert r[0].sum() == 9  # one visible 3x3 splat; the invisible point is not drawn
    assert r[0, 6, 12] == 1 and r[0, 3, 3] == 0
    assert r[1, 6, 12] == pytest.approx(2 / 20) and r[2, 6, 12] == pytest.approx(1 / 16)
    assert r[3, 6, 12] == pytest.approx(2 * 10 / 19 - 1)


def test_blend_prefers_confident_warp(seg, monkeypatch):
    monkeypatch.setattr(conditioning.conditions, "warp_keyframes", _stub_warp)
    c = torch.from_numpy(build_conditions(seg, 3))[None]
    blend = warp_blend_from_conditions(c)
    w0, w1 = c[:, channel_slice("w0")], c[:, channel_slice("w1")]
    a0, a1 = 0.5 * (0.25 + BLEND_FLOOR), 0.5 * (0.75 + BLEND_FLOOR)  # the formula of actdiff.motion.prediction
    torch.testing.assert_close(blend, (a0 * w0 + a1 * w1) / (a0 + a1))


def test_real_warp_conditions(seg, monkeypatch):
    c = build_conditions(seg, 2)
    assert c.shape == (NUM_CHANNELS, 32, 48)
    assert np.isfinite(c).all()
    assert c[channel_slice("c0")].min() >= 0 and c[channel_slice("c0")].max() <= 1
    off = build_conditions(seg, 2, bidirectional=False)
    assert np.all(off[channel_slice("k1")] == 0) and np.all(off[channel_slice("c1")] == 0)
    # the frame-0 warp of K0 is K0 itself
    c0 = build_conditions(seg, 0)
    np.testing.assert_allclose(c0[channel_slice("w0")], c0[channel_slice("k0")], atol=2 / 127.5)


def test_conditions_carry_the_plain_blend(seg):
    """The conditions hold the keyframe warps made with seg.bandwidth, and the prediction read
    back from them is the plain blend of actdiff.motion.prediction (one formula)."""
    from actdiff.motion.prediction import predict_frame, warp_keyframes

    seg.bandwidth = 9.0
    cond = build_conditions(seg, 4)
    w0, c0, _, _ = warp_keyframes(seg, 4, 9.0)
    np.testing.assert_allclose(cond[channel_slice("w0")], w0.transpose(2, 0, 1) / 127.5 - 1, atol=1e-5)
    np.testing.assert_allclose(cond[channel_slice("c0")][0], c0, atol=1e-6)
    read_back = (warp_blend_from_conditions(cond) + 1) * 127.5
    np.testing.assert_allclose(read_back, predict_frame(seg, 4, mode="blend").transpose(2, 0, 1), atol=1e-3)
    one_sided = (warp_blend_from_conditions(build_conditions(seg, 4, bidirectional=False)) + 1) * 127.5
    expect = predict_frame(seg, 4, bidirectional=False, mode="blend").transpose(2, 0, 1)
    np.testing.assert_allclose(one_sided, expect, atol=1e-3)
