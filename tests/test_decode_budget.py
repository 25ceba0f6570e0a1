"""The decode budget: a stream declaring more than it can carry, or more than the user allows, is a
one-line error before anything is allocated; within the budget decoding takes memory in proportion
to its output. (Bounds are on memory, which tracemalloc measures exactly; decoding speed is a
benchmark's business, not a test's.)"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from _cli import one_error_line
from _streams import RawSection, RawStream
from conftest import moving_texture

from actdiff.codec import decode_segments, decode_video, encode_video
from actdiff.codec import decoder as decoder_mod
from actdiff.commands import decode
from actdiff.entropy import encode_tracks
from actdiff.errors import BitstreamError
from actdiff.image_codecs import codec_from_params
from actdiff.types import Tracks, Video

PARAMS = [("kc", "avif"), ("kq", 0), ("ks", 6), ("tc", "adaptive"), ("qs", 0.5), ("ts", 1)]



def _bounded(fn, megabytes: float = 64.0):
    """Run ``fn``; assert it allocated under ``megabytes`` at peak (Python and numpy allocations)."""
    tracemalloc.start()
    try:
        return fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert peak < megabytes, f"{peak:.0f} MB at peak"


def _flat_key(side: int) -> bytes:
    return codec_from_params({"name": "avif", "quality": 0}).encode(np.full((side, side, 3), 90, np.uint8))


def test_frame_bomb_is_refused_at_once(capsys, tmp_path):
    """~150 bytes declaring 100,000 frames of 16x16 in one segment (decoded for 46 s before)."""
    key = _flat_key(16)
    raw = RawStream(16, 16, 16, 16, 100_000, params=PARAMS,
                    sections=[RawSection(99_999, 128, [key, key], b"\x00")])
    data = raw.to_bytes()
    assert len(data) < 400
    with pytest.raises(BitstreamError, match="segment 0 length"):
        _bounded(lambda: decode_video(data))
    bomb = tmp_path / "bomb.adv"
    bomb.write_bytes(data)
    assert decode.main([str(bomb), "-o", str(tmp_path / "o.y4m")]) == 2
    one_error_line(capsys)
    assert not (tmp_path / "o.y4m").exists()


def test_pixel_bomb_is_refused_before_allocation(capsys, tmp_path, monkeypatch):
    """A few KB declaring 16384x16384 frames with 16x downscaled keyframes (a bare MemoryError
    after 2.7 GB before): refused by the budget, in milliseconds and a few MB."""
    monkeypatch.setattr("actdiff.io.memory.available_memory", lambda: 24e9)  # this machine's, on any machine
    key = _flat_key(1024)
    params = PARAMS[:3] + [("kr", 16.0)] + PARAMS[3:]
    raw = RawStream(16384, 16384, 16384, 16384, 1 + 3 * 8, params=params,
                    sections=[RawSection(8, 128, [key, key] if i == 0 else [key], b"\x00") for i in range(3)])
    data = raw.to_bytes()
    assert len(data) < 8000
    with pytest.raises(BitstreamError, match="pixels"):
        _bounded(lambda: decode_segments(data))
    bomb = tmp_path / "bomb.adv"
    bomb.write_bytes(data)
    assert decode.main([str(bomb), "-o", str(tmp_path / "o.y4m")]) == 2
    assert "--max-pixels" in one_error_line(capsys)


@pytest.fixture(scope="module")
def small_stream():
    return encode_video(Video(moving_texture(5, 32, 48), 25.0), _cfg()).data


def _cfg():
    from actdiff.config import compose

    return compose(None, [])


def test_user_limit(small_stream, tmp_path, capsys):
    adv = tmp_path / "s.adv"
    adv.write_bytes(small_stream)
    pixels = decoder_mod.decoded_pixels(decoder_mod.check_stream(small_stream).header, 2)
    assert decode.main([str(adv), "-o", str(tmp_path / "a.y4m"), "--max-pixels", str(pixels - 1)]) == 2
    assert f"{pixels - 1:,}" in one_error_line(capsys)
    assert decode.main([str(adv), "-o", str(tmp_path / "b.y4m"), "--max-pixels", str(pixels)]) == 0
    with pytest.raises(SystemExit) as e:  # argparse's usage error: one line, code 2
        decode.main([str(adv), "-o", str(tmp_path / "c.y4m"), "--max-pixels", "abc"])
    assert e.value.code == 2 and "--max-pixels" in one_error_line(capsys)


def test_the_default_budget_is_what_fits_in_the_memory_available(monkeypatch):
    """A 600-frame 1080p sequence (UVG at its native size: 1.28 billion pixels with its keyframes)
    was refused by a fixed 2**30 limit; it decodes where it fits in memory, is refused where not."""
    from actdiff.types import StreamHeader

    header = StreamHeader(height=1080, width=1920, coded_height=1088, coded_width=1920, num_frames=600, fps=25.0,
                          seed=0, params={})
    pixels = decoder_mod.decoded_pixels(header, 14)
    assert pixels == 614 * 1088 * 1920
    monkeypatch.setattr("actdiff.io.memory.available_memory", lambda: 24e9)
    decoder_mod.check_budget(header, 14, 200_000)   # 80 % of 24 GB at 6 bytes a pixel: 3.2 billion
    monkeypatch.setattr("actdiff.io.memory.available_memory", lambda: 8e9)
    with pytest.raises(BitstreamError, match=r"fit in 80% of the 8.0 GB of memory available \(--max-pixels"):
        decoder_mod.check_budget(header, 14, 200_000)
    decoder_mod.check_budget(header, 14, 200_000, max_pixels=pixels)  # the user's limit wins
    monkeypatch.setattr("actdiff.io.memory.available_memory", lambda: None)
    with pytest.raises(BitstreamError, match=f"more than the {decoder_mod.DEFAULT_MAX_PIXELS:,} pixels allowed"):
        decoder_mod.check_budget(header, 14, 200_000)


def test_implausible_for_its_size_unless_the_user_says_so(small_stream, monkeypatch):
    monkeypatch.setattr(decoder_mod, "MAX_PIXELS_PER_BYTE", 10)
    with pytest.raises(BitstreamError, match="implausible"):
        decode_video(small_stream)
    assert decode_video(small_stream, max_pixels=10**9).frames.shape == (5, 32, 48, 3)


def test_most_frames_a_tiny_stream_can_declare_decode_in_bounded_memory():
    """Within the format's limits (1024 frames a segment) a ~100-byte stream per 1023 frames:
    decoded within a few times the memory of its own frames (2047 x 16 x 16 x 3 bytes, 1.5 MB)."""
    key = _flat_key(16)
    empty = encode_tracks(Tracks.empty(1023), 0.5, 16, 16)
    raw = RawStream(16, 16, 16, 16, 1 + 2 * 1023, params=PARAMS,
                    sections=[RawSection(1023, 128, [key, key] if i == 0 else [key], empty) for i in range(2)])
    data = raw.to_bytes()
    video = _bounded(lambda: decode_video(data), megabytes=16.0)
    assert video.frames.shape == (2047, 16, 16, 3)
