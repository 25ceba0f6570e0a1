"""Unsigned LEB128 varints and a bounds-checked byte reader (shared by the bitstream and coders)."""

from __future__ import annotations

from actdiff.errors import BitstreamError


def write_varint(value: int) -> bytes:
    """Encode a non-negative int as unsigned LEB128 (7 bits per byte, little end first)."""
    if value < 0:
        raise ValueError(f"varint must be non-negative, got {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class ByteReader:
    """Reads a ``bytes`` object front to back; every read checks the bytes left.

    Errors are one-line :class:`BitstreamError` messages naming ``what`` was being read.
    """

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def left(self) -> int:
        """Bytes not yet read."""
        return self.end - self.pos

    def read(self, n: int, what: str) -> bytes:
        """Return the next ``n`` bytes or raise ``truncated file: WHAT needs n bytes, k left``."""
        if n < 0 or n > self.left:
            raise BitstreamError(f"truncated file: {what} needs {n} bytes, {self.left} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self, what: str) -> int:
        return self.read(1, what)[0]

    def varint(self, what: str, max_value: int) -> int:
        """Read an unsigned LEB128 varint and check ``0 <= value <= max_value``."""
        value, shift = 0, 0
        while True:
            if self.pos >= self.end:
                raise BitstreamError(f"truncated file: {what} (varint) runs past the end")
            b = self.data[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift > 63:
                raise BitstreamError(f"corrupt file: {what} varint is longer than 9 bytes")
        if value > max_value:
            raise BitstreamError(f"corrupt file: {what} = {value} exceeds the limit {max_value}")
        return value
