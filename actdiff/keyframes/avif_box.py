"""Strip and rebuild the fixed ISOBMFF container around an AVIF keyframe's AV1 data.

Pillow/libavif writes a single-image AVIF as ~267 bytes of boxes (``ftyp``, ``meta`` with
``hdlr/pitm/iloc/iinf/iprp``) followed by ``mdat`` with the AV1 OBUs. For our fixed encoder
settings (8-bit 4:2:0, full range, sRGB/BT.601 ``nclx``, no alpha/ICC/Exif) those boxes depend
only on the frame size, the ``mdat`` length and the 3 variable bytes of ``av1C``. So the
payload is:

* ``0x00`` + ``av1C[1:4]`` + AV1 data — when the encoder's boxes equal the rebuilt template
  (checked byte for byte at encode time, so a different libavif layout can never be
  mis-rebuilt), saving ~270 bytes per keyframe;
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


def pack_avif(avif: bytes, height: int, width: int) -> bytes:
    """Compact payload for the AVIF file ``avif`` of a ``height x width`` image."""
    head = _PREFIX + 8
    if len(avif) > head and avif[_PREFIX + 4:head] == b"mdat":
        body = avif[head:]
        av1c = avif[_AV1C:_AV1C + 3]
        if _template(height, width, len(body), av1c) == avif[:head]:
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
    return _template(height, width, len(body), bytes(payload[1:4])) + body
