"""The ``.adv`` container: header + one section per segment, all varints, no padding.

Layout (format version 1; version 2 is the same with keyframe payloads that start with a mode
byte, marked by the header param ``ki``, see :mod:`actdiff.codec.keyframe_inter`; version 3, marked
by the header param ``dm``, adds one byte to every section after its bandwidth code: the encoder's
choice of the diffusion decoder's ``detail_mix`` in percent, 0–100, or 255 for none, see
:mod:`actdiff.codec.detail_mix`; its keyframes carry mode bytes exactly when ``ki`` is set;
version 4, marked by the header param ``fr``, is version 3 — or 1 or 2 when ``dm`` is absent —
with the list of repeated frames after the header, see :mod:`actdiff.codec.repeats`)::

    b"ADV" version:u8
    header:   H W codedH codedW frames fpsNum fpsDen seed            (varints)
              nParams, then per param: tag_len:u8 key value          (see _write_value)
              crc32:u32le over everything from the magic on
    [version 4: shown frames (varint), ceil(shown / 8) bytes: bit t (LSB first) set when display
              frame t repeats the one before, crc32:u32le over the block]
    section*: span=end-start (varint, < MAX_SEGMENT_FRAMES), bandwidth code (u8),
              [version 3: detail-mix code (u8)]
              per keyframe: length (varint) + payload,
              trajectory length (varint) + payload,
              crc32:u32le over the section
    (sections run to the end of the file)

Segments are contiguous: the first starts at frame 0, each next one at the previous end, the last
ends at ``num_frames - 1`` (coded frames: the repeats are not in them). The keyframe count is
implied (not stored): the first section carries 2 keyframes (start and end; 1 if its span is 0),
every later section 1 (its end) — the rule of
:func:`actdiff.codec.keyframe_chain.carried_keyframes`, which :func:`write_bitstream` checks.

:func:`read_bitstream` checks every length against the bytes left and sane limits before
reading or allocating anything; any problem raises one :class:`BitstreamError`.
"""

from __future__ import annotations

import math
import struct
import zlib
from fractions import Fraction
from typing import Any

from actdiff.codec.keyframe_chain import carried_keyframes
from actdiff.codec.repeats import pack_repeats, unpack_repeats
from actdiff.entropy.varint import ByteReader, write_varint
from actdiff.errors import BitstreamError, ConfigError
from actdiff.motion.interpolate import bandwidth_code, bandwidth_from_code
from actdiff.types import Bitstream, Segment, SegmentSection, StreamHeader

MAGIC = b"ADV"
VERSION = 1                    # streams whose keyframes are all independent images
INTER_VERSION = 2              # streams with inter-coded keyframes (header param ``ki``)
INTER_KEY = "ki"
MIX_VERSION = 3                # streams whose sections carry a detail-mix byte (header param ``dm``)
MIX_KEY = "dm"
NO_MIX = 255                   # the detail-mix byte of a segment without a choice
REPEAT_VERSION = 4             # streams with repeated frames (header param ``fr``)
REPEAT_KEY = "fr"
MAX_SIDE = 16384
MAX_FRAMES = 1_000_000
MAX_SEGMENT_FRAMES = 1024      # frames per segment, both keyframes included (bounds decoding per section)
MAX_PARAMS = 64
MAX_KEY = 31
MAX_STR = 255
MAX_FPS_TERM = 1_000_000
MAX_SEED = (1 << 64) - 1
MAX_PAYLOAD = 1 << 40          # bytes; payload lengths are then checked against the bytes left

# value tags (3 bits), packed with the key length (5 bits) into one byte
_UINT, _NEGINT, _F32, _F64, _STR, _TRUE, _FALSE, _NONE = range(8)


# ----------------------------------------------------------------------------- writing
def _fps_fraction(fps: float) -> Fraction:
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    # closest fraction with BOTH terms <= MAX_FPS_TERM (a container's measured average rate such as
    # 29.573075930691825 has no exact small fraction: its approximation must keep the numerator small)
    frac = Fraction(fps).limit_denominator(max(1, min(MAX_FPS_TERM, int(MAX_FPS_TERM / fps))))
    if frac.numerator < 1 or frac.numerator > MAX_FPS_TERM:
        raise ConfigError(f"fps {fps} is out of range (1/{MAX_FPS_TERM}..{MAX_FPS_TERM})")
    return frac


