"""``read_video`` / ``video_info``: one entry point for every supported input.

Supported inputs (chosen by extension, a folder means image frames):

* containers ``.mp4 .m4v .mkv .avi .webm .mov`` (PyAV; any other extension is also probed);
* ``.y4m`` 4:2:0 / 4:4:4 / mono, 8 to 16 bits (BT.601 limited unless tagged or told);
* raw ``.yuv`` planar, 8-bit 4:2:0 unless ``yuv_format`` names another layout (``yuv420p10le``,
  ``yuv444p`` …: :data:`actdiff.io.planar.PIX_FMTS`); needs ``yuv_size=(W, H)`` and a frame
  rate; BT.709 limited by default;
* a folder of PNG (or JPEG/BMP/TIFF/WebP) frames, natural name order (``fps`` default 25).

Every problem with the input is one ``InputError`` line: ``cannot read video PATH: reason``.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import closing
from pathlib import Path
from typing import Union

import numpy as np

from actdiff.errors import ConfigError, InputError, shorten
from actdiff.io import container, pngdir, rawyuv, y4m
from actdiff.io.base import FormatError, VideoInfo
from actdiff.io.colour import CHROMA_UPSAMPLING, MATRICES, RANGES
from actdiff.io.geometry import RESIZE_MODES, resize_frame, stack_padded
from actdiff.io.planar import PIX_FMTS
from actdiff.types import Video

log = logging.getLogger(__name__)

PathLike = Union[str, Path]  # noqa: UP007 - a runtime alias


def detect_format(path: Path) -> str:
    """``png`` (folder), ``y4m``, ``yuv`` or ``container``."""
    if path.is_dir():
        return "png"
    ext = path.suffix.lower()
    return {".y4m": "y4m", ".yuv": "yuv"}.get(ext, "container")


def _fail(path: PathLike, reason: str) -> InputError:
    """One line naming ``path`` (repr'd and cut when it is long or not printable: a str of binary bytes)."""
    text = str(path)
    shown = text if text.isprintable() and len(text) <= 200 else shorten(repr(text))
    return InputError(f"cannot read video {shown}: {reason}")


def _check_options(start: int, max_frames: int | None, resize_mode: str, yuv_range: str | None,
                   yuv_matrix: str | None, chroma: str, yuv_format: str | None = None) -> None:
    if start < 0:
        raise ConfigError(f"start must be >= 0, got {start}")
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"max_frames must be >= 1 or None, got {max_frames}")
    if resize_mode not in RESIZE_MODES:
        raise ConfigError(f"unknown resize_mode {resize_mode!r} (known: {', '.join(RESIZE_MODES)})")
    if yuv_range is not None and yuv_range not in RANGES:
        raise ConfigError(f"unknown yuv_range {yuv_range!r} (known: {', '.join(RANGES)})")
    if yuv_matrix is not None and yuv_matrix not in MATRICES:
        raise ConfigError(f"unknown yuv_matrix {yuv_matrix!r} (known: {', '.join(MATRICES)})")
    _check_yuv_format(yuv_format)
    if chroma not in CHROMA_UPSAMPLING:
        raise ConfigError(f"unknown chroma up-sampling {chroma!r} (known: {', '.join(CHROMA_UPSAMPLING)})")


def _check_yuv_format(yuv_format: str | None) -> None:
    if yuv_format is not None and yuv_format not in PIX_FMTS:
        raise ConfigError(f"unknown yuv_format {yuv_format!r} (known: {', '.join(PIX_FMTS)})")


def _info(path: Path, fmt: str, yuv_size, yuv_fps, fps, yuv_format) -> VideoInfo:
    if fmt == "png":
        return pngdir.info(path, fps or pngdir.DEFAULT_FPS)
    if fmt == "yuv":
        return rawyuv.info(path, yuv_size, yuv_fps or fps, yuv_format or rawyuv.DEFAULT_PIX_FMT)
    if fmt == "y4m":
        return y4m.info(path)
    return container.info(path)


def video_info(
    path: PathLike,
    *,
    yuv_size: tuple[int, int] | None = None,
    yuv_fps: float | None = None,
    fps: float | None = None,
    yuv_format: str | None = None,
) -> VideoInfo:
    """Frame count, size and fps of a video without decoding its frames (a raw ``.yuv``'s first
    frame is read, to check it against ``yuv_format``).

    ``fps`` overrides the stored frame rate (a folder of frames has none: default 25).
    """
    _check_yuv_format(yuv_format)
    p = Path(path)
    if not p.exists():
        raise _fail(path, "no such file or folder")
    try:
        vi = _info(p, detect_format(p), yuv_size, yuv_fps, fps, yuv_format)
    except FormatError as e:
        raise _fail(path, str(e)) from None
    except OSError as e:
        raise _fail(path, e.strerror or str(e)) from None
    if fps:
        vi = VideoInfo(vi.num_frames, vi.height, vi.width, float(fps), vi.format)
    return vi


