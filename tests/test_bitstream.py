"""The .adv container (actdiff.codec.bitstream): round trip, bit accounting, every error message."""

from __future__ import annotations

import struct
import zlib

import pytest

from actdiff.codec.bitstream import MAGIC, VERSION, bit_split, read_bitstream, write_bitstream
from actdiff.entropy.varint import write_varint
from actdiff.errors import BitstreamError, ConfigError
from actdiff.types import Bitstream, Segment, SegmentSection, StreamHeader


def make_bitstream(num_frames: int = 20) -> Bitstream:
    header = StreamHeader(height=270, width=480, coded_height=272, coded_width=480,
                          num_frames=num_frames, fps=29.97, seed=1234,
                          params={"kc": "avif", "kq": 30, "step": 0.5, "d": -7,
                                  "big": 3.141592653589793, "on": True, "off": False, "x": None,
                                  "s": "héllo"})
    mid = num_frames // 2
    sections = [
        SegmentSection(Segment(0, mid), [b"K0" * 40, b"K1" * 30], b"T" * 25, bandwidth=16.0),
        SegmentSection(Segment(mid, num_frames - 1), [b"K2" * 50], b"", bandwidth=5.0),
    ]
    return Bitstream(header, sections)


def test_round_trip_and_bit_split():
    bs = make_bitstream()
    data = write_bitstream(bs)
    back = read_bitstream(data)
    assert back.header.params == bs.header.params
    assert type(back.header.params["kq"]) is int
    assert back.header.fps == pytest.approx(29.97, abs=0) and back.header.seed == 1234
    for f in ("height", "width", "coded_height", "coded_width", "num_frames"):
        assert getattr(back.header, f) == getattr(bs.header, f)
    assert [s.segment for s in back.sections] == [s.segment for s in bs.sections]
    assert [s.keyframes for s in back.sections] == [s.keyframes for s in bs.sections]
    assert [s.trajectories for s in back.sections] == [s.trajectories for s in bs.sections]
    assert back.sections[0].bandwidth == 16.0
    assert back.sections[1].bandwidth == pytest.approx(5.0, rel=0.012)
    assert write_bitstream(back) == data
    split = bit_split(data)
    assert sum(split.values()) == 8 * len(data)
    assert split["keyframes"] == 8 * (80 + 60 + 100) and split["trajectories"] == 8 * 25
    print(f"container overhead: {split['header'] // 8} bytes for 2 segments, 9 params")
    # 4 magic+version, 14 header varints, 54 params, 4 CRC; sections 9 + 8 bytes
    assert split["header"] // 8 == 4 + 14 + 1 + 54 + 4 + 9 + 8


def test_single_frame_video():
    bs = Bitstream(StreamHeader(32, 32, 32, 32, 1, 25.0), [SegmentSection(Segment(0, 0),
                                                                          [b"k"], b"")])
    back = read_bitstream(write_bitstream(bs))
    assert back.sections[0].segment == Segment(0, 0) and back.sections[0].keyframes == [b"k"]
    assert back.header.fps == 25.0


def test_writer_rejects_inconsistent_input():
    bs = make_bitstream()
    bs.sections[1] = SegmentSection(Segment(11, 19), [b"x"], b"")
    with pytest.raises(ValueError, match="must start at 10"):
        write_bitstream(bs)
    bs = make_bitstream()
    bs.sections[1].keyframes.append(b"extra")
    with pytest.raises(ValueError, match="2 keyframes, expected 1"):
        write_bitstream(bs)
    bs = make_bitstream()
    bs.header.num_frames = 30
    with pytest.raises(ValueError, match="end at frame 19"):
        write_bitstream(bs)
    bs = make_bitstream()
    bs.header.params["k" * 32] = 1
    with pytest.raises(ConfigError, match="key"):
        write_bitstream(bs)
    bs = make_bitstream()
    bs.header.params["l"] = [1]
    with pytest.raises(ConfigError, match="unsupported type list"):
        write_bitstream(bs)
    bs = make_bitstream()
    bs.header.coded_height = 100
    with pytest.raises(ConfigError, match="coded_height"):
        write_bitstream(bs)


def _header(h=270, w=480, ch=272, cw=480, frames=20, num=2997, den=100, seed=0, params=b"\x00",
            version=VERSION, crc=True):
    body = MAGIC + bytes([version]) + b"".join(
        write_varint(v) for v in (h, w, ch, cw, frames, num, den, seed)) + params
    return body + (struct.pack("<I", zlib.crc32(body)) if crc else b"\x00\x00\x00\x00")


