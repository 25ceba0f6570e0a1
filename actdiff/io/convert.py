"""Turn what a user hands the Python API (a path, an array, a tensor) into a :class:`Video`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from actdiff.errors import InputError
from actdiff.types import Video

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
        return Video(frames=_frames_from_array(video, "video array"), fps=float(fps or 25.0))
    raise InputError(f"cannot make a video from {type(video).__name__}: give a path, a Video, "
                     "a (T, H, W, 3) array or a (T, 3, H, W) tensor")
