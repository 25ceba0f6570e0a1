"""Container files (mp4, mkv, avi, webm, mov, …) through PyAV (FFmpeg).

Reading decodes with FFmpeg's frame threads and stops as soon as enough frames are out.
Conversion to RGB uses the stream's colour tags (BT.709 for tagged HD video); untagged streams
get FFmpeg's default (BT.601), like ``ffmpeg -i x.mp4 x%d.png``. Frames are turned upright as
their display matrix says (a phone's portrait video is stored landscape with a 90° rotation),
as players and ``ffmpeg`` show them; the size :func:`info` gives is the upright one.

Writing:

* ``ffv1`` — FFV1 in RGB (``bgr0``; this FFmpeg build refuses ``gbrp``): lossless; ``.mkv`` (or ``.avi``) only.
* ``x264-lossless`` — ``libx264rgb`` at ``qp=0`` in RGB: lossless, in ``.mp4``/``.mkv``
  (some players cannot show RGB H.264; use it for data, not for viewing).
* ``x264`` — ``libx264`` at ``crf`` (BT.709 limited, tagged), ``yuv420p`` (plays everywhere;
  needs an even width and height) or ``yuv444p`` (High 4:4:4; better colour at the same size).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from actdiff.io.base import FormatError, VideoInfo
from actdiff.io.y4m import fps_fraction

log = logging.getLogger(__name__)

EXTENSIONS = (".mp4", ".m4v", ".mkv", ".avi", ".webm", ".mov")
CODECS = ("ffv1", "x264-lossless", "x264")
X264_PIX_FMTS = ("yuv420p", "yuv444p")
_MUXER = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}


def _open(path: Path):
    try:
        # metadata (titles, encoder tags) is not used: undecodable bytes in it must not stop reading
        c = av.open(str(path), "r", metadata_errors="replace")
    except av.FFmpegError as e:
        raise FormatError(f"not a readable video ({_reason(e)})") from None
    if not c.streams.video:
        c.close()
        raise FormatError("no video stream")
    return c


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e).splitlines()[0] or type(e).__name__


def _fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or float(rate) <= 0:
        raise FormatError("the video stream has no frame rate")
    return float(rate)


def stream_fps(path: Path) -> float:
    """Frame rate of the first video stream."""
    c = _open(path)
    try:
        return _fps(c.streams.video[0])
    finally:
        c.close()


def quarter_turns(frame: av.VideoFrame) -> int:
    """Quarter turns counterclockwise (0–3) that show ``frame`` upright, from its display matrix
    (``frame.rotation``, degrees counterclockwise; what ``ffmpeg``'s autorotate applies). A
    rotation that is not a multiple of 90° is not applied (:func:`iter_frames` says so)."""
    degrees = _degrees(frame)
    return 0 if degrees % 90 else (degrees // 90) % 4


def _degrees(frame: av.VideoFrame) -> int:
    return int(getattr(frame, "rotation", 0) or 0)


def _say_rotation(path: Path, frame: av.VideoFrame, turns: int) -> None:
    degrees = _degrees(frame)
    if degrees % 90:
        log.warning("%s: display rotation of %d degrees is not a multiple of 90: frames are read unrotated",
                    path, degrees)
    elif turns:
        log.info("%s: frames turned %d degrees counterclockwise, as its display matrix says", path, 90 * turns)


def _first_turns(c: av.container.InputContainer) -> int:
    """:func:`quarter_turns` of the first decodable frame (0 when none decodes)."""
    for frame in c.decode(video=0):
        return quarter_turns(frame)
    return 0


def info(path: Path) -> VideoInfo:
    """Upright size, fps and frame count; the count comes from the index, or by demuxing packets."""
    c = _open(path)
    try:
        s = c.streams.video[0]
        fps = _fps(s)
        n = int(s.frames or 0)
        h, w = int(s.height), int(s.width)
        if _first_turns(c) % 2:
            h, w = w, h
        if n <= 0:
            c.close()
            c = _open(path)
            n = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
        return VideoInfo(n, h, w, fps, "container")
    except av.FFmpegError as e:
        raise FormatError(f"corrupt video ({_reason(e)})") from None
    finally:
        c.close()


def iter_frames(path: Path, start: int = 0) -> Iterator[np.ndarray]:
    """Yield upright ``uint8 (H, W, 3)`` RGB frames (:func:`quarter_turns`) from frame ``start``
    (earlier ones are decoded, dropped).

    When the container's index declares a frame count (mp4/mov) and decoding ends early, the
    file is truncated or corrupt: ``FormatError`` rather than a silently shorter video — unless
    every packet the index declares is there and the decoder itself dropped frames (a common
    defect of complete files, e.g. an undecodable last frame): then a warning says how many.
    A ``start`` at or past the declared count is refused before decoding.
    """
    c = _open(path)
    try:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        declared = int(s.frames or 0)
        if declared and start >= declared:
            raise FormatError(f"no frames at or after frame {start} (its index declares {declared})")
        n = 0
        for n, frame in enumerate(c.decode(s), 1):
            if n > start:
                turns = quarter_turns(frame)
                if n == start + 1:
                    _say_rotation(path, frame, turns)
                rgb = frame.to_ndarray(format="rgb24")
                yield np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
        if declared and n < declared:
            _check_dropped(path, n, declared)
    except av.FFmpegError as e:
        raise FormatError(f"corrupt video ({_reason(e)})") from None
    finally:
        c.close()


def _check_dropped(path: Path, decoded: int, declared: int) -> None:
    """Decoding gave ``decoded < declared`` frames: ``FormatError`` when packets are missing too
    (a truncated or damaged file), else a warning that the decoder dropped the rest."""
    c = _open(path)
    try:
        packets = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    except av.FFmpegError:
        packets = 0
    finally:
        c.close()
    if packets < declared:
        raise FormatError(f"truncated or corrupt: decoded {decoded} of the {declared} frames its index declares")
    log.warning("%s: decoded %d of the %d frames its index declares (all %d packets present: the decoder "
                "dropped %d undecodable frame(s)); using the %d it decoded", path, decoded, declared, packets,
                declared - decoded, decoded)


def default_codec(ext: str) -> str:
    """``ffv1`` for ``.mkv``/``.avi``, ``x264-lossless`` otherwise."""
    return "ffv1" if ext in (".mkv", ".avi") else "x264-lossless"


def check_codec(codec: str, ext: str, height: int, width: int, pix_fmt: str = "yuv420p") -> None:
    """Raise ``FormatError`` when ``codec`` cannot write a ``height×width`` ``ext`` file."""
    if pix_fmt not in X264_PIX_FMTS:
        raise FormatError(f"unknown x264 pixel format {pix_fmt!r} (known: {', '.join(X264_PIX_FMTS)})")
    if codec not in CODECS:
        raise FormatError(f"unknown codec {codec!r} (known: {', '.join(CODECS)})")
    if ext not in _MUXER:
        raise FormatError(
            f"cannot write {ext or 'extension-less'} files (use a folder, .y4m, .mp4, .mkv, .mov or .avi)"
        )
    if codec == "ffv1" and ext not in (".mkv", ".avi"):
        raise FormatError("FFV1 needs a .mkv or .avi file")
    if codec == "x264" and pix_fmt == "yuv420p" and (height % 2 or width % 2):
        raise FormatError(f"x264 (yuv420p) needs an even size, got {height}x{width}; pad the frames first")


def write(path: Path, frames: np.ndarray, fps: float, codec: str, crf: int, ext: str,
          pix_fmt: str = "yuv420p") -> None:
    """Encode ``uint8 (T, H, W, 3)`` RGB frames into ``path`` (muxer chosen by ``ext``)."""
    _, h, w, _ = frames.shape
    check_codec(codec, ext, h, w, pix_fmt)
    with av.open(str(path), "w", format=_MUXER[ext]) as out:
        if codec == "ffv1":
            s = out.add_stream("ffv1", rate=fps_fraction(fps))
            s.pix_fmt = "bgr0"
            s.options = {"level": "3", "slicecrc": "1", "slices": "4"}
        elif codec == "x264-lossless":
            s = out.add_stream("libx264rgb", rate=fps_fraction(fps))
            s.pix_fmt = "rgb24"
            s.options = {"qp": "0", "preset": "medium"}
        else:
            s = out.add_stream("libx264", rate=fps_fraction(fps))
            s.pix_fmt = pix_fmt
            s.options = {"crf": str(int(crf)), "preset": "slow"}
            s.codec_context.colorspace = Colorspace.ITU709
            s.codec_context.color_range = ColorRange.MPEG
            s.codec_context.color_primaries = 1
            s.codec_context.color_trc = 1
        s.width, s.height = w, h
        s.thread_type = "AUTO"
        for frame in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            if codec == "x264":
                vf = vf.reformat(format=pix_fmt, dst_colorspace=Colorspace.ITU709,
                                 dst_color_range=ColorRange.MPEG)
            elif codec == "ffv1":
                vf = vf.reformat(format="bgr0")
            for packet in s.encode(vf):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