def _frames(p: Path, fmt: str, vi: VideoInfo | None, start: int, yuv_range, yuv_matrix,
            chroma, yuv_format) -> Generator[np.ndarray, None, None]:
    if fmt == "png":
        return pngdir.iter_frames(p, start)
    if fmt == "yuv":
        return rawyuv.iter_frames(p, vi, start, yuv_matrix or "bt709", yuv_range or "limited", chroma,
                                  yuv_format or rawyuv.DEFAULT_PIX_FMT)
    if fmt == "y4m":
        return y4m.iter_frames(p, start, yuv_matrix, yuv_range, chroma)
    return container.iter_frames(p, start)


def read_video(
    path: PathLike,
    *,
    start: int = 0,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
    resize_mode: str = "resize",
    yuv_size: tuple[int, int] | None = None,
    yuv_fps: float | None = None,
    yuv_range: str | None = None,
    yuv_matrix: str | None = None,
    chroma: str = "bilinear",
    fps: float | None = None,
    min_size: int = 32,
    yuv_format: str | None = None,
    pad_multiple: int | None = None,
) -> Video:
    """Decode (part of) a video into memory.

    Args:
        path: video file, ``.y4m``, raw ``.yuv`` or folder of frames.
        start: first frame to keep (0-based).
        max_frames: keep at most this many frames (decoding stops there); ``None`` = all.
        size: ``(H, W)`` output size, or ``None`` to keep the native size.
        resize_mode: ``resize`` (area interpolation to exactly ``H×W``) or ``crop`` (area-resize
            keeping the aspect ratio to cover ``H×W``, then centre crop).
        yuv_size: ``(W, H)`` of a raw ``.yuv`` (required for it).
        yuv_fps: frame rate of a raw ``.yuv`` (or give ``fps``).
        yuv_range: ``limited``/``full``; ``None`` = the format's default (``.yuv`` limited,
            ``.y4m`` its ``XCOLORRANGE`` tag or limited).
        yuv_matrix: ``bt709``/``bt601``; ``None`` = the default (``.yuv`` BT.709, ``.y4m`` its
            ``XACTDIFF_MATRIX`` tag or BT.601).
        yuv_format: a raw ``.yuv``'s layout, an FFmpeg pixel-format name (``yuv420p``, the
            default; ``yuv420p10le``, ``yuv444p`` …: :data:`actdiff.io.planar.PIX_FMTS`).
            Samples of more than 8 bits are converted to 8-bit RGB, rounded once.
        chroma: 4:2:0 chroma up-sampling of ``.y4m``/``.yuv``, ``bilinear`` or ``nearest``
            (containers are converted by FFmpeg/swscale, using the stream's colour tags).
        fps: overrides the stored frame rate (a folder of frames has none: default 25).
        min_size: smallest accepted side, pixels, of the stored and of the output frames.
        pad_multiple: the frames are placed in a buffer whose height and width are rounded up to
            this multiple (the margin left unset) and ``frames`` is its top-left corner: the
            encoder (``codec.pad_multiple``) then pads the clip in place instead of copying it
            (:func:`actdiff.io.geometry.pad_to_multiple`). ``None``: a plain array.

    Returns:
        :class:`~actdiff.types.Video` with ``frames`` ``uint8 (T, H, W, 3)`` RGB, ``T >= 1``.
    """
    _check_options(start, max_frames, resize_mode, yuv_range, yuv_matrix, chroma, yuv_format)
    if size is not None and min(size) < min_size:
        raise ConfigError(f"requested size {size[0]}x{size[1]} is below the minimum {min_size} pixels per side")
    p = Path(path)
    if not p.exists():
        raise _fail(path, "no such file or folder")
    fmt = detect_format(p)
    try:
        vi = _info(p, fmt, yuv_size, yuv_fps, fps, yuv_format) if fmt in ("png", "yuv", "y4m") else None
        if vi is not None and start >= vi.num_frames:
            raise FormatError(f"no frames to read (start={start}, the video has {vi.num_frames})")
        frames = []
        rate = vi.fps if vi else None
        if fmt == "container":
            rate = container.stream_fps(p)
        with closing(_frames(p, fmt, vi, start, yuv_range, yuv_matrix, chroma, yuv_format)) as it:
            for frame in it:
                if not frames and min(frame.shape[:2]) < min_size:
                    raise FormatError(f"frames are {frame.shape[0]}x{frame.shape[1]}, smaller than the "
                                      f"minimum {min_size} pixels per side")
                if size is not None:
                    frame = resize_frame(frame, size, resize_mode)
                frames.append(frame)
                if max_frames is not None and len(frames) >= max_frames:
                    break
        if not frames:
            raise FormatError("no frames" + (f" at or after frame {start}" if start else ""))
    except FormatError as e:
        raise _fail(path, str(e)) from None
    except OSError as e:
        raise _fail(path, e.strerror or str(e)) from None
    return Video(frames=stack_padded(frames, pad_multiple or 1), fps=float(fps or rate), source=str(path))
