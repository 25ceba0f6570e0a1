"""Fuzzing the .adv parser and the payload decoders: garbage in → BitstreamError, never worse.

Valid files are built with real AVIF/PNG keyframes and real coded trajectories, then mutated
(bit flips, byte overwrites, insertions, deletions, truncations). Two levels:

* container: mutated files go to ``read_bitstream`` (and, when that accepts them, every
  section's keyframes and trajectories are decoded);
* payload: a keyframe or trajectory payload is mutated and the section CRC recomputed, so the
  container is valid and the image/trajectory decoders themselves see the garbage.

Each case runs under a 5 s alarm, so a hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import signal
import struct
import time
import zlib
from contextlib import contextmanager

import numpy as np
import pytest

from actdiff.codec.bitstream import _write_header, read_bitstream, write_bitstream
from actdiff.entropy import decode_tracks, encode_tracks
from actdiff.errors import BitstreamError
from actdiff.image_codecs import codec_from_params
from actdiff.registry import IMAGE_CODECS
from actdiff.types import Bitstream, Segment, SegmentSection, StreamHeader, Tracks

H, W = 32, 48


def _frame(seed: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.stack([x * 5 + seed * 20, y * 7, (x + y) * 3 + seed], -1)
    return (img % 256).astype(np.uint8)


def _tracks(seed: int, t: int) -> Tracks:
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(0, [W - 1, H - 1], (12, 2))
    pos = p0 + np.cumsum(rng.normal(0.3, 0.6, (t, 12, 2)), axis=0) * (np.arange(t) > 0)[:, None, None]
    vis = rng.random((t, 12)) > 0.15
    return Tracks(pos.astype(np.float32), vis, vis.astype(np.float32))


def build_file(codec_name: str, seed: int) -> bytes:
    codec = IMAGE_CODECS.build(codec_name, quality=40)
    params = dict(codec.header_params(), ts=0.5)
    header = StreamHeader(H, W, H, W, num_frames=17, fps=25.0, seed=seed, params=params)
    spans = [(0, 6), (6, 12), (12, 16)]
    sections = []
    for i, (a, b) in enumerate(spans):
        keys = [a, b] if i == 0 else [b]
        sections.append(SegmentSection(
            Segment(a, b), [codec.encode(_frame(k + seed)) for k in keys],
            encode_tracks(_tracks(seed * 10 + i, b - a + 1), 0.5, H, W), bandwidth=8.0 + i))
    return write_bitstream(Bitstream(header, sections))


def decode_all(data: bytes) -> None:
    """Everything a decoder would do with the file, short of synthesising frames."""
    bs = read_bitstream(data)
    h = bs.header
    codec = codec_from_params(h.params)
    for sec in bs.sections:
        for kf in sec.keyframes:
            img = codec.decode(kf, h.coded_height, h.coded_width)
            assert img.shape == (h.coded_height, h.coded_width, 3)
        tr = decode_tracks(sec.trajectories, sec.segment.length, h.params.get("ts"),
                           h.coded_height, h.coded_width)
        assert tr.num_frames == sec.segment.length


@contextmanager
def alarm(seconds: int):
    def boom(*_):
        raise TimeoutError(f"case took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    arr = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 5))
        pos = int(rng.integers(0, max(len(arr), 1)))
        if kind == 0 and arr:
            arr[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1 and arr:
            arr[pos] = int(rng.integers(0, 256))
        elif kind == 2:
            arr[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        elif kind == 3 and arr:
            del arr[pos:pos + int(rng.integers(1, 9))]
        else:
            del arr[pos:]
    return bytes(arr)


def run_case(data: bytes) -> str:
    with alarm(5):
        try:
            decode_all(data)
        except BitstreamError:
            return "rejected"
    return "accepted"


@pytest.fixture(scope="module")
def files():
    return {name: build_file(name, i) for i, name in enumerate(("avif", "png"))}


def test_valid_files_decode(files):
    for data in files.values():
        decode_all(data)
        assert run_case(data) == "accepted"


def test_fuzz_container(files):
    rng = np.random.default_rng(20261124)
    counts = {"accepted": 0, "rejected": 0}
    t0 = time.perf_counter()
    for i in range(3000):
        data = files["avif" if i % 2 else "png"]
        counts[run_case(mutate(data, rng))] += 1
    for data in files.values():                       # every truncation point
        for n in range(len(data)):
            assert run_case(data[:n]) == "rejected"
    print(f"container fuzz: {counts}, {time.perf_counter() - t0:.1f} s")
    assert counts["rejected"] > 2500


def test_fuzz_header_with_valid_crc(files):
    """Mutated header fields behind a recomputed CRC reach the field validation."""
    rng = np.random.default_rng(3)
    counts = {"accepted": 0, "rejected": 0}
    for i in range(1500):
        data = files["avif" if i % 2 else "png"]
        end = len(_write_header(read_bitstream(data).header)) - 4
        body = mutate(data[:end], rng)
        counts[run_case(body + struct.pack("<I", zlib.crc32(body)) + data[end + 4:])] += 1
    print(f"header fuzz: {counts}")
    assert counts["rejected"] > 1000


def _with_payload(data: bytes, mutate_payload, rng) -> bytes:
    bs = read_bitstream(data)
    sec = bs.sections[int(rng.integers(0, len(bs.sections)))]
    if rng.random() < 0.5:
        k = int(rng.integers(0, len(sec.keyframes)))
        sec.keyframes[k] = mutate_payload(sec.keyframes[k], rng)
    else:
        sec.trajectories = mutate_payload(sec.trajectories, rng)
    return write_bitstream(bs)


def test_fuzz_payloads(files):
    rng = np.random.default_rng(7)
    counts = {"accepted": 0, "rejected": 0}
    t0 = time.perf_counter()
    for i in range(1500):
        data = _with_payload(files["avif" if i % 2 else "png"], mutate, rng)
        counts[run_case(data)] += 1
    print(f"payload fuzz: {counts}, {time.perf_counter() - t0:.1f} s")
    assert counts["rejected"] > 100 and counts["accepted"] > 10


def test_random_garbage_tracks_only_bitstream_error():
    rng = np.random.default_rng(99)
    for _ in range(2000):
        data = rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8).tobytes()
        with alarm(5):
            try:
                tr = decode_tracks(data, int(rng.integers(1, 49)), 0.5, H, W)
            except BitstreamError:
                continue
        assert (tr.positions[..., 0] <= W - 1).all() and (tr.positions >= 0).all()
