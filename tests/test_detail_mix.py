"""The encoder's per-segment ``detail_mix`` (actdiff.codec.detail_mix): the choice, the format-3
stream that carries it, and its agreement with the diffusion decoder's base."""

from __future__ import annotations

import numpy as np
import pytest

from actdiff.codec import decode_segments, encode_video
from actdiff.codec.bitstream import MIX_KEY, NO_MIX, read_bitstream, write_bitstream
from actdiff.codec.describe import describe_stream, format_description
from actdiff.codec.detail_mix import CHOICES, best_mix, choose_mixes, frame_terms
from actdiff.conditioning.conditions import build_conditions, to_signed, warp_blend_from_conditions
from actdiff.errors import BitstreamError
from actdiff.motion.prediction import coarse_band, predict_frame
from actdiff.training.synthetic import moving_square, segment_from_frames
from actdiff.types import Bitstream, Segment, SegmentSection, StreamHeader, Video


def _stream(mixes, params=None) -> Bitstream:
    header = StreamHeader(64, 96, 64, 96, 21, 25.0, params={"kc": "png", "tc": "adaptive", "qs": 0.5,
                                                          **(params or {})})
    return Bitstream(header, [SegmentSection(Segment(0, 10), [b"a", b"b"], b"t", 8.0, mixes[0]),
                              SegmentSection(Segment(10, 20), [b"c"], b"u", 8.0, mixes[1])])


def test_format_3_carries_one_mix_per_segment():
    data = write_bitstream(_stream([0.75, None], {MIX_KEY: True}))
    assert data[3] == 3
    back = read_bitstream(data)
    assert [s.detail_mix for s in back.sections] == [0.75, None]
    assert len(data) == len(write_bitstream(_stream([None, None]))) + 2 + 3  # a byte per section + the param
    plain = read_bitstream(write_bitstream(_stream([None, None])))
    assert [s.detail_mix for s in plain.sections] == [None, None]


def test_format_3_errors():
    with pytest.raises(ValueError, match="no 'dm' param"):
        write_bitstream(_stream([0.5, None]))
    data = bytearray(write_bitstream(_stream([0.5, None], {MIX_KEY: True})))
    at = data.index(bytes([50]), 40)  # the first section's mix byte (its CRC then fails too)
    data[at] = 150
    with pytest.raises(BitstreamError, match="detail-mix code 150"):
        read_bitstream(bytes(data))
    with pytest.raises(ValueError, match="not in"):
        write_bitstream(_stream([1.5, None], {MIX_KEY: True}))
    assert NO_MIX == 255
    import dataclasses

    from _streams import RawStream
    raw = RawStream.parse(write_bitstream(_stream([0.5, None], {MIX_KEY: True})))
    with pytest.raises(BitstreamError, match="format version 1 with params 'ki' = None, 'dm' = True"):
        read_bitstream(dataclasses.replace(raw, version=1).to_bytes())


def test_the_choice_is_the_best_mean_coarse_psnr():
    rng = np.random.default_rng(0)
    low = [rng.normal(size=(4, 6, 3)) * 10 for _ in range(3)]
    assert best_mix([(-b, b) for b in low]) == 1.0       # the blend's coarse band is right
    assert best_mix([(0 * b, b) for b in low]) == 0.0     # the fused frame is right
    assert best_mix([(-0.5 * b, b) for b in low]) == 0.5
    assert best_mix([]) is None
    assert set(CHOICES) >= {0.0, 0.5, 1.0}


def test_the_encoder_scores_the_decoders_base():
    """The base the encoder scores (``prediction + β·G(blend − prediction)``) is the one the
    diffusion decoder builds from its conditions, to within float rounding."""
    frames, _ = moving_square(9, 64, 96, side=20)
    seg = segment_from_frames(frames, 0, 8, num_points=20)
    for t in (2, 4, 6):
        err, low = frame_terms(seg, t, frames[t], 64, 96)
        blend = (warp_blend_from_conditions(build_conditions(seg, t)).transpose(1, 2, 0) + 1.0) * 127.5
        pred = (to_signed(predict_frame(seg, t)).transpose(1, 2, 0) + 1.0) * 127.5
        for beta in (0.25, 1.0):
            base = pred + beta * coarse_band(blend - pred)
            down = (base - frames[t]).reshape(8, 8, 12, 8, 3).mean(axis=(1, 3))
            np.testing.assert_allclose(err + beta * low, down, atol=0.05)


