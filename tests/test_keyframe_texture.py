"""``residual_from="keyframes"``: the 2D model runs once per keyframe and that texture travels with
the content along the warp decoder's own maps (actdiff/decoders/keyframe_texture.py)."""

import numpy as np
import pytest

from actdiff.decoders import keyframe_texture as kt
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.decoders.warp import WarpDecoder
from actdiff.errors import ConfigError
from actdiff.motion.fusion import fuse_frame
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import DecodedSegment, Segment, StreamHeader

HEADER = StreamHeader(height=40, width=56, coded_height=40, coded_width=56, num_frames=40, fps=25.0, seed=5)


def _segments(length: int = 9, speed: float = 2.0):
    """Two consecutive segments of a texture moving ``speed`` px/frame, sharing their keyframe."""
    frames = moving_texture(2 * length - 1, 40, 56, seed=3, speed=speed)
    a = segment_from_frames(frames, 0, length - 1, num_points=16, speed=speed)
    b = segment_from_frames(frames, length - 1, 2 * length - 2, num_points=16, speed=speed)
    return a, b


def _decoder(micro_weights, **kw):
    opts = dict(weights=str(micro_weights), steps=2, strength=0.5, base="detail", detail_mix=0.5,
                residual_band="fine", residual_from="keyframes", coarse_lock=True)
    return DiffusionDecoder(**{**opts, **kw})


def test_the_model_runs_once_per_keyframe_and_neighbours_agree_on_theirs(micro_weights, model_runs):
    runs = model_runs
    a, b = _segments()
    dec = _decoder(micro_weights)
    fa, fb = dec.decode_segment(HEADER, a), dec.decode_segment(HEADER, b)
    assert sum(runs) == 3  # three keyframes, the shared one drawn once
    np.testing.assert_array_equal(fa[-1], fb[0])  # the shared keyframe, textured the same in both
    assert np.abs(fb[0].astype(int) - b.key_start).max() > 0  # keyframes get the texture too
    fresh = _decoder(micro_weights).decode_segment(HEADER, b)  # deterministic, whatever was decoded before
    np.testing.assert_array_equal(fresh, fb)


def test_without_texture_it_is_the_image_under_it(micro_weights):
    """No texture: on the ``prediction`` base the warp decoder's frames; on ``detail`` those with the
    plain blend's coarse band mixed in by ``detail_mix`` (0: the warp decoder's again)."""
    a, _ = _segments()
    warp = WarpDecoder().decode_segment(HEADER, a)
    plain = _decoder(micro_weights, residual_scale=0.0, base="prediction", detail_mix=None)
    np.testing.assert_array_equal(plain.decode_segment(HEADER, a), warp)
    np.testing.assert_array_equal(_decoder(micro_weights, residual_scale=0.0, detail_mix=0.0).decode_segment(HEADER, a),
                                  warp)
    dec = _decoder(micro_weights, residual_scale=0.0, detail_mix=0.7)
    half = dec.decode_segment(HEADER, a)
    assert np.abs(half.astype(int) - warp).max() > 0
    for t in (2, 5):
        under = kt.image_under(dec, a, t, fuse_frame(a, t)[0])
        np.testing.assert_array_equal(half[t], np.clip(np.rint(under), 0, 255).astype(np.uint8))


def test_the_texture_travels_along_the_warp_decoders_maps_with_its_weights(micro_weights):
    a, _ = _segments()
    dec = _decoder(micro_weights)
    t0 = kt.keyframe_texture(dec, HEADER, a.key_start)
    t1 = kt.keyframe_texture(dec, HEADER, a.key_end)
    assert np.abs(t0).mean() > 0.5 and np.abs(t0 - t1).mean() > 0.1
    frames = dec.decode_segment(HEADER, a)
    for t in (2, 4, 6):
        pred, d = fuse_frame(a, t)
        carried = d["a0"][..., None] * kt.backward_warp(t0, d["map0"]) + d["a1"][..., None] * kt.backward_warp(
            t1, d["map1"])  # written out here, not through kt.carried_texture
        under = kt.image_under(dec, a, t, pred)
        added = frames[t].astype(np.float32) - under
        inside = ((under + carried > 0.5) & (under + carried < 254.5)).all(-1)  # not clipped
        assert inside.mean() > 0.5 and np.abs(added - carried)[inside].max() <= 0.5 + 1e-3  # only the rounding
        assert np.abs(added - t0).mean() > np.abs(added - carried).mean() + 0.3  # not a texture fixed to the screen


def test_a_keyframes_texture_is_its_own_and_fine(micro_weights):
    a, _ = _segments()
    dec = _decoder(micro_weights)
    t0 = kt.keyframe_texture(dec, HEADER, a.key_start)
    np.testing.assert_array_equal(t0, kt.keyframe_texture(_decoder(micro_weights), HEADER, a.key_start.copy()))
    unlocked = kt.keyframe_texture(_decoder(micro_weights, coarse_lock=False), HEADER, a.key_start)

    def blocks(tex):  # mean |8x8 block mean|
        return float(np.abs(tex[:40, :56].reshape(5, 8, 7, 8, 3).mean(axis=(1, 3))).mean())

    # the coarse lock removes the block means (up to the clipping of this random model's large residuals)
    assert blocks(t0) < 0.4 * blocks(unlocked)
    other = StreamHeader(**{**HEADER.__dict__, "seed": 6})
    assert np.abs(kt.keyframe_texture(dec, other, a.key_start) - t0).mean() > 0.1  # the stream's seed draws it


def test_keyframes_mode_needs_both_keyframes_and_is_recorded(micro_weights):
    a, _ = _segments()
    with pytest.raises(ConfigError, match="both keyframes"):  # asked for: refused when the decoder is built
        _decoder(micro_weights, bidirectional=False)
    one_way = StreamHeader(**{**HEADER.__dict__, "params": {"bidirectional": False}})
    with pytest.raises(ConfigError, match="both keyframes"):  # a stream coded one way: refused when decoded
        _decoder(micro_weights).decode_segment(one_way, a)
    settings = _decoder(micro_weights).settings()
    assert settings["residual_from"] == "keyframes" and "temporal_blend" not in settings
    for unused in ({"temporal_blend": 0.9}, {"noise_mode": "warped"}):  # asked for, not done: refused
        with pytest.raises(ConfigError, match="not used with residual_from 'keyframes'"):
            _decoder(micro_weights, **unused)
    one = DecodedSegment(Segment(3, 3), a.key_start, a.key_start, a.tracks, a.bandwidth)
    assert _decoder(micro_weights).decode_segment(HEADER, one).shape == (1, 40, 56, 3)
