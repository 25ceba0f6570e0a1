"""Fuzzing the .adv parser and the payload decoders: garbage in → BitstreamError, never worse.

Valid files are built with real AVIF/PNG keyframes and real coded trajectories, then mutated
(bit flips, byte overwrites, insertions, deletions, truncations). Two levels:

* container: mutated files go to ``read_bitstream`` (and, when that accepts them, every
  section's keyframes and trajectories are decoded);
* payload: a keyframe or trajectory payload is mutated and the section CRC recomputed, so the
  container is valid and the image/trajectory decoders themselves see the garbage;
* structured (``test_fuzz_structured_*``): a real encoder stream is taken apart into its fields
  (:mod:`_streams`) and header fields, params, section spans, payload lengths, keyframe counts and
  payloads are changed, then every CRC is fixed, so the mutation reaches the semantic checks. Each
  case is decoded end to end (``decode_video``, warp decoder) and must give either a clean
  ``ActDiffError`` or a complete video of the declared size, within 10 s and 64 MB of traced
  allocations; a sample also goes through ``actdiff decode``: exit 0 with the output, or exit 2 and
  one ``error:`` line.

Each case runs under an alarm, so a hang fails the test instead of blocking the suite.
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


def build_file(codec_name: str, seed: int, repeated: tuple[int, ...] = ()) -> bytes:
    codec = IMAGE_CODECS.build(codec_name, quality=40)
    params = dict(codec.header_params(), ts=0.5, **({"fr": True} if repeated else {}))
    header = StreamHeader(H, W, H, W, num_frames=17, fps=25.0, seed=seed, params=params, repeated=repeated)
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
    out = {name: build_file(name, i) for i, name in enumerate(("avif", "png"))}
    out["avif+repeats"] = build_file("avif", 2, repeated=(3, 4, 11))  # format 4: the repeated-frame list
    return out


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


def test_fuzz_repeat_list_with_valid_crc(files):
    """Mutated repeated-frame lists (format 4) behind a recomputed CRC reach their checks."""
    data = files["avif+repeats"]
    header = read_bitstream(data).header
    assert header.repeated == (3, 4, 11) and header.shown_frames == 20
    end = len(_write_header(header))
    start = end - 4 - 3 - 1  # the block: varint(20), 3 mask bytes, CRC
    rng = np.random.default_rng(11)
    counts = {"accepted": 0, "rejected": 0}
    for _ in range(500):
        block = mutate(data[start:end - 4], rng)
        counts[run_case(data[:start] + block + struct.pack("<I", zlib.crc32(block)) + data[end:])] += 1
    print(f"repeat-list fuzz: {counts}")
    assert counts["rejected"] > 400


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


# ----------------------------------------------------------------------------- structured
STRUCTURED_CASES = 150  # per keyframe codec


@pytest.fixture(scope="module", params=["avif", "png"])
def real_stream(request):
    """A stream of the real encoder (3 segments, AVIF or PNG keyframes, coded tracks), decodable end to end."""
    from conftest import moving_texture

    from actdiff.codec import encode_video
    from actdiff.config import compose
    from actdiff.types import Video

    cfg = compose(None, ["codec.keyframes.name=fixed", "codec.keyframes.fixed_gop=4",
                         "codec.trajectories.budget_points=8", "codec.keyframe_codec.quality=10",
                         f"codec.keyframe_codec.name={request.param}"])
    return encode_video(Video(moving_texture(10, 32, 48), 25.0), cfg).data


def _interesting(v: int, rng: np.random.Generator) -> int:
    picks = [0, 1, 2, v - 1, v + 1, 2 * v, v // 2, 255, 1023, 1024, 16384, 16385, 1 << 20, 1_000_000,
             int(rng.integers(0, 1 << 31))]
    return max(0, int(picks[int(rng.integers(0, len(picks)))]))


def _param_value(rng: np.random.Generator):
    kind = int(rng.integers(0, 7))
    return [lambda: int(rng.integers(-5, 70)), lambda: float(rng.choice([0.0, 0.5, 1.5, 16.0, 17.0, 1e9])),
            lambda: float("nan"), lambda: str(rng.choice(["avif", "png", "adaptive", "", "x" * 40])),
            lambda: bool(rng.integers(0, 2)), lambda: None, lambda: int(rng.integers(0, 1 << 62))][kind]()


def structured_mutation(data: bytes, rng: np.random.Generator) -> bytes:
    """One to three field-level changes of a valid stream, CRCs recomputed."""
    from _streams import RawStream

    raw = RawStream.parse(data)
    for _ in range(int(rng.integers(1, 4))):
        what = int(rng.integers(0, 9))
        sec = raw.sections[int(rng.integers(0, len(raw.sections)))]
        if what == 0:    # a header field
            name = str(rng.choice(["height", "width", "coded_height", "coded_width", "frames", "fps_num",
                                   "fps_den", "seed"]))
            setattr(raw, name, _interesting(getattr(raw, name), rng))
        elif what == 1:  # a param value (any type)
            k = int(rng.integers(0, len(raw.params)))
            raw.params[k] = (raw.params[k][0], _param_value(rng))
        elif what == 2:  # a param dropped or added
            if rng.random() < 0.5 and raw.params:
                del raw.params[int(rng.integers(0, len(raw.params)))]
            else:
                raw.params.append((str(rng.choice(["kr", "ts", "kc.quality", "kc.speed", "kp", "zz"])),
                                   _param_value(rng)))
        elif what == 3:  # a segment span
            sec.span = _interesting(sec.span, rng)
        elif what == 4:  # a payload length field that lies
            lengths = [len(p) for p in sec.keyframes + [sec.trajectories]]
            j = int(rng.integers(0, len(lengths)))
            lengths[j] = _interesting(lengths[j], rng)
            sec.lengths = lengths
        elif what == 5:  # a keyframe added or removed
            if rng.random() < 0.5 and sec.keyframes:
                sec.keyframes.pop()
            else:
                sec.keyframes.append(sec.keyframes[0] if sec.keyframes else b"")
        elif what == 6:  # payload bytes
            if rng.random() < 0.5 and sec.keyframes:
                k = int(rng.integers(0, len(sec.keyframes)))
                sec.keyframes[k] = mutate(sec.keyframes[k], rng)
            else:
                sec.trajectories = mutate(sec.trajectories, rng)
        elif what == 7:  # a payload swapped with another section's
            other = raw.sections[int(rng.integers(0, len(raw.sections)))]
            sec.trajectories, other.trajectories = other.trajectories, sec.trajectories
        else:            # a section dropped or repeated, or its bandwidth or detail-mix code changed
            r = rng.random()
            if r < 0.3 and len(raw.sections) > 1:
                raw.sections.remove(sec)
            elif r < 0.6:
                raw.sections.append(raw.sections[-1])
            elif r < 0.8 or sec.mix is None:
                sec.code = int(rng.integers(0, 256))
            else:  # the detail-mix byte (format 3): codes above 100 but 255 are rejected
                sec.mix = int(rng.integers(0, 256))
    return raw.to_bytes()


def decode_case(data: bytes, seconds: int = 10, megabytes: float = 64.0) -> str:
    """``decoded`` (a complete video of the declared size) or ``rejected`` (an ActDiffError);
    anything else, or more than ``seconds`` or ``megabytes`` of traced allocations, fails."""
    import tracemalloc

    from actdiff.codec import decode_video
    from actdiff.errors import ActDiffError

    tracemalloc.start()
    try:
        with alarm(seconds):
            try:
                video = decode_video(data)
            except ActDiffError:
                return "rejected"
        h = read_bitstream(data).header
        assert video.frames.shape == (h.num_frames, h.height, h.width, 3)
        return "decoded"
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert peak < megabytes, f"a case allocated {peak:.0f} MB"


def test_fuzz_structured_decode(real_stream):
    assert decode_case(real_stream) == "decoded"
    rng = np.random.default_rng(15 + len(real_stream))
    counts = {"decoded": 0, "rejected": 0}
    t0 = time.perf_counter()
    for i in range(STRUCTURED_CASES):
        data = structured_mutation(real_stream, rng)
        try:
            counts[decode_case(data)] += 1
        except Exception as e:  # report the case so it can be replayed
            raise AssertionError(f"case {i}: {type(e).__name__}: {e}") from e
    print(f"structured fuzz: {counts}, {time.perf_counter() - t0:.1f} s")
    assert counts["rejected"] > STRUCTURED_CASES // 2 and counts["decoded"] > 5


def test_fuzz_structured_cli(real_stream, tmp_path, capsys):
    """Through ``actdiff decode``: exit 0 and a complete output, or exit 2 and one error line."""
    from actdiff.commands import decode
    from actdiff.io import read_video

    rng = np.random.default_rng(1515 + len(real_stream))
    codes = []
    for i in range(15):
        src, out = tmp_path / f"{i}.adv", tmp_path / f"{i}.y4m"
        src.write_bytes(structured_mutation(real_stream, rng))
        with alarm(30):
            rc = decode.main([str(src), "-o", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        if rc == 0:
            # a mutated header may crop the frames below the reader's default minimum side
            assert read_video(out, min_size=1).num_frames == read_bitstream(src.read_bytes()).header.num_frames
        else:
            assert rc == 2 and len(err) == 1 and err[0].startswith("error:"), (i, rc, err)
            assert not out.exists()
        codes.append(rc)
    assert 2 in codes
