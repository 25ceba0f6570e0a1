"""Raw ``.adv`` streams for tests: any field values, valid CRCs (the writer would refuse most of them).

A stream is a :class:`RawStream`: header fields, a param list (key, value) in order, and sections
of ``(span, bandwidth code, [detail-mix code: format 3], [keyframe payloads], trajectory
payload)``; :meth:`RawStream.to_bytes`
serialises it exactly as the format lays it out and recomputes every CRC.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from actdiff.codec.bitstream import MAGIC, VERSION, _write_value, mix_code, read_bitstream
from actdiff.entropy.varint import write_varint
from actdiff.motion.interpolate import bandwidth_code


def crc(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data))


@dataclass
class RawSection:
    span: int
    code: int
    keyframes: list[bytes]
    trajectories: bytes
    lengths: list[int] | None = None   # override the written payload lengths (keyframes..., trajectories)
    mix: int | None = None             # the detail-mix byte (format 3), any value; None: none written

    def to_bytes(self) -> bytes:
        payloads = self.keyframes + [self.trajectories]
        lengths = self.lengths or [len(p) for p in payloads]
        out = bytearray(write_varint(self.span) + bytes([self.code]))
        if self.mix is not None:
            out.append(self.mix)
        for n, p in zip(lengths, payloads):
            out += write_varint(n) + p
        return bytes(out + crc(bytes(out)))


@dataclass
class RawStream:
    height: int
    width: int
    coded_height: int
    coded_width: int
    frames: int
    fps_num: int = 25
    fps_den: int = 1
    seed: int = 0
    params: list[tuple[str, Any]] = field(default_factory=list)
    sections: list[RawSection] = field(default_factory=list)
    version: int = VERSION

    def header_bytes(self) -> bytes:
        out = bytearray(MAGIC + bytes([self.version]))
        for v in (self.height, self.width, self.coded_height, self.coded_width, self.frames,
                  self.fps_num, self.fps_den, self.seed, len(self.params)):
            out += write_varint(int(v))
        for key, value in self.params:
            out += _write_value(key, value)
        return bytes(out + crc(bytes(out)))

    def to_bytes(self) -> bytes:
        return self.header_bytes() + b"".join(s.to_bytes() for s in self.sections)

    @classmethod
    def parse(cls, data: bytes) -> "RawStream":
        """The fields of a valid stream (``read_bitstream`` must accept it)."""
        bs = read_bitstream(data)
        h = bs.header
        from fractions import Fraction

        fps = Fraction(h.fps).limit_denominator(1_000_000)
        return cls(h.height, h.width, h.coded_height, h.coded_width, h.num_frames, fps.numerator, fps.denominator,
                   h.seed, list(h.params.items()),
                   [RawSection(s.segment.end - s.segment.start, int(bandwidth_code(s.bandwidth)), list(s.keyframes),
                               s.trajectories, mix=mix_code(s.detail_mix) if "dm" in h.params else None)
                    for s in bs.sections], version=data[3])
