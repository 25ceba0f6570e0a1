"""Inter-coded keyframes (``codec.keyframe_inter``, format 2): a keyframe may be an x265 P-frame of
the previous decoded keyframe when that is no worse by the RD distortion and smaller."""

from __future__ import annotations

import dataclasses
import logging
import struct

import numpy as np
import pytest
from _streams import RawStream
from test_rdo import SMALL, object_clip

from actdiff.codec import decode_segments, decode_video, encode_video
from actdiff.codec.bitstream import read_bitstream, write_bitstream
from actdiff.codec.distortion import Distortion
from actdiff.codec.keyframe_inter import INTER, KeyframeReader
from actdiff.config import compose
from actdiff.errors import BitstreamError, ConfigError
from actdiff.image_codecs import codec_from_params, hevc_inter
from actdiff.image_codecs.hevc_inter import decode_inter, encode_inter
from actdiff.types import Video

FIXED = ["codec.keyframes.name=fixed", "codec.keyframes.fixed_gop=8",
         "codec.send_detail_mix=false",  # the format versions below are those without detail-mix bytes
         "codec.repeat_psnr=null"]  # the clips below freeze: the default would send repeats (tests/test_repeats.py)


def cfg(*extra: str, inter: bool = True):
    return compose(None, [*FIXED, f"codec.keyframe_inter={str(inter).lower()}", *extra])


@pytest.fixture(scope="module")
def clip() -> Video:
    """A static background with a square that rests, then moves: keyframes share most content."""
    return object_clip(33, width=160)


@pytest.fixture(scope="module")
def streams(clip):
    return encode_video(clip, cfg(inter=False)), encode_video(clip, cfg())


def keyframes_of(result):
    return [(s.key_start, s.key_end) for s in result.debug["decoded_segments"]]


def test_p_frame_round_trip_any_size():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 255, (37, 51, 3), dtype=np.uint8)
    img = np.roll(ref, 3, axis=1)
    packet, decoded = encode_inter(ref, img, 30)
    assert decoded.shape == img.shape
    assert np.array_equal(decode_inter(ref, packet, 30), decoded)
    with pytest.raises(ConfigError, match="qp"):
        encode_inter(ref, img, 52)
    with pytest.raises(BitstreamError, match="inter keyframe"):
        decode_inter(ref, b"\x00\x00\x01\x02\x01garbage", 30)
    with pytest.raises(BitstreamError, match="start code"):
        decode_inter(ref, b"garbage", 30)
    intra_packet = hevc_inter._packets([ref[:36, :50]], 30)[0]     # parameter sets + an IDR slice
    with pytest.raises(BitstreamError, match="NAL unit of type 32"):
        decode_inter(ref, intra_packet, 30)


