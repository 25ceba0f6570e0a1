"""``write_video``: frames to a PNG folder, ``.y4m``, raw ``.yuv`` or an encoded container, atomically.

The output is first written to a hidden temporary path beside the target
(``.NAME.partial-XXXX``) and renamed over it only when complete, so an error or an interrupt
never leaves a partial output. An existing output is an ``OutputError`` unless
``overwrite=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from actdiff.errors import OutputError
from actdiff.io import container, pngdir, rawyuv, y4m
from actdiff.io.base import FormatError
from actdiff.io.colour import MATRICES, RANGES
from actdiff.io.files import atomic_output, check_writable, clean_stale
from actdiff.io.planar import PIX_FMTS
from actdiff.types import Video

PathLike = Union[str, Path]  # noqa: UP007 - a runtime alias


def output_kind(path: PathLike) -> str:
    """``png`` for a folder (no extension, or a trailing ``/``), ``y4m``, ``yuv`` or ``container``."""
    s = str(path)
    if s.endswith(("/", os.sep)) or Path(s).suffix == "" or Path(s).is_dir():
        return "png"
    return {".y4m": "y4m", ".yuv": "yuv"}.get(Path(s).suffix.lower(), "container")


def check_video_output(path: PathLike, overwrite: bool = False, height: int | None = None,
                       width: int | None = None, *, codec: str | None = None, pix_fmt: str = "yuv420p",
                       y4m_chroma: str = "444", yuv_range: str | None = None, yuv_matrix: str = "bt709") -> Path:
    """Check, before any work, that :func:`write_video` can write ``path`` (``OutputError`` if not).

    Checks the format (folder, ``.y4m``, ``.yuv`` in a layout of :data:`actdiff.io.planar.PIX_FMTS`
    or a known container with a codec that suits it, and the
    frame size when given), that an existing output is only replaced with ``overwrite`` (leftovers
    of killed runs are cleaned first, :func:`actdiff.io.files.clean_stale`) and that the parent is
    not a file. Returns the target path (a trailing ``/`` dropped).
    """
    target = Path(str(path).rstrip("/" + os.sep) or str(path))
    kind, ext = output_kind(path), target.suffix.lower()
    try:
        if kind == "container":
            container.check_codec(codec or container.default_codec(ext), ext, height or 2, width or 2, pix_fmt)
    except FormatError as e:
        raise OutputError(f"cannot write video {path}: {e}") from None
    if kind == "y4m" and (y4m_chroma not in ("444", "420") or yuv_range not in (None, *RANGES)
                          or yuv_matrix not in MATRICES):
        raise OutputError(f"cannot write video {path}: bad y4m options {y4m_chroma}/{yuv_range}/{yuv_matrix}")
    if kind == "yuv" and (pix_fmt not in PIX_FMTS or yuv_range not in (None, *RANGES) or yuv_matrix not in MATRICES):
        raise OutputError(f"cannot write video {path}: bad raw YUV options {pix_fmt}/{yuv_range}/{yuv_matrix} "
                          f"(layouts: {', '.join(PIX_FMTS)})")
    parent = next((p for p in [target.parent, *target.parent.parents] if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise OutputError(f"cannot write video {path}: {parent} is a file")
    if parent is not None and not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write video {path}: {parent} is not writable")
    try:
        clean_stale(target)
    except OSError as e:
        raise OutputError(f"cannot write video {path}: {e.strerror or e}") from None
    check_writable(target, overwrite, "video")
    return target


@dataclass(frozen=True)
class FrameStream:
    """Frames written as they come, never all in memory: ``frames`` yields ``uint8 (H, W, 3)``
    arrays, ``shape`` declares ``(T, H, W, 3)``. A frame of another shape or type, or another
    count than declared, is a ``ValueError`` (and :func:`write_video` leaves no output)."""

    frames: Iterable[np.ndarray]
    shape: tuple[int, int, int, int]

    dtype = np.dtype(np.uint8)   # what write_video checks of an array, fixed here
    ndim = 4

    def __iter__(self) -> Iterator[np.ndarray]:
        n = 0
        for frame in self.frames:
            if frame.shape != tuple(self.shape[1:]) or frame.dtype != np.uint8:
                raise ValueError(f"frame {n} is {frame.dtype} {frame.shape}, not uint8 {tuple(self.shape[1:])}")
            n += 1
            yield frame
        if n != self.shape[0]:
            raise ValueError(f"{n} frames came, {self.shape[0]} were declared")


def _check_frames(frames: np.ndarray | FrameStream) -> None:
    if not isinstance(frames, (np.ndarray, FrameStream)) or frames.dtype != np.uint8 or frames.ndim != 4 \
            or frames.shape[-1] != 3 or frames.shape[0] < 1:
        shape = getattr(frames, "shape", None)
        raise ValueError(f"frames must be uint8 (T>=1, H, W, 3), got {getattr(frames, 'dtype', type(frames))} {shape}")


def write_video(
    path: PathLike,
    frames: np.ndarray | Video | FrameStream,
    fps: float | None = None,
    *,
    overwrite: bool = False,
    codec: str | None = None,
    crf: int = 18,
    pix_fmt: str = "yuv420p",
    y4m_chroma: str = "444",
    yuv_range: str | None = None,
    yuv_matrix: str = "bt709",
) -> Path:
    """Write ``uint8 (T, H, W, 3)`` RGB frames (or a ``Video``, or a :class:`FrameStream` written as
    it comes) and return the output path.

    Args:
        path: a folder (no extension or trailing ``/``) → ``frame_00000.png``…; ``.y4m``; ``.yuv``
            (raw planar ``pix_fmt``, no header: :mod:`actdiff.io.rawyuv`);
            ``.mkv``/``.avi``/``.mp4``/``.mov`` → encoded with ``codec``.
        fps: frames per second (taken from ``frames`` when it is a ``Video``).
        overwrite: replace an existing output instead of raising ``OutputError``.
        codec: ``ffv1`` (lossless, .mkv/.avi), ``x264-lossless`` (``libx264rgb`` qp 0, lossless)
            or ``x264`` (yuv420p at ``crf``); default ``ffv1`` for .mkv/.avi, else ``x264-lossless``.
        crf: x264 constant rate factor (0–51, lower is better) for ``codec='x264'``.
        pix_fmt: ``yuv420p`` or ``yuv444p`` for ``codec='x264'``; a ``.yuv``'s layout
            (``yuv420p``, ``yuv420p10le``, … :data:`actdiff.io.planar.PIX_FMTS`).
        y4m_chroma, yuv_range, yuv_matrix: ``.y4m`` sampling (``444``/``420``), range (default
            ``full``) and matrix (the defaults are near-lossless: ±1–2 code values after 8-bit
            rounding); a ``.yuv``'s range (default ``limited``, as it is read) and matrix.
    """
    if isinstance(frames, Video):
        fps = fps or frames.fps
        frames = frames.frames
    if not fps or fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    _check_frames(frames)
    target = check_video_output(path, overwrite, frames.shape[1], frames.shape[2], codec=codec, pix_fmt=pix_fmt,
                                y4m_chroma=y4m_chroma, yuv_range=yuv_range, yuv_matrix=yuv_matrix)
    kind, ext = output_kind(path), target.suffix.lower()
    codec = codec or container.default_codec(ext)
    with atomic_output(target, overwrite, "video") as tmp:
        if kind == "png":
            tmp.mkdir()
            pngdir.write(tmp, frames)
        elif kind == "y4m":
            with open(tmp, "wb") as f:
                y4m.write(f, frames, fps, y4m_chroma, yuv_range or "full", yuv_matrix)
        elif kind == "yuv":
            with open(tmp, "wb") as f:
                rawyuv.write(f, frames, pix_fmt, yuv_range or "limited", yuv_matrix)
        else:
            container.write(tmp, frames, fps, codec, crf, ext, pix_fmt)
    return target
