"""Raw planar 8-bit 4:2:0 ``.yuv`` files (I420: all Y, then U, then V, frame after frame).

The format has no header, so size and frame rate must be given. UVG, MCL-JCV and the HEVC
common-test sequences are BT.709; the range defaults to ``limited`` and is selectable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from actdiff.io.base import FormatError, VideoInfo
from actdiff.io.colour import yuv_to_rgb


def frame_bytes(width: int, height: int) -> int:
    """Bytes of one 4:2:0 8-bit frame (chroma planes are ``ceil(W/2) × ceil(H/2)``)."""
    return width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)


def info(path: Path, yuv_size: tuple[int, int] | None, fps: float | None) -> VideoInfo:
    if yuv_size is None:
        raise FormatError("raw .yuv needs its size (yuv_size=(W, H), --yuv-size WxH on the command line)")
    if fps is None:
        raise FormatError("raw .yuv needs its frame rate (yuv_fps=..., --fps on the command line)")
    w, h = int(yuv_size[0]), int(yuv_size[1])
    if w <= 0 or h <= 0:
        raise FormatError(f"invalid .yuv size {w}x{h}")
    n = frame_bytes(w, h)
    size = os.path.getsize(path)
    if size % n:
        raise FormatError(
            f"file size {size} bytes is not a whole number of {w}x{h} 4:2:0 8-bit frames "
            f"({n} bytes each); check --yuv-size"
        )
    return VideoInfo(size // n, h, w, float(fps), "yuv")


def iter_frames(
    path: Path,
    vinfo: VideoInfo,
    start: int = 0,
    matrix: str = "bt709",
    rng: str = "limited",
    chroma: str = "bilinear",
) -> Iterator[np.ndarray]:
    """Yield ``uint8 (H, W, 3)`` RGB frames from frame ``start`` on."""
    w, h = vinfo.width, vinfo.height
    cw, ch = (w + 1) // 2, (h + 1) // 2
    n = frame_bytes(w, h)
    with open(path, "rb") as f:
        f.seek(start * n)
        for _ in range(start, vinfo.num_frames):
            buf = f.read(n)
            if len(buf) < n:
                raise FormatError("file ended inside a frame")
            a = np.frombuffer(buf, np.uint8)
            y = a[: w * h].reshape(h, w)
            u = a[w * h: w * h + cw * ch].reshape(ch, cw)
            v = a[w * h + cw * ch:].reshape(ch, cw)
            yield yuv_to_rgb(y, u, v, matrix, rng, chroma)
