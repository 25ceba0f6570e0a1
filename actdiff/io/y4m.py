"""YUV4MPEG2 (``.y4m``) files, 4:2:0 / 4:4:4 / mono, 8 to 16 bits a sample (written 8-bit).

Header: ``YUV4MPEG2 W<w> H<h> F<num>:<den> [I<p|t|b|m>] [A<n>:<d>] [C<colour>] [X<ext>…]``,
each frame ``FRAME[ params]\\n`` followed by the planes. ``C`` defaults to ``420jpeg``; the
accepted colour spaces are ``420jpeg``, ``420paldv``, ``420mpeg2``, ``420``, ``444`` and
``mono``, and FFmpeg's high-bit-depth ones ``420p10``, ``444p12``, ``mono16`` … (9 to 16 bits, each
sample a 16-bit little-endian word; converted to 8-bit RGB, rounded once); 4:2:2 is refused.

Colour: y4m has no standard matrix/range tag. Reading assumes **BT.601, limited range** unless the
caller says otherwise, or the file carries ffmpeg's ``XCOLORRANGE=FULL|LIMITED`` tag (range)
or ActDiff's own ``XACTDIFF_MATRIX=BT709|BT601`` tag (matrix; other tools ignore it).

Writing defaults to **4:4:4, full range, BT.709** and writes both tags so that ActDiff reads the
file back to within ±1–2 code values of the RGB input (8-bit rounding of Y'CbCr; it is not
bit-exact). 4:2:0 (``C420jpeg``) can be written for tools that need it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from actdiff.io.base import FormatError, VideoInfo
from actdiff.io.colour import rgb_to_yuv, yuv_to_rgb
from actdiff.io.planar import Layout, split_planes

MAGIC = b"YUV4MPEG2"
_CHROMA = {"420jpeg": "420", "420paldv": "420", "420mpeg2": "420", "420": "420",
           "444": "444", "mono": "mono"}
_DEEP = re.compile(r"(420|444)p(\d+)|mono(\d+)")


def colour_space_layout(colour_space: str) -> Layout:
    """The :class:`~actdiff.io.planar.Layout` of a ``C`` tag's value (``420jpeg``, ``444p10`` …)."""
    cs = colour_space.lower()
    if cs in _CHROMA:
        return Layout(_CHROMA[cs], 8)
    m = _DEEP.fullmatch(cs)
    depth = int(m.group(2) or m.group(3)) if m else 0
    if not 8 <= depth <= 16:
        raise FormatError(f"unsupported y4m colour space C{cs} (supported: 420, 444 and mono, 8 to 16 bits)")
    return Layout(m.group(1) or "mono", depth)


def parse_header(line: bytes) -> dict[str, str]:
    """Parse the stream header line (without the newline) into ``{tag letter: value}``.

    ``X`` tags are returned as ``{"X:KEY": VALUE}``.
    """
    parts = line.decode("ascii", "replace").split(" ")
    if parts[0] != MAGIC.decode():
        raise FormatError("not a YUV4MPEG2 file (bad signature)")
    tags: dict[str, str] = {}
    for p in parts[1:]:
        if not p:
            continue
        if p[0] == "X":
            k, _, v = p[1:].partition("=")
            tags[f"X:{k.upper()}"] = v.upper()
        else:
            tags[p[0]] = p[1:]
    return tags


