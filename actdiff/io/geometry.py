"""Frame geometry: resizing to a protocol size, padding to a multiple, cropping back."""

from __future__ import annotations

import math
import weakref

import cv2
import numpy as np

RESIZE_MODES = ("resize", "crop")

#: The buffers :func:`stack_padded` made, by ``(id, H, W)`` of the corner it handed out (an entry
#: goes when its buffer does).
_BUFFERS: "weakref.WeakValueDictionary[tuple[int, int, int], np.ndarray]" = weakref.WeakValueDictionary()


def resize_frame(frame: np.ndarray, size: tuple[int, int], mode: str = "resize") -> np.ndarray:
    """Resize one ``uint8 (h, w, 3)`` frame to ``size = (H, W)``.

    ``resize``: area interpolation (OpenCV ``INTER_AREA``) to exactly ``H×W`` (aspect may change).
    ``crop``: area-resize keeping the aspect ratio so the frame covers ``H×W``, then crop the
    centre. A frame already of size ``H×W`` is returned unchanged.
    """
    th, tw = int(size[0]), int(size[1])
    h, w = frame.shape[:2]
    if (h, w) == (th, tw):
        return frame
    if mode == "resize":
        return cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA)
    if mode != "crop":
        raise ValueError(f"unknown resize mode {mode!r} (known: {', '.join(RESIZE_MODES)})")
    scale = max(th / h, tw / w)
    rh, rw = max(th, round(h * scale)), max(tw, round(w * scale))
    if (rh, rw) != (h, w):
        frame = cv2.resize(frame, (rw, rh), interpolation=cv2.INTER_AREA)
    top, left = (rh - th) // 2, (rw - tw) // 2
    return np.ascontiguousarray(frame[top:top + th, left:left + tw])


def pad_to_multiple(
    frames: np.ndarray, multiple: int, mode: str = "reflect"
) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad the bottom and right of ``frames`` so height and width are multiples of ``multiple``.

    Args:
        frames: ``(T, H, W, C)`` or ``(H, W, C)`` array (any dtype).
        multiple: positive integer, e.g. 16 or 64.
        mode: ``reflect`` (mirror without repeating the edge pixel) or ``edge`` (repeat it).

    Returns:
        ``(padded, (H, W))`` where ``(H, W)`` is the original size, for :func:`crop_to`. When
        ``frames`` is the very corner a padded buffer of :func:`stack_padded` handed out
        (``read_video(…, pad_multiple=…)``), the margin is written into that buffer, frame by frame,
        and a read-only view of it is returned: no second copy of the clip, the same values.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    if mode not in ("reflect", "edge"):
        raise ValueError(f"unknown padding mode {mode!r} (known: reflect, edge)")
    h, w = frames.shape[-3], frames.shape[-2]
    hp, wp = padded_shape(h, w, multiple)
    ph, pw = hp - h, wp - w
    if ph == 0 and pw == 0:
        return frames, (h, w)
    if mode == "reflect" and (h < 2 and ph or w < 2 and pw):
        raise ValueError(f"cannot reflect-pad a {h}x{w} frame; use mode='edge'")
    pad = [(0, 0)] * (frames.ndim - 3) + [(0, ph), (0, pw), (0, 0)]
    buffer = padded_buffer(frames, ph, pw)
    if buffer is None:
        return np.pad(frames, pad, mode=mode), (h, w)
    stack = buffer.reshape((-1,) + buffer.shape[-3:])
    for i in range(len(stack)):   # one frame at a time: np.pad's values, no whole-clip temporary
        stack[i] = np.pad(stack[i, :h, :w], pad[-3:], mode=mode)
    view = buffer.view()
    view.flags.writeable = False
    return view, (h, w)


def stack_padded(frames: list[np.ndarray], multiple: int) -> np.ndarray:
    """``frames`` (each ``(H, W, C)``) as the top-left ``(T, H, W, C)`` corner of a buffer whose
    height and width are rounded up to ``multiple`` (margin unset), each frame dropped from the list
    once copied; :func:`pad_to_multiple` of exactly that corner pads it in place. A plain
    ``np.stack`` when no padding is needed."""
    h, w = frames[0].shape[:2]
    hp, wp = padded_shape(h, w, multiple)
    if (hp, wp) == (h, w):
        return np.stack(frames)
    buffer = np.empty((len(frames), hp, wp) + frames[0].shape[2:], frames[0].dtype)
    for i in range(len(frames)):
        buffer[i, :h, :w], frames[i] = frames[i], None
    _BUFFERS[(id(buffer), h, w)] = buffer
    return buffer[:, :h, :w]


def padded_buffer(frames: np.ndarray, ph: int, pw: int) -> np.ndarray | None:
    """The buffer of :func:`stack_padded` whose corner ``frames`` is, when it is exactly that corner
    (no other slice of it, whose margin would overlap what the corner shows) and the buffer is
    ``ph`` rows and ``pw`` columns larger; else ``None``."""
    base, (h, w) = frames.base, frames.shape[-3:-1]
    if base is None or _BUFFERS.get((id(base), h, w)) is not base or frames.shape[:1] != base.shape[:1]:
        return None
    starts = base.__array_interface__["data"][0] == frames.__array_interface__["data"][0]
    ok = starts and base.strides == frames.strides and base.shape[-3:-1] == (h + ph, w + pw)
    return base if ok and base.flags.writeable else None


def padded_shape(height: int, width: int, multiple: int) -> tuple[int, int]:
    """``(height, width)`` rounded up to multiples of ``multiple``."""
    return math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple


def crop_to(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Crop ``(T, H', W', C)`` or ``(H', W', C)`` frames to their top-left ``height×width``."""
    h, w = frames.shape[-3], frames.shape[-2]
    if height > h or width > w:
        raise ValueError(f"cannot crop {h}x{w} frames to a larger {height}x{width}")
    return frames[..., :height, :width, :]
