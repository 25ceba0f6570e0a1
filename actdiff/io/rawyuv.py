"""Raw planar ``.yuv`` files: all Y, then U, then V, frame after frame, in one of the layouts
of :data:`actdiff.io.planar.PIX_FMTS` (default ``yuv420p``: 8-bit 4:2:0, I420; ``yuv420p10le``
for the 10-bit UVG and HEVC sequences).

The format has no header, so size, frame rate and layout must be given (:func:`write` writes
limited range by default, as it is read). UVG, MCL-JCV and the HEVC
common-test sequences are BT.709; the range defaults to ``limited`` and is selectable. An 8-bit
read of a file whose first frame looks like 10-bit samples, and a 10- or 12-bit read of samples
too large for it, are refused (each would decode to noise).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from actdiff.errors import InputError
from actdiff.io.base import FormatError, VideoInfo
from actdiff.io.colour import rgb_to_yuv, yuv_to_rgb
from actdiff.io.planar import PIX_FMTS, Layout, layout_of, looks_wider, split_planes

DEFAULT_PIX_FMT = "yuv420p"
#: ``_<W>x<H>_<fps>`` in a file name (``Beauty_1920x1080_120fps_…``, ``videoSRC01_1920x1080_30.yuv``).
_NAME_SIZE = re.compile(r"_(\d+)x(\d+)_(\d+(?:\.\d+)?)(?:fps|p)?(?:_|\.|$)", re.IGNORECASE)
_NAME_DEPTH = re.compile(r"(?<![0-9])(\d+)[-_]?bits?(?![a-z])", re.IGNORECASE)
_NAME_CHROMA = re.compile(r"(?<![0-9])(420|422|444)(?![0-9])")


def frame_bytes(width: int, height: int, pix_fmt: str = DEFAULT_PIX_FMT) -> int:
    """Bytes of one frame (4:2:0 chroma planes are ``ceil(W/2) × ceil(H/2)``)."""
    return layout_of(pix_fmt).frame_bytes(height, width)


def info(path: Path, yuv_size: tuple[int, int] | None, fps: float | None,
         pix_fmt: str = DEFAULT_PIX_FMT) -> VideoInfo:
    if yuv_size is None:
        raise FormatError("raw .yuv needs its size (yuv_size=(W, H), --yuv-size WxH on the command line)")
    if fps is None:
        raise FormatError("raw .yuv needs its frame rate (yuv_fps=..., --fps on the command line)")
    w, h = int(yuv_size[0]), int(yuv_size[1])
    if w <= 0 or h <= 0:
        raise FormatError(f"invalid .yuv size {w}x{h}")
    n = frame_bytes(w, h, pix_fmt)
    size = os.path.getsize(path)
    if size % n:
        raise FormatError(
            f"file size {size} bytes is not a whole number of {w}x{h} {pix_fmt} frames "
            f"({n} bytes each); check --yuv-size and --yuv-format"
        )
    if size:
        with open(path, "rb") as f:
            _check_first(f.read(n), h, w, pix_fmt)
    return VideoInfo(size // n, h, w, float(fps), "yuv")


def yuv_from_name(path: Path) -> dict[str, Any] | None:
    """Size, frame rate and layout of a raw ``.yuv`` from its name, ``None`` when it gives no
    ``<W>x<H>_<fps>``; a layout the name gives that is not read (4:2:2, 14 bits) is ``InputError``."""
    m = _NAME_SIZE.search(path.name)
    if not m:
        return None
    return {"width": int(m.group(1)), "height": int(m.group(2)), "fps": float(m.group(3)),
            "format": pix_fmt_from_name(path.name)}


def pix_fmt_from_name(name: str) -> str:
    """The raw layout a ``.yuv`` file's name gives (``…_420_10bit_…`` → ``yuv420p10le``; default
    ``yuv420p``); ``InputError`` for one that is not read."""
    rest = _NAME_SIZE.sub("_", name)   # not the size or the frame rate
    depth = _NAME_DEPTH.search(rest)
    chroma = _NAME_CHROMA.search(rest)
    fmt = f"yuv{chroma.group(1) if chroma else '420'}p"
    if depth and depth.group(1) != "8":
        fmt += f"{depth.group(1)}le"
    if fmt not in PIX_FMTS:
        raise InputError(f"{name}: its name says {fmt}, which is not read (known: {', '.join(PIX_FMTS)})")
    return fmt


def _planes(buf: bytes, h: int, w: int, layout: Layout, pix_fmt: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        return split_planes(buf, h, w, layout)
    except FormatError as e:
        raise FormatError(f"{e}; check --yuv-format (read as {pix_fmt})") from None


def _check_first(buf: bytes, h: int, w: int, pix_fmt: str) -> None:
    """A ``FormatError`` when the first frame is plainly not ``pix_fmt``: samples too large for
    its depth, or (8 bits) bytes that look like 16-bit samples of at most 12 bits."""
    layout = layout_of(pix_fmt)
    y = _planes(buf, h, w, layout, pix_fmt)[0]
    if layout.depth == 8 and looks_wider(y):
        raise FormatError(f"its first frame looks like 16-bit samples (every second byte at most 15), not {pix_fmt}: "
                          "give its format, e.g. --yuv-format yuv420p10le or yuv420p12le (yuv_format= in the API "
                          "or a dataset)")


def iter_frames(
    path: Path,
    vinfo: VideoInfo,
    start: int = 0,
    matrix: str = "bt709",
    rng: str = "limited",
    chroma: str = "bilinear",
    pix_fmt: str = DEFAULT_PIX_FMT,
) -> Iterator[np.ndarray]:
    """Yield ``uint8 (H, W, 3)`` RGB frames from frame ``start`` on (``vinfo`` from :func:`info`,
    which checked the first frame against ``pix_fmt``; every frame's samples are range-checked)."""
    w, h = vinfo.width, vinfo.height
    layout = layout_of(pix_fmt)
    n = layout.frame_bytes(h, w)
    with open(path, "rb") as f:
        f.seek(start * n)
        for _ in range(start, vinfo.num_frames):
            buf = f.read(n)
            if len(buf) < n:
                raise FormatError("file ended inside a frame")
            y, u, v = _planes(buf, h, w, layout, pix_fmt)
            yield yuv_to_rgb(y, u, v, matrix, rng, chroma, layout.depth)


def write(f: BinaryIO, frames: np.ndarray, pix_fmt: str = DEFAULT_PIX_FMT, rng: str = "limited",
          matrix: str = "bt709") -> None:
    """Write ``uint8 (T, H, W, 3)`` RGB frames as raw planar ``pix_fmt`` (more than 8 bits: each
    sample a 16-bit little-endian word)."""
    layout = layout_of(pix_fmt)
    for frame in frames:
        for plane in rgb_to_yuv(frame, matrix, rng, layout.chroma, layout.depth):
            f.write(plane.astype("<u2" if layout.depth > 8 else np.uint8).tobytes())
