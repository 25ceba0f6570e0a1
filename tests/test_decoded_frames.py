"""Frames decoded one segment at a time (``decoded_frames``), and ``actdiff decode`` writing them as
they come: the same frames as ``decode_video``, never the whole clip in memory at once."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import moving_texture

from actdiff.codec import decode_segments, decode_video, decoded_frames, encode_video
from actdiff.codec.repeats import show_repeats
from actdiff.commands import decode
from actdiff.config import compose
from actdiff.decoders import build_decoder
from actdiff.io import FrameStream, read_video, write_video
from actdiff.types import Video


@pytest.fixture(scope="module")
def stream() -> bytes:
    """An odd-sized clip (cropped from the coded size) with repeated frames and several segments."""
    f = moving_texture(30, 45, 61)
    f = np.concatenate([f[:3], f[2:3], f[3:8], f[7:8], f[7:8], f[8:]])
    enc = encode_video(Video(f, 25.0), compose(None, ["codec.repeat_psnr=50", "codec.keyframes.name=fixed",
                                                      "codec.keyframes.fixed_gop=8"]))
    assert enc.stats["repeated_frames"] == [3, 9, 10] and len(enc.stats["segments"]) > 2
    return enc.data


class Counting:
    """A decoder that counts the segments it decoded."""

    def __init__(self) -> None:
        self.inner, self.calls = build_decoder("warp"), 0

    def decode_segment(self, header, seg):
        self.calls += 1
        return self.inner.decode_segment(header, seg)


def whole_clip(stream: bytes, name: str) -> np.ndarray:
    """The frames as decoded before: every segment into a coded-size clip (a later segment writing
    its shared keyframe over the earlier one's), cropped, the repeats shown."""
    header, segs = decode_segments(stream)
    dec = build_decoder(name)
    out = np.empty((header.num_frames, header.coded_height, header.coded_width, 3), np.uint8)
    for s in segs:
        out[s.segment.start: s.segment.end + 1] = dec.decode_segment(header, s)
    return show_repeats(out[:, : header.height, : header.width], header.repeated)


@pytest.mark.parametrize("name", ["warp", "diffusion"])
def test_the_frames_are_the_whole_clips(stream, name):
    header, frames = decoded_frames(stream, name)
    got = np.stack(list(frames))
    np.testing.assert_array_equal(got, whole_clip(stream, name))
    np.testing.assert_array_equal(got, decode_video(stream, name).frames)
    assert got.shape == (header.shown_frames, 45, 61, 3)


def test_each_segment_is_decoded_when_its_frames_are_asked_for(stream):
    dec = Counting()
    _, frames = decoded_frames(stream, dec)
    assert dec.calls == 0
    next(frames)
    assert dec.calls == 1
    list(frames)
    assert dec.calls == len(decode_segments(stream)[1]) > 2


def test_decode_writes_the_same_frames(stream, tmp_path):
    adv = tmp_path / "s.adv"
    adv.write_bytes(stream)
    assert decode.main([str(adv), "-o", str(tmp_path / "o.mkv")]) == 0
    np.testing.assert_array_equal(read_video(tmp_path / "o.mkv", min_size=16).frames, decode_video(stream).frames)


def test_a_stream_of_frames_not_as_declared_leaves_no_output(tmp_path):
    frames = moving_texture(3, 32, 48)
    with pytest.raises(ValueError, match="2 frames came, 3 were declared"):
        write_video(tmp_path / "a.mkv", FrameStream(iter(frames[:2]), (3, 32, 48, 3)), 25.0)
    with pytest.raises(ValueError, match=r"frame 1 is uint8 \(32, 40, 3\)"):
        write_video(tmp_path / "b.y4m", FrameStream(iter([frames[0], frames[1, :, :40]]), (2, 32, 48, 3)), 25.0)
    assert list(tmp_path.iterdir()) == []
