"""Turn what a user hands the Python API into checked values: a clip (a path, an array, a tensor)
into a :class:`Video`, and the plain arguments (lists of names, rates, paths, callables) into
their types, with one-line errors before any work."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from actdiff.errors import ConfigError, InputError, shorten
from actdiff.types import EncodeResult, Video, check_fps

#: The frame rate of an array or tensor given without one.
DEFAULT_FPS = 25.0

#: How far float frames may stray outside ``[0, 1]`` and still be clipped to it (a model's overshoot);
#: beyond, they are in another range (``[0, 255]``, ``[-1, 1]``) and refused.
FLOAT_SLACK = 0.05


def _frames_from_array(a: np.ndarray, what: str) -> np.ndarray:
    """``(T, H, W, 3)`` or ``(H, W, 3)``, uint8 [0, 255] or float [0, 1] (clipped within
    :data:`FLOAT_SLACK` of it, refused beyond) → ``uint8 (T, H, W, 3)``."""
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise InputError(f"{what} must be (T, H, W, 3) or (H, W, 3) RGB, got shape {tuple(a.shape)}")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise InputError(f"{what} holds NaN or infinite values")
        lo, hi = float(a.min(initial=0.0)), float(a.max(initial=0.0))
        if lo < -FLOAT_SLACK or hi > 1.0 + FLOAT_SLACK:  # e.g. [0, 255] floats: clipped, they were all white
            raise InputError(f"{what} is float with values in [{lo:g}, {hi:g}]; float frames must lie in [0, 1] "
                             "(divide by 255, or pass uint8)")
        return np.clip(np.rint(a.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    raise InputError(f"{what} must be uint8 [0, 255] or float [0, 1], got {a.dtype}")


def as_video(video: Any, fps: float | None = None, **read_options: Any) -> Video:
    """A :class:`Video` from ``video``.

    Args:
        video: a ``Video``; a path to any readable video (``read_options`` go to
            :func:`actdiff.io.read_video`); a NumPy array ``(T, H, W, 3)`` RGB, ``uint8`` or float in
            ``[0, 1]``; or a torch tensor ``(T, 3, H, W)`` float in ``[0, 1]`` (any float dtype;
            ``(T, H, W, 3)`` uint8 too). Floats in another range (``[0, 255]``) are refused.
        fps: frames per second of an array or tensor (default 25).
    """
    fps = DEFAULT_FPS if fps is None else check_fps(fps)
    if isinstance(video, Video):
        return video
    if isinstance(video, (str, Path)):
        from actdiff.io.reader import read_video

        return read_video(video, **read_options)
    if type(video).__module__.startswith("torch"):
        import torch

        t = video.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):  # NumPy has no bfloat16
            t = t.float()
        if t.ndim in (3, 4) and t.shape[-3] == 3 and t.shape[-1] != 3:
            t = t.movedim(-3, -1)
        video = t.numpy()
    if isinstance(video, np.ndarray):
        return Video(frames=_frames_from_array(video, "video array"), fps=fps)
    raise InputError(f"cannot make a video from {type(video).__name__}: give a path, a Video, "
                     "a (T, H, W, 3) array or a (T, 3, H, W) tensor")


def shown(value: Any, limit: int = 60) -> str:
    """What the user gave, for a message: ``repr`` cut to ``limit`` characters (a str of binary
    bytes or a whole file read as a path stays one short line)."""
    return shorten(repr(str(value) if isinstance(value, Path) else value), limit)


def stream_bytes(data: Any) -> bytes:
    """The bytes of an ActDiff stream given as bytes, an ``EncodeResult`` or a path (a one-line
    ``InputError`` otherwise, echoing at most the start of a str that is no file)."""
    if isinstance(data, EncodeResult):
        return data.data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise InputError(f"cannot read stream {shown(data)}: {'a folder' if path.is_dir() else 'no such file'} "
                             "(a str is a path: pass a stream's content as bytes)")
        return path.read_bytes()
    raise InputError(f"decode needs bytes, an EncodeResult or a path, got {type(data).__name__}")


def as_list(value: Any, what: str, kind: type | tuple[type, ...] = str, default: Iterable[Any] = (),
            allow_empty: bool = True) -> list[Any]:
    """A list argument of the API as a list: ``None`` → ``default``; one ``kind`` value (a single
    string, path or number) → a one-element list; any other iterable → its items, each a ``kind``
    (``bool`` is no number). One-line ``ConfigError`` otherwise, and for an empty list unless
    ``allow_empty``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is None:
        return list(default)
    if isinstance(value, kinds) and not isinstance(value, bool):
        return [value]
    names = " or ".join("int" if k is Integral else k.__name__ for k in kinds)
    if isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError(f"{what} must be a {names} or a list of them, got {type(value).__name__} {shown(value)}")
    items = list(value)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, kinds):
            raise ConfigError(f"{what} must hold {names} values, got {type(item).__name__} {shown(item)}")
    if not items and not allow_empty:
        raise ConfigError(f"{what} is an empty list: give at least one, or None for the default")
    return items


def check_path_arg(value: Any, what: str) -> None:
    """``None``, a ``str`` or a ``Path``; a one-line ``ConfigError`` otherwise."""
    if value is not None and not isinstance(value, (str, Path)):
        raise ConfigError(f"{what} must be a path (str or Path) or None, got {type(value).__name__} {shown(value)}")


def check_callable(value: Any, what: str) -> None:
    """``None`` or a callable; a one-line ``ConfigError`` otherwise (before the work that would call it)."""
    if value is not None and not callable(value):
        raise ConfigError(f"{what} must be a callable (e.g. print) or None, got {type(value).__name__} {shown(value)}")


__all__ = ["DEFAULT_FPS", "FLOAT_SLACK", "as_list", "as_video", "check_callable", "check_path_arg",
           "shown",
           "stream_bytes"]
