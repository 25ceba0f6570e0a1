"""Strip and rebuild the fixed ISOBMFF container around an AVIF keyframe's AV1 data.

Pillow/libavif writes a single-image AVIF as ~267 bytes of boxes (``ftyp``, ``meta`` with
``hdlr/pitm/iloc/iinf/iprp``) followed by ``mdat`` with the AV1 OBUs. For our fixed encoder
settings (8-bit 4:2:0, full range, sRGB/BT.601 ``nclx``, no alpha/ICC/Exif) those boxes depend
only on the frame size, the ``mdat`` length and the 3 variable bytes of ``av1C``. So the
payload is:

* ``0x00`` + ``av1C[1:4]`` + AV1 data (whose sequence header must state the frame size, as
  libavif would otherwise silently rescale to the container's size) — when the encoder's
  boxes equal the rebuilt template (checked byte for byte at encode time, so a different
  libavif layout can never be mis-rebuilt), saving ~270 bytes per keyframe;
* ``0x01`` + the whole AVIF file — otherwise.
"""

from __future__ import annotations

import struct

from actdiff.errors import BitstreamError

_TEMPLATE = bytes.fromhex(
    "00000020667479706176696600000000617669666d6966316d6961664d413142000000eb6d6574610000"
    "00000000002168646c72000000000000000070696374000000000000000000000000000000000e706974"
    "6d0000000000010000001e696c6f63000000004400000100010000000100000113000000000000002869"
    "696e660000000000010000001a696e6665020000000001000061763031436f6c6f72000000006a697072"
    "700000004b6970636f000000146973706500000000000000000000000000000010706978690000000003"
    "0808080000000c617631438100000000000013636f6c726e636c780001000d0006800000001769706d61"
    "000000000000000100010401028304"
)
_ILOC_LEN = _TEMPLATE.index(b"iloc") + 4 + 18       # extent_length (u32 BE)
_ISPE = _TEMPLATE.index(b"ispe") + 8                 # width, height (u32 BE each)
_AV1C = _TEMPLATE.index(b"av1C") + 5                 # 3 variable bytes after the 0x81 marker
_PREFIX = len(_TEMPLATE)
_COMPACT, _FULL = 0, 1


def _template(height: int, width: int, mdat_len: int, av1c: bytes) -> bytes:
    t = bytearray(_TEMPLATE)
    t[_ILOC_LEN:_ILOC_LEN + 4] = struct.pack(">I", mdat_len)
    t[_ISPE:_ISPE + 8] = struct.pack(">II", width, height)
    t[_AV1C:_AV1C + 3] = av1c
    return bytes(t) + struct.pack(">I", mdat_len + 8) + b"mdat"


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise BitstreamError("corrupt AVIF keyframe: truncated AV1 sequence header")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v


def av1_frame_size(obus: bytes) -> tuple:
    """``(height, width)`` from the first AV1 sequence header OBU in ``obus``.

    Supports the headers libavif writes for still images (reduced still-picture header, or a
    full one without timing info); anything else raises ``BitstreamError``.
    """
    pos = 0
    while pos < len(obus):
        head = obus[pos]
        kind, ext, has_size = (head >> 3) & 15, (head >> 2) & 1, (head >> 1) & 1
        pos += 1 + ext
        if not has_size:
            raise BitstreamError("corrupt AVIF keyframe: AV1 OBU without size field")
        size, shift = 0, 0
        while True:
            if pos >= len(obus) or shift > 56:
                raise BitstreamError("corrupt AVIF keyframe: bad AV1 OBU size")
            b = obus[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if kind != 1:
            pos += size
            continue
        r = _Bits(obus[pos:pos + size])
        r.read(4)                                   # seq_profile, still_picture
        if r.read(1):                               # reduced_still_picture_header
            r.read(5)
        else:
            if r.read(1):
                raise BitstreamError("corrupt AVIF keyframe: unsupported AV1 timing info")
            delay = r.read(1)
            for _ in range(r.read(5) + 1):
                r.read(12)
                if r.read(5) > 7:
                    r.read(1)
                if delay and r.read(1):
                    r.read(4)
        wbits, hbits = r.read(4) + 1, r.read(4) + 1
        width = r.read(wbits) + 1
        return r.read(hbits) + 1, width
    raise BitstreamError("corrupt AVIF keyframe: no AV1 sequence header")


def isobmff_length(data: bytes) -> int:
    """Bytes covered by the top-level boxes of an ISOBMFF file (``-1`` if a box is malformed)."""
    pos = 0
    while pos + 8 <= len(data):
        size = struct.unpack(">I", data[pos:pos + 4])[0]
        if size == 1:
            if pos + 16 > len(data):
                return -1
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        if size < 8:
            return -1
        pos += size
    return pos if pos == len(data) else -1


def _obus_length(obus: bytes) -> int:
    """Bytes covered by the sized AV1 OBUs at the start of ``obus`` (``-1`` if one is malformed)."""
    pos = 0
    while pos < len(obus):
        head = obus[pos]
        pos += 1 + ((head >> 2) & 1)
        if not (head >> 1) & 1:
            return -1
        size, shift = 0, 0
        while True:
            if pos >= len(obus) or shift > 56:
                return -1
            b = obus[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        pos += size
    return pos


def pack_avif(avif: bytes, height: int, width: int) -> bytes:
    """Compact payload for the AVIF file ``avif`` of a ``height x width`` image."""
    head = _PREFIX + 8
    if len(avif) > head and avif[_PREFIX + 4:head] == b"mdat":
        body = avif[head:]
        av1c = avif[_AV1C:_AV1C + 3]
        try:
            size_ok = av1_frame_size(body) == (height, width)
        except BitstreamError:
            size_ok = False
        if size_ok and _template(height, width, len(body), av1c) == avif[:head]:
            return bytes([_COMPACT]) + av1c + body
    return bytes([_FULL]) + avif


def unpack_avif(payload: bytes, height: int, width: int) -> bytes:
    """Inverse of :func:`pack_avif`; ``BitstreamError`` on an unknown payload kind."""
    if len(payload) < 1:
        raise BitstreamError("corrupt AVIF keyframe: empty payload")
    kind = payload[0]
    if kind == _FULL:
        return bytes(payload[1:])
    if kind != _COMPACT or len(payload) < 5:
        raise BitstreamError(f"corrupt AVIF keyframe: unknown payload kind {kind}")
    body = bytes(payload[4:])
    if not (0 < height < 1 << 16 and 0 < width < 1 << 16) or len(body) >= 1 << 31:
        raise BitstreamError("corrupt AVIF keyframe: size out of range")
    if _obus_length(body) != len(body):
        raise BitstreamError("corrupt AVIF keyframe: bytes after the last AV1 OBU")
    coded = av1_frame_size(body)
    if coded != (height, width):
        raise BitstreamError(f"AVIF keyframe is {coded[1]}x{coded[0]}, expected {width}x{height}")
    return _template(height, width, len(body), bytes(payload[1:4])) + body