def test_the_encoder_sends_a_mix_per_segment_and_the_decoder_reads_it(codec_cfg):
    frames, _ = moving_square(17, 64, 96, side=20)
    video = Video(frames, 25.0, "square")
    cfg = codec_cfg.copy()
    cfg.codec.send_detail_mix = True
    cfg.codec.keyframes.max_gop = 8
    res = encode_video(video, cfg)
    header, segs = decode_segments(res.data, trusted=True)
    assert header.params[MIX_KEY] is True and res.data[3] == 3
    sent = [s.detail_mix for s in segs]
    assert sent == res.stats["detail_mix"] == [s.detail_mix for s in res.debug["decoded_segments"]]
    assert all((m is None) == (s.segment.length <= 2) for m, s in zip(sent, segs))
    assert all(m in CHOICES for m in sent if m is not None) and any(m is not None for m in sent)
    # the threads do not change it
    assert sent == choose_mixes(np.asarray(frames), segs, 64, 96, threads=2, stride=4, min_frames=3)
    text = format_description(describe_stream(res.data))
    assert "detail mix" in text and "format 3" in text
    cfg.codec.send_detail_mix = False
    plain = encode_video(video, cfg)
    assert MIX_KEY not in read_bitstream(plain.data).header.params and "detail_mix" not in plain.stats
    assert len(res.data) - len(plain.data) == len(segs) + 3  # one byte per segment and the param


def test_training_records_keep_the_sent_mix(tmp_path):
    """The training cache stores each segment's sent ``detail_mix`` (``None`` stays ``None``), so
    decoding a cached window sees what decoding the stream would."""
    import dataclasses

    from actdiff.training.window_cache import load_record, save_record

    frames, _ = moving_square(9, 64, 96, side=20)
    segs = [dataclasses.replace(segment_from_frames(frames, 0, 4), detail_mix=0.75), segment_from_frames(frames, 4, 8)]
    header = StreamHeader(64, 96, 64, 96, 9, 25.0)
    save_record(tmp_path, "r", frames, header, segs, {"name": "r"}, b"")
    assert [s.detail_mix for s in load_record(tmp_path, "r").segments] == [0.75, None]


def test_the_fusions_plain_warps_are_warp_keyframes():
    """The encoder takes the plain blend's warps from the fusion (computed once): they are exactly
    :func:`warp_keyframes`' (the conditions' ``w0``/``w1``, the blend the diffusion decoder's base is
    built on), with and without keyflow, and with the edge-aware field, which the fusion samples
    along but the plain blend does not (until 2026-12-05 the encoder scored ``β`` on the edge-aware
    warps: a blend the decoder never builds)."""
    from test_no_crossfade import moving_square as square_on_texture

    from actdiff.motion.fusion import FusionParams, fuse_frame
    from actdiff.motion.prediction import warp_keyframes

    frames, _ = moving_square(9, 64, 96, side=20)
    rigid = segment_from_frames(frames, 0, 8, num_points=20)
    moving, _, _ = square_on_texture()  # an object moving on a still background: the edge-aware map differs
    for seg in (rigid, moving):
        for params in (None, FusionParams(keyflow=False), FusionParams(edge_sigma_r=0)):
            _, d = fuse_frame(seg, 3, params, plain=True)
            w0, c0, w1, c1 = warp_keyframes(seg, 3, float(seg.bandwidth))
            for got, want in ((d["plain0"], w0), (d["plain1"], w1), (d["c0"], c0), (d["c1"], c1)):
                np.testing.assert_array_equal(got, want)
    assert not np.array_equal(fuse_frame(moving, 3, FusionParams(keyflow=False), plain=True)[1]["w0"],
                              warp_keyframes(moving, 3, float(moving.bandwidth))[0])
    assert "plain0" not in fuse_frame(rigid, 3)[1]


