"""Planar Y'CbCr frames as stored in raw ``.yuv`` and ``.y4m`` files: their layouts and how a
frame's bytes split into planes.

A layout is named as FFmpeg names pixel formats (``-pix_fmt``): ``yuv420p`` (8-bit 4:2:0, I420),
``yuv444p``, and ``yuv420p10le``, ``yuv444p12le`` … for 10, 12 or 16 bits a sample, each sample
then stored in a 16-bit little-endian word with its value in the low bits (what FFmpeg writes
and what the 10-bit UVG and HEVC test sequences are). The readers turn every layout into
``uint8`` RGB (:func:`actdiff.io.colour.yuv_to_rgb`); more than 8 bits are rounded there, once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actdiff.io.base import FormatError

#: Bits a sample of the raw ``.yuv`` layouts (``.y4m`` says its own, 8 to 16).
DEPTHS = (8, 10, 12, 16)


@dataclass(frozen=True)
class Layout:
    """How one frame is stored: ``chroma`` — ``420`` (planes ``ceil(H/2) × ceil(W/2)``), ``444`` or
    ``mono`` (no chroma planes) — and ``depth`` bits a sample."""

    chroma: str
    depth: int

    @property
    def sample_bytes(self) -> int:
        return 1 if self.depth == 8 else 2

    def chroma_shape(self, height: int, width: int) -> tuple[int, int]:
        """``(rows, columns)`` of each chroma plane (``(0, 0)`` for ``mono``)."""
        return {"420": ((height + 1) // 2, (width + 1) // 2), "444": (height, width), "mono": (0, 0)}[self.chroma]

    def frame_bytes(self, height: int, width: int) -> int:
        ch, cw = self.chroma_shape(height, width)
        return (height * width + 2 * ch * cw) * self.sample_bytes


def _pix_fmt_name(layout: Layout) -> str:
    return f"yuv{layout.chroma}p" + ("" if layout.depth == 8 else f"{layout.depth}le")


#: The raw ``.yuv`` layouts, by FFmpeg pixel-format name.
PIX_FMTS: dict[str, Layout] = {_pix_fmt_name(Layout(c, d)): Layout(c, d) for c in ("420", "444") for d in DEPTHS}


def layout_of(pix_fmt: str) -> Layout:
    """The :class:`Layout` of an FFmpeg pixel-format name; ``FormatError`` for an unknown one."""
    if pix_fmt not in PIX_FMTS:
        raise FormatError(f"unknown raw YUV format {pix_fmt!r} (known: {', '.join(PIX_FMTS)})")
    return PIX_FMTS[pix_fmt]


def split_planes(buf: bytes, height: int, width: int, layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's bytes → ``(Y, U, V)`` planes, ``uint8`` (8 bits) or ``uint16`` (more).

    ``mono`` gets mid-grey chroma planes of the luma's size. Samples above the layout's largest
    value (``2**depth - 1``) are a ``FormatError``: the file holds another layout than the one
    named (an 8-bit file read as 10-bit, most often).
    """
    dtype = np.uint8 if layout.depth == 8 else np.dtype("<u2")
    a = np.frombuffer(buf, dtype)
    if layout.depth not in (8, 16) and int(a.max(initial=0)) >> layout.depth:
        raise FormatError(f"a sample is above {(1 << layout.depth) - 1}, the largest of {layout.depth} bits: "
                          "the file is not in that format (8-bit samples?)")
    n = height * width
    y = a[:n].reshape(height, width)
    if layout.chroma == "mono":
        u = v = np.full((height, width), 1 << (layout.depth - 1), a.dtype)
        return y, u, v
    ch, cw = layout.chroma_shape(height, width)
    u = a[n: n + ch * cw].reshape(ch, cw)
    v = a[n + ch * cw: n + 2 * ch * cw].reshape(ch, cw)
    return y, u, v


def looks_wider(y: np.ndarray) -> bool:
    """Whether 8-bit luma ``y`` looks like 16-bit little-endian samples of at most 12 bits read
    byte by byte: every second byte (a high byte) at most 3 (10 bits) or 15 (12 bits) while the
    others (low bytes) vary above it — for 12 bits, at least half of them above 15, so that a dark
    full-range 8-bit frame, all of whose samples may be below 16, is not taken for one."""
    flat = y.reshape(-1)
    if flat.size < 64 or flat.size % 2:
        return False
    high, low = int(flat[1::2].max()), flat[0::2]
    if high <= 3:
        return 3 < int(low.max())
    return high <= 15 and float((low > 15).mean()) >= 0.5


__all__ = ["DEPTHS", "PIX_FMTS", "Layout", "layout_of", "looks_wider", "split_planes"]