def _section(span, kfs, traj=b"", code=128, crc=True):
    body = write_varint(span) + bytes([code]) + b"".join(
        write_varint(len(k)) + k for k in kfs) + write_varint(len(traj)) + traj
    return body + (struct.pack("<I", zlib.crc32(body)) if crc else b"\xde\xad\xbe\xef")


@pytest.mark.parametrize("data,message", [
    (b"", "bad magic: not an ActDiff file"),
    (b"RIFF....WEBPVP8 ", "bad magic: not an ActDiff file"),
    (MAGIC + b"\x07" + b"\x00" * 20, "unsupported ActDiff format version 7"),
    (_header()[:15], "truncated file: fps denominator \\(varint\\) runs past the end"),
    (_header(h=20000), "height = 20000 exceeds the limit 16384"),
    (_header(frames=2_000_000), "frame count = 2000000 exceeds the limit 1000000"),
    (_header(params=b"\x41"), "param count = 65 exceeds the limit 64"),
    (_header(params=b"\x01\x83ab")[:-4], "truncated file: param 0 key needs 3 bytes, 2 left"),
    (_header(params=b"\x01\x83a\x00b"), "corrupt header: param 0 has an invalid key"),
    (_header(params=b"\x02\x01a\x05\x01a\x06"), "param 'a' appears twice"),
    (_header(params=b"\x01\x81a\x7f"), "param 'a' length = 127 exceeds the limit 255|truncated"),
    (_header(crc=False), "CRC mismatch in header"),
    (_header(h=0), "corrupt header: size 480x0"),
    (_header(ch=100), "corrupt header: size 480x270 \\(coded 480x100\\)"),
    (_header(), "truncated file: no segment after the header"),
    (_header() + _section(10, [b"ab", b"cd"])[:6], ("truncated file: segment 0 keyframe 1 "
                                                    "payload needs 2 bytes, 0 left")),
    (_header() + b"\x0a\x80" + write_varint(1532) + b"x" * 210,
     "truncated file: segment 0 keyframe 0 payload needs 1532 bytes, 210 left"),
    (_header() + _section(30, [b"a", b"b"]), "segment 0 length = 30 exceeds the limit 19"),
    (_header() + _section(10, [b"a", b"b"], crc=False), "CRC mismatch in segment 0"),
    (_header() + _section(10, [b"a", b"b"]) + _section(9, [b"c"], crc=False),
     "CRC mismatch in segment 1"),
    (_header() + _section(10, [b"a", b"b"]), "segments end at frame 10, the video has 20 frames"),
    (_header() + _section(10, [b"a", b"b"]) + _section(0, [b"c"]), "segment 1 is empty"),
    (_header() + _section(10, [b"a", b"b"]) + _section(9, [b"c"]) + b"\x00",
     "segment 2 length = 0 exceeds the limit -1|segment 2"),
])
def test_error_messages(data, message):
    with pytest.raises(BitstreamError, match=message):
        read_bitstream(data)


def test_hand_built_file_parses():
    data = _header() + _section(10, [b"a", b"b"], b"tt") + _section(9, [b"c"])
    bs = read_bitstream(data)
    assert bs.header.fps == 29.97 and [s.segment.end for s in bs.sections] == [10, 19]
    assert bs.sections[0].trajectories == b"tt" and bs.sections[0].bandwidth == 16.0
    assert bit_split(data) == {"header": 8 * (len(data) - 5), "keyframes": 24,
                               "trajectories": 16}


def test_non_bytes_input():
    with pytest.raises(BitstreamError, match="must be bytes"):
        read_bitstream("ADV1")


@pytest.mark.parametrize("fps", [29.573075930691825, 999_999.5, 1e-6 * 1.7, 30000 / 1001, 12.5])
def test_measured_frame_rates_are_written_as_the_closest_small_fraction(fps):
    """A container's measured average rate (seen in a real clip: 29.573075930691825) has no exact
    fraction with terms <= 10^6; it is stored as the closest one that has, instead of failing."""
    bs = Bitstream(StreamHeader(32, 32, 32, 32, 1, fps), [SegmentSection(Segment(0, 0), [b"k"], b"")])
    back = read_bitstream(write_bitstream(bs)).header.fps
    assert back == pytest.approx(fps, rel=1e-6)
    if fps in (30000 / 1001, 12.5):
        assert back == fps  # exact small fractions stay exact