def test_scored_frames_spread_every_strideth_in_between_frame():
    from actdiff.codec.detail_mix import scored_frames

    assert scored_frames(2, 3) == [] and scored_frames(3, 4) == [1]
    assert scored_frames(12, 1) == list(range(1, 11))
    assert scored_frames(12, 3) == [1, 4, 7, 10] and scored_frames(25, 4) == [2, 6, 10, 14, 18, 22]
    assert scored_frames(6, 4, 3) == [1, 2, 3, 4] and scored_frames(12, 4, 3) == [1, 4, 7, 10]
    assert scored_frames(25, 4, 3) == scored_frames(25, 4)
    with pytest.raises(ValueError, match="stride"):
        scored_frames(12, 0)


def test_a_strided_choice_scores_only_its_frames(monkeypatch):
    import actdiff.codec.detail_mix as dm

    frames, _ = moving_square(13, 64, 96, side=20)
    seg = segment_from_frames(frames, 0, 12, num_points=20)
    seen = []
    terms = dm.frame_terms
    monkeypatch.setattr(dm, "frame_terms", lambda s, t, *a: seen.append(t) or terms(s, t, *a))
    mix = dm.choose_mixes(np.asarray(frames), [seg], 64, 96, stride=3)
    assert seen == [1, 4, 7, 10]
    assert mix == [best_mix([terms(seg, t, frames[t], 64, 96) for t in seen])]


def _mix_video():
    frames, _ = moving_square(17, 64, 96, side=20)
    return Video(frames, 25.0, "square")


def test_the_choice_made_later_writes_the_same_stream(codec_cfg):
    """Trial encodes skip the choice (``choose_mix=False``: "no choice" bytes, the same size);
    :func:`add_detail_mix` on the kept one gives the bytes of an encode that chose at once."""
    from actdiff.codec.encoding import add_detail_mix

    video, cfg = _mix_video(), codec_cfg.copy()
    cfg.codec.keyframes.max_gop = 8
    direct = encode_video(video, cfg)
    trial = encode_video(video, cfg, choose_mix=False)
    assert len(trial.data) == len(direct.data) and trial.data != direct.data
    assert [s.detail_mix for s in read_bitstream(trial.data).sections] == [None] * len(direct.stats["detail_mix"])
    later = add_detail_mix(trial, video.frames, cfg.codec)
    assert later.data == direct.data and later.stats["detail_mix"] == direct.stats["detail_mix"]
    seconds = later.stats["detail_mix_seconds"]  # the choice's cost joins the encode time
    assert seconds > 0 and later.stats["encode_seconds"] == pytest.approx(trial.stats["encode_seconds"] + seconds)
    assert later.stats["encode_fps"] == pytest.approx(later.stats["frames"] / later.stats["encode_seconds"])


@pytest.mark.parametrize("mode", ["fast", "rd"])
def test_rate_control_chooses_the_mix_once_on_the_stream_it_keeps(codec_cfg, monkeypatch, mode):
    import actdiff.codec.encoding as encoding
    from actdiff.codec.ratecontrol import encode_to_target

    calls = []
    choose = encoding.choose_mixes
    monkeypatch.setattr(encoding, "choose_mixes", lambda *a, **k: calls.append(k) or choose(*a, **k))
    video, cfg = _mix_video(), codec_cfg.copy()
    cfg.codec.mode = mode
    res = encode_to_target(video, cfg, 0.05)
    assert res.stats["rate_control"]["iterations"] >= 2 and len(calls) == 1
    assert (calls[0]["stride"], calls[0]["min_frames"]) == (4, 3) == (cfg.codec.detail_mix_stride,
                                                                    cfg.codec.detail_mix_min_frames)
    _, segs = decode_segments(res.data, trusted=True)
    sent = [s.detail_mix for s in segs]
    assert sent == res.stats["detail_mix"] == choose(np.asarray(video.frames), segs, 64, 96, stride=4, min_frames=3)
    assert any(m is not None for m in sent)
