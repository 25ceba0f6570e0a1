"""End-to-end codec: round trips, bit accounting, exact tracks, determinism, odd sizes, cuts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import moving_texture

from actdiff.codec import decode_segments, decode_video, encode_video
from actdiff.config import compose
from actdiff.errors import InputError
from actdiff.types import Video


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


@pytest.fixture(scope="module")
def sample_result(sample_video, codec_cfg):
    video = Video(sample_video.frames[:24], sample_video.fps)
    return video, encode_video(video, codec_cfg)


def test_round_trip_sample_clip(sample_result):
    video, res = sample_result
    out = decode_video(res.data, "warp")
    assert out.frames.shape == video.frames.shape
    assert out.fps == video.fps
    # Keyframes are coded images: close to the source; in-between frames recognisable.
    for k in res.stats["keyframes"]:
        assert psnr(out.frames[k], video.frames[k]) > 25
    assert np.mean([psnr(a, b) for a, b in zip(out.frames, video.frames)]) > 18


def test_bit_accounting_matches_file(sample_result):
    video, res = sample_result
    s = res.stats
    assert s["bits_total"] == 8 * len(res.data)
    assert sum(s["bits"].values()) == s["bits_total"]
    assert s["bpp"] == pytest.approx(s["bits_total"] / (video.num_frames * video.height * video.width))
    assert s["frames"] == video.num_frames and (s["height"], s["width"]) == (video.height, video.width)
    assert len(s["trajectories"]) == len(s["segments"])
    assert s["keyframes"][0] == 0 and s["keyframes"][-1] == video.num_frames - 1
    assert s["encode_seconds"] > 0


def test_decoded_tracks_are_exactly_the_encoders(sample_result):
    _, res = sample_result
    _, decoded = decode_segments(res.data)
    enc = res.debug["decoded_segments"]
    assert len(decoded) == len(enc)
    for a, b in zip(enc, decoded):
        assert a.segment == b.segment and a.bandwidth == b.bandwidth
        np.testing.assert_array_equal(a.tracks.positions, b.tracks.positions)
        np.testing.assert_array_equal(a.tracks.visible, b.tracks.visible)
        np.testing.assert_array_equal(a.key_start, b.key_start)
        np.testing.assert_array_equal(a.key_end, b.key_end)
    assert sum(s.tracks.num_points for s in decoded) > 0


def test_encode_and_decode_are_deterministic(sample_result, codec_cfg):
    video, res = sample_result
    assert encode_video(video, codec_cfg).data == res.data
    np.testing.assert_array_equal(decode_video(res.data).frames, decode_video(res.data).frames)


def test_fast_stream_is_the_same_for_any_number_of_encoder_threads(sample_result, monkeypatch):
    """``codec.threads``: the workers code the keyframes and select the trajectories ahead
    (checked: that work runs on them with 2, in the caller's thread with 1) and change nothing."""
    import threading

    from actdiff.codec import encoder

    video, res = sample_result
    seen: dict = {}

    def record(kind, fn):
        def wrapped(*args, **kwargs):
            seen.setdefault(kind, set()).add(threading.current_thread().name.startswith("actdiff-encode"))
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(encoder, "_intra", record("keyframes", encoder._intra))
    monkeypatch.setattr(encoder, "_select", record("tracks", encoder._select))
    serial = encode_video(video, compose(None, ["codec.threads=1"]))
    assert seen == {"keyframes": {False}, "tracks": {False}}
    seen.clear()
    pooled = encode_video(video, compose(None, ["codec.threads=2"]))
    assert seen == {"keyframes": {True}, "tracks": {True}}
    assert pooled.data == serial.data == res.data
    assert pooled.stats["keyframe_inter"]["inter"] > 0  # the chain of inter choices ran on top of the workers


def test_encoder_threads_are_checked_and_the_rd_search_inherits_them():
    from actdiff.codec.rd_settings import RDSettings
    from actdiff.errors import ConfigError

    video = Video(moving_texture(6, 64, 96), 25.0)
    for bad in ("0", "65", "1.5", "many"):
        with pytest.raises(ConfigError, match="threads"):
            encode_video(video, compose(None, [f"codec.threads={bad}"]))
    inherited = compose(None, ["codec.threads=3"]).codec
    assert RDSettings.from_config(inherited).threads == 3
    assert RDSettings.from_config(compose(None, ["codec.threads=3", "codec.rd.threads=1"]).codec).threads == 1


@pytest.mark.parametrize("num_frames", [1, 2, 3])
def test_very_short_inputs(num_frames, codec_cfg):
    frames = moving_texture(num_frames, 64, 96)
    res = encode_video(Video(frames, 30.0), codec_cfg)
    out = decode_video(res.data)
    assert out.frames.shape == frames.shape
    assert res.stats["keyframes"] == sorted({0, num_frames - 1})


def test_odd_size_is_padded_and_cropped_back(codec_cfg):
    frames = moving_texture(6, 50, 67)
    res = encode_video(Video(frames, 24.0), codec_cfg)
    assert (res.stats["coded_height"], res.stats["coded_width"]) == (64, 80)
    out = decode_video(res.data)
    assert out.frames.shape == frames.shape
    assert psnr(out.frames[0], frames[0]) > 25


def test_too_small_input_is_refused(codec_cfg):
    with pytest.raises(InputError, match="at least 32"):
        encode_video(Video(np.zeros((2, 16, 64, 3), np.uint8)), codec_cfg)


def test_hard_scene_cut_gets_a_keyframe(sample_video, codec_cfg):
    a = sample_video.frames[:14]
    b = 255 - sample_video.frames[30:44, ::-1]  # unrelated content: flipped, inverted
    frames = np.concatenate([a, b])
    res = encode_video(Video(frames, 25.0), codec_cfg)
    assert 14 in res.stats["keyframes"]
    segs = res.stats["segments"]
    assert not any(s < 14 - 1 and e > 14 for s, e in segs), f"a segment spans the cut: {segs}"
    out = decode_video(res.data)
    assert psnr(out.frames[14], frames[14]) > 25


def test_budget_override_changes_trajectory_count(sample_video):
    video = Video(sample_video.frames[:12], 25.0)
    small = encode_video(video, compose(None, ["codec.trajectories.budget_points=8"]))
    large = encode_video(video, compose(None, ["codec.trajectories.budget_points=64"]))
    assert max(small.stats["trajectories"]) <= 8
    assert sum(large.stats["trajectories"]) > sum(small.stats["trajectories"])
    assert large.stats["bits"]["trajectories"] > small.stats["bits"]["trajectories"]


def test_downscaled_keyframes_round_trip(codec_cfg):
    """``keyframe_codec.scale=2``: smaller file, full-size keyframes, the header carries the
    scale, decoding is deterministic and equals the encoder's closed loop."""
    from omegaconf import OmegaConf

    from actdiff.codec.bitstream import read_bitstream

    video = Video(moving_texture(num_frames=8, height=64, width=96), 25.0)
    full = encode_video(video, codec_cfg)
    cfg = OmegaConf.merge(codec_cfg, {"codec": {"keyframe_codec": {"scale": 2}}})
    half = encode_video(video, cfg)
    assert "kr" not in read_bitstream(full.data).header.params       # scale 1: format unchanged
    assert read_bitstream(half.data).header.params["kr"] == 2.0
    assert half.stats["bits"]["keyframes"] < 0.6 * full.stats["bits"]["keyframes"]
    header, segs = decode_segments(half.data)
    _, again = decode_segments(half.data)
    for seg, seg2, enc in zip(segs, again, half.debug["decoded_segments"]):
        assert seg.key_end.shape == (header.coded_height, header.coded_width, 3)
        assert np.array_equal(seg.key_end, seg2.key_end) and np.array_equal(seg.key_end, enc.key_end)
    out = decode_video(half.data, "warp")
    assert out.frames.shape == video.frames.shape
    assert np.array_equal(out.frames, decode_video(half.data, "warp").frames)
    assert psnr(out.frames[0], video.frames[0]) > 20
