"""Repeated frames (``codec.repeat_psnr``, :mod:`actdiff.codec.repeats`, format 4): found against the
last kept frame, listed in the stream, shown again by the decoder, left out of training pairs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import moving_texture

from actdiff.codec import decode_segments, decode_video, encode_video
from actdiff.codec.bitstream import REPEAT_KEY, REPEAT_VERSION, read_bitstream, write_bitstream
from actdiff.codec.describe import describe_stream, format_description
from actdiff.codec.repeats import (
    IDENTICAL_DB,
    drop_repeats,
    find_repeats,
    frame_psnr,
    pack_repeats,
    show_repeats,
    unpack_repeats,
)
from actdiff.config import compose
from actdiff.errors import BitstreamError, ConfigError
from actdiff.types import Bitstream, Segment, SegmentSection, StreamHeader, Video


def doubled(t: int = 12) -> np.ndarray:
    """``2t`` frames of a moving texture, each shown twice (a 12.5 fps capture stored at 25 fps)."""
    return np.repeat(moving_texture(t, 64, 96), 2, axis=0)


def test_find_repeats_compares_with_the_last_kept_frame():
    f = doubled(4)
    assert find_repeats(f, 50.0) == (1, 3, 5, 7) and find_repeats(f, None) == ()
    assert frame_psnr(f[0], f[1]) == IDENTICAL_DB
    # a slow drift: each frame one level above the one before. Against the previous frame every pair
    # is 48 dB; against the last kept one the drift is caught before it exceeds the threshold.
    drift = np.stack([np.full((8, 8, 3), 100 + t, np.uint8) for t in range(8)])
    reps = find_repeats(drift, 45.0)
    kept = drop_repeats(drift, reps)
    assert 0 < len(reps) < 7
    shown = show_repeats(kept, reps)
    assert shown.shape == drift.shape
    assert min(frame_psnr(a, b) for a, b in zip(shown, drift)) >= 45.0


def test_show_is_the_inverse_of_drop_on_repeats():
    f = doubled(5)
    reps = find_repeats(f, 50.0)
    np.testing.assert_array_equal(show_repeats(drop_repeats(f, reps), reps), f)


def test_pack_unpack_and_their_checks():
    reps, shown = (1, 3, 9, 16), 17
    data = pack_repeats(reps, shown)
    assert len(data) == 3 and unpack_repeats(data, shown, shown - len(reps)) == reps
    with pytest.raises(BitstreamError, match="frame 0"):
        unpack_repeats(pack_repeats((0, 3), 8), 8, 6)
    with pytest.raises(BitstreamError, match="4 repeated frames listed"):
        unpack_repeats(data, shown, 12)
    with pytest.raises(BitstreamError, match="stray bits"):
        unpack_repeats(data[:2] + bytes([data[2] | 0x80]), shown, 13)


def _stream(repeated=(2, 3), coded=6) -> Bitstream:
    params = {"kc": "avif", "tc": "adaptive_grid", "qs": 0.5, **({REPEAT_KEY: True} if repeated else {})}
    header = StreamHeader(32, 48, 32, 48, coded, 25.0, 7, params, repeated=tuple(repeated))
    return Bitstream(header, [SegmentSection(Segment(0, coded - 1), [b"a", b"b"], b"t")])


def test_bitstream_round_trip_and_damage():
    data = write_bitstream(_stream())
    assert data[3] == REPEAT_VERSION
    back = read_bitstream(data)
    assert back.header.repeated == (2, 3) and back.header.shown_frames == 8 and back.header.num_frames == 6
    assert write_bitstream(back) == data
    plain = write_bitstream(_stream(repeated=()))
    assert plain[3] != REPEAT_VERSION and read_bitstream(plain).header.repeated == ()
    # the param "fr" (3 bytes) and, after the header's CRC, the block: varint(8), one mask byte, its CRC
    assert len(data) - len(plain) == 3 + 1 + 1 + 4
    start = data.index(bytes([8, 0b1100]))
    bad = bytearray(data)
    bad[start + 1] ^= 0b10000  # list frame 4 as well: the CRC fails
    with pytest.raises(BitstreamError, match="CRC mismatch in the repeated-frame list"):
        read_bitstream(bytes(bad))
    with pytest.raises(ConfigError, match="do not match param"):
        write_bitstream(_stream(repeated=(0, 3)))
    no_param = _stream()
    del no_param.header.params[REPEAT_KEY]
    with pytest.raises(ConfigError, match="do not match param"):
        write_bitstream(no_param)


def test_the_default_leaves_repeats_out():
    assert compose(None, []).codec.repeat_psnr == 50


def test_encode_decode_shows_every_frame_and_codes_the_kept_ones():
    video = Video(doubled(12), 25.0)
    same = "codec.trajectories.decoded_choice=false"   # one selection in both: the sizes differ by the repeats alone
    on = encode_video(video, compose(None, ["codec.repeat_psnr=50", same]))
    off = encode_video(video, compose(None, ["codec.repeat_psnr=null", same]))
    assert on.stats["repeated_frames"] == list(range(1, 24, 2)) and on.stats["coded_frames"] == 12
    assert on.stats["frames"] == off.stats["frames"] == 24
    assert on.stats["bpp"] == pytest.approx(8 * len(on.data) / (24 * 64 * 96))
    assert len(on.data) < len(off.data)
    header, segs = decode_segments(on.data)
    assert header.shown_frames == 24 and segs[-1].segment.end == 11  # the sections index the coded frames
    at = header.display_index()
    assert on.stats["segments"] == [[at[s.segment.start], at[s.segment.end]] for s in segs]  # stats: display
    assert on.stats["keyframes"][0] == 0 and on.stats["keyframes"][-1] == 22  # display frame 23 repeats 22
    from actdiff.evaluation.runner import _stats_fields

    assert _stats_fields(on.stats)["repeated_frames"] == 12 and "repeated_frames" not in _stats_fields(off.stats)
    rec = decode_video(on.data, "warp").frames
    assert rec.shape == video.frames.shape
    for t in on.stats["repeated_frames"]:
        np.testing.assert_array_equal(rec[t], rec[t - 1])
    # decoding shows the coded frames in order: the repeats' neighbours are the coded frames
    np.testing.assert_array_equal(drop_repeats(rec, header.repeated)[-1], rec[-1])
    text = format_description(describe_stream(on.data, "x.adv"))
    assert "12 repeat the frame before (not coded, format 4), so 12 coded" in text
    assert "24 frames" in text


def test_a_clip_without_repeats_codes_the_same_bytes_with_the_setting():
    video = Video(moving_texture(10, 64, 96), 25.0)
    assert find_repeats(video.frames, 50.0) == ()
    on = encode_video(video, compose(None, ["codec.repeat_psnr=50"]))
    assert on.data == encode_video(video, compose(None, ["codec.repeat_psnr=null"])).data


def test_rate_control_and_rd_keep_the_repeats():
    from actdiff.codec.ratecontrol import encode

    video = Video(doubled(8), 25.0)
    for extra in (["codec.mode=rd"], ["+codec.rate_control.target_bpp=0.05"]):
        res = encode(video, compose(None, ["codec.repeat_psnr=50", *extra]))
        assert read_bitstream(res.data).header.repeated == tuple(range(1, 16, 2)), extra
        assert decode_video(res.data, "warp").frames.shape == video.frames.shape


def test_the_detail_mix_choice_reads_the_coded_frames():
    from actdiff.codec.encoding import add_detail_mix, coded_source

    video = Video(doubled(8), 25.0)
    cfg = compose(None, ["codec.repeat_psnr=50"])
    res = encode_video(video, cfg, choose_mix=False)
    shown = add_detail_mix(res, video.frames, cfg.codec)
    kept, _ = coded_source(video.frames, cfg.codec)
    assert shown.data == add_detail_mix(res, kept, cfg.codec).data
    with pytest.raises(ValueError, match="15 source frames for a stream of 8 coded frames"):
        add_detail_mix(res, video.frames[:15], cfg.codec)


def test_training_windows_pair_the_coded_frames(tmp_path):
    from actdiff.training.augment import WindowSpec
    from actdiff.training.corpus import Clip
    from actdiff.training.window_cache import WindowTask, build_cache, load_record

    cfg = compose(None, ["codec.repeat_psnr=50", "codec.threads=1"])
    clip = Clip("doubled", video=Video(doubled(10), 25.0, "doubled"))
    task = WindowTask(clip, "train", 0, 1)
    spec = WindowSpec(size=None, window_frames=16, quality_range=(20, 20), seed=3)
    (entry,) = build_cache([task], spec, cfg.codec, tmp_path, workers=1)
    rec = load_record(tmp_path, task.name)
    assert rec.header.repeated and rec.frames.shape[0] == rec.header.num_frames == entry["frames"]
    assert rec.segments[-1].segment.end == rec.frames.shape[0] - 1
    # every coded frame differs from the one before it: no repeat was left among the targets
    assert all(frame_psnr(a, b) < 50 for a, b in zip(rec.frames[1:], rec.frames[:-1]))


def test_gop_limits_count_the_frames_shown():
    from actdiff.selection.segments import balanced_limit, gop_limit, select_fixed

    shown = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]  # every second display frame coded
    assert gop_limit(0, 6, 11) == 5 and gop_limit(0, 6, 11, shown) == 2  # 5 display frames after the keyframe
    for b in (5, 9, 11):  # the display time line of a clip without repeats changes nothing
        assert balanced_limit(0, b, 4, 2, list(range(b + 1))) == balanced_limit(0, b, 4, 2)
    assert balanced_limit(0, 11, 16, 2, shown) == 5  # 22 display frames, 1.4 GOPs: split evenly at display 11
    frames = np.zeros((12, 32, 32, 3), np.uint8)
    spans = [(s.start, s.end) for s in select_fixed(frames, cfg={"fixed_gop": 5}, shown=shown)]
    assert spans[0] == (0, 2) and all(shown[b] - shown[a] <= 4 for a, b in spans)


def test_the_encoder_places_keyframes_by_display_time():
    video = Video(doubled(12), 25.0)
    res = encode_video(video, compose(None, ["codec.repeat_psnr=50", "codec.keyframes.max_gop=6"]))
    segs = [s.segment for s in decode_segments(res.data)[1]]
    assert all(b - a <= 5 for a, b in res.stats["segments"])  # display frames
    assert max(s.end - s.start for s in segs) <= 3  # 2-3 coded frames, not 5


@pytest.mark.parametrize("case", ["doubled", "sample"])  # two tests: xdist runs them side by side
def test_planned_segments_are_the_encoders_own_in_display_frames(sample_video, case):
    """``plan_segments`` (the keyframe decisions alone, for the contact sheets' frames) gives the
    segments the whole encoder codes, in display indices: with repeats left out, and on a real clip
    cut into several segments, with the default decoded trajectory choice on."""
    from actdiff.codec.encoder import plan_segments

    if case == "doubled":
        video, overrides = Video(doubled(12), 25.0), ["codec.repeat_psnr=50", "codec.keyframes.max_gop=6"]
    else:
        video, overrides = Video(sample_video.frames[:30], 25.0), ["codec.keyframes.max_gop=10"]
    cfg = compose(None, overrides)
    planned = plan_segments(video, cfg)
    assert len(planned) >= 3 and planned == encode_video(video, cfg).stats["segments"]
    if case == "doubled":  # display indices, not coded ones: the last coded frame is display frame 22 (23 repeats it)
        assert max(b for _, b in planned) == 22


def test_a_frozen_clip_codes_one_frame_and_shows_them_all():
    still = np.repeat(moving_texture(1, 64, 96), 10, axis=0)
    res = encode_video(Video(still, 25.0), compose(None, []))
    assert res.stats["coded_frames"] == 1 and res.stats["repeated_frames"] == list(range(1, 10))
    rec = decode_video(res.data, "warp").frames
    assert rec.shape == still.shape and all(np.array_equal(rec[0], f) for f in rec)