def _write_value(key: str, value: Any) -> bytes:
    """One param: ``(tag << 5 | len(key))``, key ASCII, value by tag."""
    if not isinstance(key, str) or not key.isascii() or not 1 <= len(key) <= MAX_KEY \
            or not key.isprintable():
        raise ConfigError(f"bitstream param key must be 1–{MAX_KEY} printable ASCII chars, "
                          f"got {key!r}")
    if value is None:
        tag, body = _NONE, b""
    elif isinstance(value, bool):
        tag, body = (_TRUE if value else _FALSE), b""
    elif isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 64):
            raise ConfigError(f"bitstream param {key!r} = {value} is out of the 64-bit range")
        tag, body = (_UINT, write_varint(value)) if value >= 0 else (_NEGINT,
                                                                      write_varint(-value - 1))
    elif isinstance(value, float):
        f32 = struct.pack("<f", value)
        exact = struct.unpack("<f", f32)[0] == value or (math.isnan(value))
        tag, body = (_F32, f32) if exact else (_F64, struct.pack("<d", value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > MAX_STR:
            raise ConfigError(f"bitstream param {key!r} is longer than {MAX_STR} bytes")
        tag, body = _STR, write_varint(len(raw)) + raw
    else:
        raise ConfigError(f"bitstream param {key!r} has unsupported type "
                          f"{type(value).__name__} (int, float, str, bool or None)")
    return bytes([tag << 5 | len(key)]) + key.encode("ascii") + body


def _version(params: dict[str, Any]) -> int:
    """The format version a header with ``params`` is written as (module docstring)."""
    if REPEAT_KEY in params:
        return REPEAT_VERSION
    if MIX_KEY in params:
        return MIX_VERSION
    return INTER_VERSION if INTER_KEY in params else VERSION


def mix_code(mix: float | None) -> int:
    """The section byte of a ``detail_mix`` in [0, 1] (percent, rounded) or ``None`` (:data:`NO_MIX`)."""
    if mix is None:
        return NO_MIX
    if not (isinstance(mix, (int, float)) and 0.0 <= mix <= 1.0):
        raise ValueError(f"detail_mix {mix!r} is not in [0, 1]")
    return int(round(100 * float(mix)))


def mix_from_code(code: int) -> float | None:
    """The ``detail_mix`` of a section byte (:func:`mix_code`); ``None`` for :data:`NO_MIX`."""
    return None if code == NO_MIX else code / 100.0


def _crc(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data))


def _write_header(h: StreamHeader) -> bytes:
    for name, v, lo, hi in (("height", h.height, 1, MAX_SIDE), ("width", h.width, 1, MAX_SIDE),
                            ("coded_height", h.coded_height, h.height, MAX_SIDE),
                            ("coded_width", h.coded_width, h.width, MAX_SIDE),
                            ("num_frames", h.num_frames, 1, MAX_FRAMES),
                            ("seed", h.seed, 0, MAX_SEED)):
        if not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"header {name} = {v!r} is out of range {lo}..{hi}")
    if len(h.params) > MAX_PARAMS:
        raise ConfigError(f"{len(h.params)} bitstream params, at most {MAX_PARAMS}")
    fps = _fps_fraction(h.fps)
    for key in (INTER_KEY, MIX_KEY, REPEAT_KEY):
        if h.params.get(key, True) is not True:
            raise ConfigError(f"bitstream param {key!r} is written only as true, got {h.params[key]!r}")
    if bool(h.repeated) != (REPEAT_KEY in h.params) or h.shown_frames > MAX_FRAMES \
            or list(h.repeated) != sorted(set(h.repeated)) or (h.repeated and not 0 < h.repeated[0]) \
            or (h.repeated and h.repeated[-1] >= h.shown_frames):
        raise ConfigError(f"header repeats {h.repeated!r} for {h.num_frames} coded frames do not match param "
                          f"{REPEAT_KEY!r} = {h.params.get(REPEAT_KEY)!r}")
    out = bytearray(MAGIC + bytes([_version(h.params)]))
    for v in (h.height, h.width, h.coded_height, h.coded_width, h.num_frames,
              fps.numerator, fps.denominator, h.seed, len(h.params)):
        out += write_varint(int(v))
    for key, value in h.params.items():
        out += _write_value(key, value)
    out += _crc(bytes(out))
    if h.repeated:
        block = write_varint(h.shown_frames) + pack_repeats(h.repeated, h.shown_frames)
        out += block + _crc(block)
    return bytes(out)


def _expected_keyframes(index: int, seg: Segment) -> int:
    return len(carried_keyframes(index, seg))