class Y4MStream:
    """An open ``.y4m`` file positioned after its header."""

    def __init__(self, path: Path):
        self.path = path
        self.file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            line = self.file.readline(4096)
            if not line.endswith(b"\n"):
                raise FormatError("not a YUV4MPEG2 file (no header line)")
            self.tags = parse_header(line[:-1])
            self._parse_tags()
            self.data_start = self.file.tell()
        except Exception:
            self.file.close()
            raise

    def _parse_tags(self) -> None:
        t = self.tags
        try:
            self.width, self.height = int(t["W"]), int(t["H"])
        except (KeyError, ValueError):
            raise FormatError("y4m header lacks a valid W/H") from None
        if self.width <= 0 or self.height <= 0:
            raise FormatError(f"invalid y4m size {self.width}x{self.height}")
        try:
            num, den = (int(x) for x in t.get("F", "25:1").split(":"))
            self.fps = num / den
        except (ValueError, ZeroDivisionError):
            raise FormatError(f"invalid y4m frame rate F{t.get('F')}") from None
        self.layout = colour_space_layout(t.get("C", "420jpeg"))
        self.frame_bytes = self.layout.frame_bytes(self.height, self.width)
        self.tag_range = {"FULL": "full", "LIMITED": "limited"}.get(t.get("X:COLORRANGE", ""))
        self.tag_matrix = {"BT709": "bt709", "BT601": "bt601"}.get(t.get("X:ACTDIFF_MATRIX", ""))

    def close(self) -> None:
        self.file.close()

    def _frame_header(self) -> bool:
        line = self.file.readline(1024)
        if not line:
            return False
        if not line.startswith(b"FRAME") or not line.endswith(b"\n"):
            raise FormatError(f"corrupt y4m frame header at byte {self.file.tell() - len(line)}")
        return True

    def count_frames(self) -> int:
        """Count frames by hopping over frame headers (no pixel data is read)."""
        self.file.seek(self.data_start)
        size, n = os.path.getsize(self.path), 0
        while self._frame_header():
            if self.file.tell() + self.frame_bytes > size:
                raise FormatError(f"truncated frame {n} (file ends inside it)")
            self.file.seek(self.frame_bytes, 1)
            n += 1
        return n

    def frames(self, start: int, matrix: str, rng: str, chroma: str) -> Iterator[np.ndarray]:
        self.file.seek(self.data_start)
        i = 0
        while self._frame_header():
            if i < start:
                self.file.seek(self.frame_bytes, 1)
                i += 1
                continue
            buf = self.file.read(self.frame_bytes)
            if len(buf) < self.frame_bytes:
                raise FormatError(f"truncated frame {i} (file ends inside it)")
            y, u, v = split_planes(buf, self.height, self.width, self.layout)
            yield yuv_to_rgb(y, u, v, matrix, rng, chroma, self.layout.depth)
            i += 1


def info(path: Path) -> VideoInfo:
    s = Y4MStream(path)
    try:
        return VideoInfo(s.count_frames(), s.height, s.width, s.fps, "y4m")
    finally:
        s.close()


def iter_frames(
    path: Path,
    start: int = 0,
    matrix: str | None = None,
    rng: str | None = None,
    chroma: str = "bilinear",
) -> Iterator[np.ndarray]:
    """Yield ``uint8 (H, W, 3)`` RGB frames; ``None`` matrix/range → file tag, else BT.601/limited."""
    s = Y4MStream(path)
    try:
        yield from s.frames(start, matrix or s.tag_matrix or "bt601", rng or s.tag_range or "limited", chroma)
    finally:
        s.close()


def fps_fraction(fps: float) -> Fraction:
    """Rational frame rate (``29.97…`` → ``30000/1001``)."""
    return Fraction(fps).limit_denominator(1001)


def write(
    f: BinaryIO,
    frames: np.ndarray,
    fps: float,
    chroma: str = "444",
    rng: str = "full",
    matrix: str = "bt709",
) -> None:
    """Write ``uint8 (T, H, W, 3)`` RGB frames as y4m (``chroma`` ``444`` or ``420``)."""
    if chroma not in ("444", "420"):
        raise ValueError(f"y4m chroma must be 444 or 420, got {chroma!r}")
    _, h, w, _ = frames.shape
    r = fps_fraction(fps)
    cs = "C444 XYSCSS=444" if chroma == "444" else "C420jpeg XYSCSS=420JPEG"
    header = (f"YUV4MPEG2 W{w} H{h} F{r.numerator}:{r.denominator} Ip A1:1 {cs} "
              f"XCOLORRANGE={rng.upper()} XACTDIFF_MATRIX={matrix.upper()}\n")
    f.write(header.encode("ascii"))
    for frame in frames:
        y, u, v = rgb_to_yuv(frame, matrix, rng, chroma)
        f.write(b"FRAME\n")
        f.write(y.tobytes())
        f.write(u.tobytes())
        f.write(v.tobytes())