def test_keyframes_too_small_for_x265_go_intra():
    """libx265 opens no encoder below 16 px a side: such a pair is refused by our check (it was
    x265's ArgumentError), the chooser codes those keyframes intra, and a small clip at a low target
    rate (keyframes downscaled to 8 px) encodes and decodes (it was a traceback)."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least 16x16"):
        encode_inter(small, small, 30)
    encode_inter(np.resize(small, (16, 16, 3)), np.resize(small, (16, 16, 3)), 30)   # the smallest x265 takes
    from actdiff.codec.keyframe_inter import InterChooser, KeyframeGeometry

    chooser = InterChooser(KeyframeGeometry(48, 48, 4.0), Distortion())   # coded at 12x12
    key = chooser.choose(small, small, b"intra", small)
    assert key.qp is None
    frames = rng.integers(0, 255, (4, 64, 96, 3), dtype=np.uint8)
    from actdiff.codec.ratecontrol import encode_to_target

    result = encode_to_target(Video(frames=frames, fps=25.0), compose(None, []), 0.01)
    assert decode_video(result.data).frames.shape == frames.shape


def test_static_content_sends_later_keyframes_inter_in_fewer_bytes(clip, streams):
    off, on = streams
    assert off.data[3] == 1 and on.data[3] == 2
    assert read_bitstream(on.data).header.params["ki"] is True
    info = on.stats["keyframe_inter"]
    assert info["qps"][0] is None and info["inter"] >= 2 and info["bytes_saved"] > 0
    assert on.stats["bits"]["keyframes"] < 0.8 * off.stats["bits"]["keyframes"]
    assert on.stats["keyframes"] == off.stats["keyframes"]   # the choice never moves a keyframe
    d = Distortion()
    intra = {k: img for s, pair in zip(off.stats["segments"], keyframes_of(off)) for k, img in zip(s, pair)}
    inter = {k: img for s, pair in zip(on.stats["segments"], keyframes_of(on)) for k, img in zip(s, pair)}
    for k in on.stats["keyframes"]:   # each keyframe no worse than its intra coding
        ref = d.prepare(clip.frames[k])
        assert d.frame(ref, inter[k]) <= d.frame(ref, intra[k]) + 1e-9


def test_decoder_rebuilds_the_encoders_keyframes_and_decodes_deterministically(streams):
    _, on = streams
    _, segments = decode_segments(on.data)
    for seg, ref in zip(segments, on.debug["decoded_segments"]):
        assert np.array_equal(seg.key_start, ref.key_start) and np.array_equal(seg.key_end, ref.key_end)
    assert np.array_equal(decode_video(on.data).frames, decode_video(on.data).frames)


def test_no_gain_writes_the_format_1_stream_unchanged():
    """Unrelated keyframes (fresh noise at every one): no P-frame is smaller at the same distortion,
    and the stream is byte-identical to the one without the option."""
    rng = np.random.default_rng(1)
    frames = np.repeat(rng.integers(0, 255, (5, 64, 96, 3), dtype=np.uint8), [8, 8, 8, 8, 1], axis=0)
    video = Video(frames, 25.0)
    on, off = encode_video(video, cfg()), encode_video(video, cfg(inter=False))
    assert on.stats["keyframe_inter"]["inter"] == 0
    assert on.data == off.data and on.data[3] == 1


def test_scaled_keyframes_stay_closed_loop(clip):
    res = encode_video(clip, cfg("codec.keyframe_codec.scale=2"))
    assert res.stats["keyframe_inter"]["inter"] >= 1
    _, segments = decode_segments(res.data)
    for seg, ref in zip(segments, res.debug["decoded_segments"]):
        assert np.array_equal(seg.key_end, ref.key_end)


def test_rd_mode_inter_keyframes_cut_the_stream_and_stay_closed_loop(clip):
    base = ["codec.mode=rd", *SMALL, "codec.rd.lambda=2", "codec.rd.max_gop=8"]
    off = encode_video(clip, compose(None, [*base, "codec.keyframe_inter=false"]))
    on = encode_video(clip, compose(None, [*base, "codec.keyframe_inter=true"]))
    assert on.stats["keyframes"] == off.stats["keyframes"]          # the search's decisions stand
    assert on.stats["keyframe_inter"]["inter"] >= 1 and len(on.data) < len(off.data)
    _, segments = decode_segments(on.data)
    for seg, ref in zip(segments, on.debug["decoded_segments"]):
        assert np.array_equal(seg.key_end, ref.key_end)


# ----------------------------------------------------------------------------- the format
def test_version_and_header_flag_must_agree(streams):
    off, on = streams
    with pytest.raises(BitstreamError, match="format version 1 with params 'ki' = True"):
        read_bitstream(dataclasses.replace(RawStream.parse(on.data), version=1).to_bytes())
    with pytest.raises(BitstreamError, match="format version 2 with params 'ki' = None"):
        read_bitstream(dataclasses.replace(RawStream.parse(off.data), version=2).to_bytes())
    with pytest.raises(BitstreamError, match="format version 3 with params 'ki' = True, 'dm' = None"):
        read_bitstream(dataclasses.replace(RawStream.parse(on.data), version=3).to_bytes())
    bs = read_bitstream(on.data)
    bs.header.params["ki"] = False
    with pytest.raises(ConfigError, match="only as true"):
        write_bitstream(bs)


def test_malformed_inter_payloads_are_bitstream_errors():
    codec = codec_from_params({"name": "avif", "quality": 20})
    img = np.zeros((16, 16, 3), np.uint8)
    first = bytes([0]) + codec.encode(img)
    cases = [
        ([b""], "empty payload"),
        ([bytes([7]) + b"x"], "unknown mode 7"),
        ([struct.pack("<BBI", INTER, 30, 0) + b"x"], "first keyframe cannot be inter"),
        ([first, struct.pack("<BBI", INTER, 30, 0)], "truncated"),
        ([first, struct.pack("<BBI", INTER, 60, 0) + b"\x01x"], "qp 60 is out of range"),
        ([first, struct.pack("<BBI", INTER, 30, 0) + b"\x05x"], "packet length = 5 exceeds"),
        ([first, struct.pack("<BBI", INTER, 30, 0) + b"\x01xjunk"], "4 bytes after the inter packet"),
    ]
    for payloads, message in cases:
        reader = KeyframeReader(codec, 16, 16, tagged=True)
        with pytest.raises(BitstreamError, match=message):
            for p in payloads:
                reader.decode(p)


def test_a_reference_coded_differently_is_reported_not_silent(streams, monkeypatch, caplog):
    _, on = streams
    import actdiff.codec.keyframe_inter as ki

    monkeypatch.setattr(ki, "decode_inter", lambda ref, packet, qp: np.clip(
        decode_inter(ref, packet, qp).astype(int) + 1, 0, 255).astype(np.uint8))
    with caplog.at_level(logging.WARNING, logger="actdiff.codec.keyframe_inter"):
        decode_segments(on.data)
    assert "differs from the encoder's" in caplog.text


def test_bad_option_values_fail_before_any_work(clip):
    with pytest.raises(ConfigError, match="keyframe_inter"):
        encode_video(clip, compose(None, ["codec.keyframe_inter=maybe"]))
    with pytest.raises(ConfigError, match="codec.rd.distortion"):
        encode_video(clip, compose(None, ["codec.mode=rd", "+codec.rd.distortion.nonsense=1"]))


def test_info_marks_the_inter_keyframes(streams):
    from actdiff.codec.describe import describe_stream, format_description

    _, on = streams
    d = describe_stream(on.data)
    marks = [m for seg in d["segments"] for m in seg["keyframe_inter"]]
    assert marks == [q is not None for q in on.stats["keyframe_inter"]["qps"]]
    assert d["settings"]["keyframe_inter"] is True and "(P)" in format_description(d)


def test_qp_search_finds_the_last_passing_index_from_any_start():
    from actdiff.codec.keyframe_inter import last_true

    for n in (1, 2, 5, 42):
        for answer in [None, *range(n)]:
            calls: list = []

            def ok(i, answer=answer, calls=calls):
                calls.append(i)
                return answer is not None and i <= answer

            for start in range(n):
                calls.clear()
                assert last_true(ok, n, start) == answer, (n, answer, start)
                assert len(calls) <= 2 * max(1, n).bit_length() + 2


def test_descent_finds_the_minimum_of_a_unimodal_cost_from_any_start():
    from actdiff.codec.keyframe_inter import descend

    for n in (1, 2, 5, 42):
        for answer in range(n):
            for start in range(n):
                calls: list = []

                def cost(i, answer=answer, calls=calls):
                    calls.append(i)
                    return abs(i - answer) + 0.1 * (i > answer)

                assert descend(cost, n, start) == answer, (n, answer, start)
                assert len(set(calls)) <= 4 * max(1, n).bit_length() + 3


def test_rd_choice_takes_the_p_frame_of_least_rd_cost(clip):
    """``codec.rd.inter_rd``: the QP minimises w·D + λ·R (a local minimum over every QP), a lower λ
    buys a finer one, and the keyframe stays intra when even the best P-frame costs more."""
    from actdiff.codec.keyframe_inter import QPS, InterChooser, KeyframeGeometry, RDPrice

    dist = Distortion()
    prev, src = clip.frames[0], clip.frames[20]
    h, w = src.shape[:2]
    codec = codec_from_params({"name": "avif", "quality": 30})
    intra = codec.encode(src)
    intra_decoded = codec.decode(intra, h, w)
    chosen = {}
    for lam in (0.5, 20.0):
        price = RDPrice(2.0, lam, h * w)
        key = InterChooser(KeyframeGeometry(h, w, 1.0), dist).choose(prev, src, intra, intra_decoded, rd=price)
        assert key.qp is not None
        costs = {}
        for qp in QPS:
            packet, small = encode_inter(prev, src, qp)
            costs[qp] = price.cost(dist.frame(dist.prepare(src), small), len(packet) + 7)
        i = QPS.index(key.qp)
        assert all(costs[key.qp] <= costs[QPS[j]] + 1e-9 for j in (i - 1, i + 1) if 0 <= j < len(QPS))
        chosen[lam] = key.qp
    assert chosen[0.5] < chosen[20.0]
    # a tiny intra payload that no P-frame can beat in cost: intra stays
    price = RDPrice(0.0, 1e6, h * w)
    key = InterChooser(KeyframeGeometry(h, w, 1.0), dist).choose(prev, src, b"x", intra_decoded, rd=price)
    assert key.qp is None


def test_rd_mode_inter_rd_keeps_the_decisions_and_stays_closed_loop(clip):
    base = ["codec.mode=rd", *SMALL, "codec.rd.lambda=2", "codec.rd.max_gop=8"]
    off = encode_video(clip, compose(None, [*base, "codec.rd.inter_rd=false"]))
    on = encode_video(clip, compose(None, base))  # the default
    assert on.stats["keyframes"] == off.stats["keyframes"]
    assert on.stats["keyframe_inter"]["qps"] != off.stats["keyframe_inter"]["qps"]
    _, segments = decode_segments(on.data)
    for seg, ref in zip(segments, on.debug["decoded_segments"]):
        assert np.array_equal(seg.key_end, ref.key_end)
    with pytest.raises(ConfigError, match="codec.rd.inter_rd"):
        encode_video(clip, compose(None, [*base, "codec.rd.inter_rd=maybe"]))