def _write_section(index: int, start: int, sec: SegmentSection, mixes: bool = False) -> bytes:
    seg = sec.segment
    if seg.start != start or seg.end < seg.start or (index > 0 and seg.end == seg.start) \
            or seg.length > MAX_SEGMENT_FRAMES:
        raise ValueError(f"segment {index} spans {seg.start}..{seg.end}; it must start at "
                         f"{start}, (after the first) be at least 2 frames long and at most "
                         f"{MAX_SEGMENT_FRAMES}")
    want = _expected_keyframes(index, seg)
    if len(sec.keyframes) != want:
        raise ValueError(f"segment {index} has {len(sec.keyframes)} keyframes, expected {want}")
    code = int(bandwidth_code(sec.bandwidth))
    if not 0 <= code <= 255:
        raise ValueError(f"bandwidth code {code} does not fit in a byte")
    out = bytearray(write_varint(seg.end - seg.start) + bytes([code]))
    if mixes:
        out.append(mix_code(sec.detail_mix))
    elif sec.detail_mix is not None:
        raise ValueError(f"segment {index} has a detail_mix but the header has no {MIX_KEY!r} param")
    for payload in list(sec.keyframes) + [sec.trajectories]:
        out += write_varint(len(payload)) + bytes(payload)
    return bytes(out + _crc(bytes(out)))


def write_bitstream(bs: Bitstream) -> bytes:
    """Serialise ``bs`` (sections must tile frames ``0..num_frames-1``)."""
    out = bytearray(_write_header(bs.header))
    start = 0
    mixes = MIX_KEY in bs.header.params
    for i, sec in enumerate(bs.sections):
        out += _write_section(i, start, sec, mixes)
        start = sec.segment.end
    if not bs.sections or start != bs.header.num_frames - 1:
        raise ValueError(f"segments end at frame {start if bs.sections else None}, the video at "
                         f"{bs.header.num_frames - 1}")
    return bytes(out)


# ----------------------------------------------------------------------------- reading
def _read_value(r: ByteReader, i: int) -> tuple[str, Any]:
    b = r.byte(f"param {i} tag")
    tag, klen = b >> 5, b & 0x1F
    raw_key = r.read(klen, f"param {i} key")
    if klen == 0 or not raw_key.isascii() or not raw_key.decode("ascii").isprintable():
        raise BitstreamError(f"corrupt header: param {i} has an invalid key")
    key = raw_key.decode("ascii")
    if tag == _UINT:
        return key, r.varint(f"param {key!r}", (1 << 64) - 1)
    if tag == _NEGINT:
        return key, -r.varint(f"param {key!r}", (1 << 63) - 1) - 1
    if tag == _F32:
        return key, struct.unpack("<f", r.read(4, f"param {key!r}"))[0]
    if tag == _F64:
        return key, struct.unpack("<d", r.read(8, f"param {key!r}"))[0]
    if tag == _STR:
        n = r.varint(f"param {key!r} length", MAX_STR)
        try:
            return key, r.read(n, f"param {key!r}").decode("utf-8")
        except UnicodeDecodeError:
            raise BitstreamError(f"corrupt header: param {key!r} is not UTF-8") from None
    return key, {_TRUE: True, _FALSE: False, _NONE: None}[tag]


def _read_header(r: ByteReader) -> StreamHeader:
    if r.left < 4 or r.data[:3] != MAGIC:
        raise BitstreamError("bad magic: not an ActDiff file")
    version = r.data[3]
    r.pos = 4
    if version not in (VERSION, INTER_VERSION, MIX_VERSION, REPEAT_VERSION):
        raise BitstreamError(f"unsupported ActDiff format version {version} (this reader: "
                             f"{VERSION}, {INTER_VERSION}, {MIX_VERSION}, {REPEAT_VERSION})")
    h = r.varint("height", MAX_SIDE)
    w = r.varint("width", MAX_SIDE)
    ch = r.varint("coded height", MAX_SIDE)
    cw = r.varint("coded width", MAX_SIDE)
    frames = r.varint("frame count", MAX_FRAMES)
    num = r.varint("fps numerator", MAX_FPS_TERM)
    den = r.varint("fps denominator", MAX_FPS_TERM)
    seed = r.varint("seed", MAX_SEED)
    count = r.varint("param count", MAX_PARAMS)
    params: dict[str, Any] = {}
    for i in range(count):
        key, value = _read_value(r, i)
        if key in params:
            raise BitstreamError(f"corrupt header: param {key!r} appears twice")
        params[key] = value
    body_end = r.pos
    crc = r.read(4, "header CRC")
    if crc != _crc(r.data[:body_end]):
        raise BitstreamError("CRC mismatch in header")
    for key in (INTER_KEY, MIX_KEY, REPEAT_KEY):
        if params.get(key, True) is not True:
            raise BitstreamError(f"corrupt header: param {key!r} = {params[key]!r} (only true is written)")
    if version != _version(params):
        raise BitstreamError(f"corrupt header: format version {version} with params {INTER_KEY!r} = "
                             f"{params.get(INTER_KEY)!r}, {MIX_KEY!r} = {params.get(MIX_KEY)!r}, "
                             f"{REPEAT_KEY!r} = {params.get(REPEAT_KEY)!r}")
    if min(h, w, frames, num, den) < 1 or ch < h or cw < w:
        raise BitstreamError(f"corrupt header: size {w}x{h} (coded {cw}x{ch}), {frames} "
                             f"frames, fps {num}/{den}")
    repeated = _read_repeats(r, frames) if REPEAT_KEY in params else ()
    return StreamHeader(height=h, width=w, coded_height=ch, coded_width=cw, num_frames=frames,
                        fps=num / den, seed=seed, params=params, repeated=repeated)


