"""The stream's trajectory stride chosen from its interpolation loss (``trajectories.stride_tolerance``)."""

import numpy as np
import pytest
from conftest import moving_texture

from actdiff.codec import decode_segments, encode_video
from actdiff.codec.bitstream import read_bitstream
from actdiff.codec.stride_choice import chosen_stride, skip_stats
from actdiff.config import compose
from actdiff.motion.temporal import skip_error
from actdiff.types import Tracks, Video


def zigzag(num_frames: int = 9, amplitude: float = 3.0) -> Tracks:
    """One point moving right at 1 px/frame and up and down by ``amplitude`` px every other frame."""
    t = np.arange(num_frames, dtype=np.float32)
    pos = np.stack([10 + t, 20 + amplitude * (t % 2)], -1)[:, None, :]
    vis = np.ones((num_frames, 1), bool)
    return Tracks(pos, vis, vis.astype(np.float32))


def test_skip_error_is_the_distance_from_the_interpolation_at_skipped_frames_only():
    e = skip_error(zigzag(9, 3.0), 2)  # coded 0, 2, 4, 6, 8 (y = 20); skipped 1, 3, 5, 7 (y = 23)
    np.testing.assert_allclose(e, [3.0] * 4, atol=1e-5)
    assert skip_error(zigzag(9, 3.0), 1).size == 0  # nothing skipped
    straight = zigzag(9, 0.0)
    np.testing.assert_allclose(skip_error(straight, 2), 0.0, atol=1e-5)


def test_skip_error_counts_only_points_seen_at_the_frame_and_both_neighbours():
    tracks = zigzag(9, 3.0)
    tracks.visible[3] = False  # skipped frame: not counted
    tracks.visible[6] = False  # coded frame: frames 5 and 7 lose a neighbour
    assert skip_error(tracks, 2).size == 1  # frame 1 only


def test_a_few_large_losses_do_not_change_the_stride():
    stats = skip_stats([zigzag(9, 3.0)] + [zigzag(9, 0.0)] * 9, 2)  # 4 of 40 skipped positions 3 px off
    assert stats["mean_px"] > 0.25 and stats["p90_px"] < 0.5
    assert chosen_stride(stats, 2, 0.5) == 2


def test_stride_is_kept_below_the_tolerance_and_dropped_to_one_above():
    stats = skip_stats([zigzag(9, 3.0), zigzag(5, 0.0)], 2)
    assert stats["count"] == 6 and stats["mean_px"] == pytest.approx(2.0, abs=1e-5)
    assert stats["over_half_px"] == pytest.approx(4 / 6)
    assert chosen_stride(stats, 2, None) == 2
    assert stats["p90_px"] == pytest.approx(3.0, abs=1e-5)
    assert chosen_stride(stats, 2, 3.5) == 2
    assert chosen_stride(stats, 2, 2.5) == 1
    assert chosen_stride(stats, 1, 0.0) == 1
    assert skip_stats([], 2)["count"] == 0


def _encode(tolerance: str, overrides=()):
    frames = moving_texture(num_frames=12, height=64, width=96, speed=(1.5, 0.5))
    cfg = compose(None, ["codec.min_size=16", "codec.keyframes.max_gop=12",
                         f"codec.trajectories.stride_tolerance={tolerance}", *overrides])
    return encode_video(Video(frames=frames, fps=25.0), cfg)


def test_encoder_codes_every_frame_above_the_tolerance_and_the_decoder_follows():
    keep, every = _encode("1000"), _encode("0")
    assert keep.stats["trajectory_stride"]["stride"] == 2 and every.stats["trajectory_stride"]["stride"] == 1
    assert every.stats["trajectory_stride"]["skip"] == keep.stats["trajectory_stride"]["skip"]
    assert read_bitstream(keep.data).header.params["ts"] == 2
    assert read_bitstream(every.data).header.params["ts"] == 1
    assert len(every.data) > len(keep.data)  # every frame's positions cost bits
    _, decoded = decode_segments(every.data)
    for ours, theirs in zip(every.debug["decoded_segments"], decoded, strict=True):
        np.testing.assert_array_equal(ours.tracks.positions, theirs.tracks.positions)


def test_a_bit_budget_is_counted_again_at_the_chosen_stride():
    res = _encode("0", ["codec.trajectories.budget_bits=400"])
    assert res.stats["trajectory_stride"]["stride"] == 1
    assert res.stats["bits"]["trajectories"] <= 400 * len(res.debug["decoded_segments"]) + 64


def test_rd_mode_codes_the_configured_stride_and_says_the_tolerance_was_not_applied():
    res = _encode("0", ["codec.mode=rd", "codec.rd.search_speed=8"])
    info = res.stats["trajectory_stride"]
    assert info["stride"] == 2 and info["applied"] is False and "stride_choice is off" in info["why"]
    assert read_bitstream(res.data).header.params["ts"] == 2


def test_rd_stride_choice_searches_again_at_stride_one_when_the_rule_says_so():
    rd = ["codec.mode=rd", "codec.rd.search_speed=8", "codec.rd.stride_choice=true"]
    every, keep = _encode("0", rd), _encode("1000", rd)
    assert every.stats["trajectory_stride"]["stride"] == 1 and keep.stats["trajectory_stride"]["stride"] == 2
    assert every.stats["trajectory_stride"]["skip"]["count"] > 0
    assert every.stats["trajectory_stride"]["skip"] == keep.stats["trajectory_stride"]["skip"]
    assert read_bitstream(every.data).header.params["ts"] == 1
    assert read_bitstream(keep.data).header.params["ts"] == 2
    _, decoded = decode_segments(every.data)
    for ours, theirs in zip(every.debug["decoded_segments"], decoded, strict=True):
        np.testing.assert_array_equal(ours.tracks.positions, theirs.tracks.positions)


def test_the_default_codec_chooses_the_stride_at_half_a_pixel():
    codec = compose(None, []).codec
    assert codec.trajectories.stride_tolerance == 0.5 and codec.trajectories.temporal_stride == 2


def test_evaluate_rows_record_the_stride_the_stream_codes():
    from actdiff.evaluation.runner import _stats_fields

    assert _stats_fields(_encode("0").stats)["trajectory_stride"] == 1
    assert _stats_fields(_encode("1000").stats)["trajectory_stride"] == 2


def test_rd_stride_choice_must_be_a_boolean():
    from actdiff.codec.rd_settings import RDSettings
    from actdiff.errors import ConfigError

    codec = compose(None, ["codec.mode=rd", "codec.rd.stride_choice=yes"]).codec
    with pytest.raises(ConfigError, match="stride_choice must be true or false"):
        RDSettings.from_config(codec)
    assert RDSettings.from_config(compose(None, ["codec.mode=rd"]).codec).stride_choice is False


def test_info_says_how_the_stream_codes_its_trajectories_in_time():
    from actdiff.codec.describe import describe_stream, format_description

    def info(tolerance: str) -> str:
        return format_description(describe_stream(_encode(tolerance).data))

    assert "every frame's positions coded" in info("0")
    assert "temporal stride 2 frames (the rest interpolated)" in info("1000")