def _read_repeats(r: ByteReader, coded: int) -> tuple[int, ...]:
    """The repeated-frame block of a version-4 header (module docstring)."""
    begin = r.pos
    shown = r.varint("shown frame count", MAX_FRAMES)
    if shown <= coded:
        raise BitstreamError(f"corrupt header: {shown} shown frames for {coded} coded ones and a repeat list")
    mask = r.read((shown + 7) // 8, "repeated-frame list")
    body_end = r.pos
    if r.read(4, "repeated-frame list CRC") != _crc(r.data[begin:body_end]):
        raise BitstreamError("CRC mismatch in the repeated-frame list")
    return unpack_repeats(mask, shown, coded)


def _read_section(r: ByteReader, i: int, start: int, num_frames: int, mixes: bool = False
                  ) -> tuple[SegmentSection, int, int]:
    """One section; returns it and its keyframe and trajectory payload byte counts."""
    begin = r.pos
    span = r.varint(f"segment {i} length", min(num_frames - 1 - start, MAX_SEGMENT_FRAMES - 1))
    if i > 0 and span == 0:
        raise BitstreamError(f"corrupt file: segment {i} is empty")
    code = r.byte(f"segment {i} bandwidth")
    mix = r.byte(f"segment {i} detail mix") if mixes else NO_MIX
    if mix > 100 and mix != NO_MIX:
        raise BitstreamError(f"corrupt file: segment {i} has detail-mix code {mix} (0..100 or {NO_MIX})")
    seg = Segment(start, start + span)
    keyframes: list[bytes] = []
    for k in range(_expected_keyframes(i, seg)):
        n = r.varint(f"segment {i} keyframe {k} length", MAX_PAYLOAD)
        keyframes.append(r.read(n, f"segment {i} keyframe {k} payload"))
    n = r.varint(f"segment {i} trajectory length", MAX_PAYLOAD)
    traj = r.read(n, f"segment {i} trajectory payload")
    body_end = r.pos
    crc = r.read(4, f"segment {i} CRC")
    if crc != _crc(r.data[begin:body_end]):
        raise BitstreamError(f"CRC mismatch in segment {i}")
    sec = SegmentSection(segment=seg, keyframes=keyframes, trajectories=traj,
                         bandwidth=float(bandwidth_from_code(code)), detail_mix=mix_from_code(mix))
    return sec, sum(len(k) for k in keyframes), len(traj)


def _parse(data: bytes) -> tuple[Bitstream, int, int]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"bitstream must be bytes, got {type(data).__name__}")
    r = ByteReader(bytes(data))
    header = _read_header(r)
    sections: list[SegmentSection] = []
    kf_bytes = traj_bytes = 0
    start = 0
    while r.left:
        sec, kb, tb = _read_section(r, len(sections), start, header.num_frames, MIX_KEY in header.params)
        sections.append(sec)
        kf_bytes, traj_bytes = kf_bytes + kb, traj_bytes + tb
        start = sec.segment.end
    if not sections:
        raise BitstreamError("truncated file: no segment after the header")
    if start != header.num_frames - 1:
        raise BitstreamError(f"truncated file: segments end at frame {start}, the video has "
                             f"{header.num_frames} frames")
    return Bitstream(header=header, sections=sections), kf_bytes, traj_bytes


def read_bitstream(data: bytes) -> Bitstream:
    """Parse and validate a ``.adv`` file; any problem raises one ``BitstreamError``."""
    return _parse(data)[0]


def bit_split(data: bytes) -> dict[str, int]:
    """Bits of ``data`` spent on ``header``, ``keyframes`` and ``trajectories``.

    ``keyframes``/``trajectories`` count only payload bytes; everything else (magic, header,
    params, per-section lengths, bandwidth codes, CRCs) is ``header``. The three sum to
    ``8 * len(data)``.
    """
    _, kb, tb = _parse(data)
    total = 8 * len(data)
    return {"header": total - 8 * (kb + tb), "keyframes": 8 * kb, "trajectories": 8 * tb}
