"""Frame geometry: resizing to a protocol size, padding to a multiple, cropping back."""

from __future__ import annotations

import math

import cv2
import numpy as np

RESIZE_MODES = ("resize", "crop")


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
        ``(padded, (H, W))`` where ``(H, W)`` is the original size, for :func:`crop_to`.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    if mode not in ("reflect", "edge"):
        raise ValueError(f"unknown padding mode {mode!r} (known: reflect, edge)")
    h, w = frames.shape[-3], frames.shape[-2]
    ph = math.ceil(h / multiple) * multiple - h
    pw = math.ceil(w / multiple) * multiple - w
    if ph == 0 and pw == 0:
        return frames, (h, w)
    if mode == "reflect" and (h < 2 and ph or w < 2 and pw):
        raise ValueError(f"cannot reflect-pad a {h}x{w} frame; use mode='edge'")
    pad = [(0, 0)] * (frames.ndim - 3) + [(0, ph), (0, pw), (0, 0)]
    return np.pad(frames, pad, mode=mode), (h, w)


def crop_to(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Crop ``(T, H', W', C)`` or ``(H', W', C)`` frames to their top-left ``height×width``."""
    h, w = frames.shape[-3], frames.shape[-2]
    if height > h or width > w:
        raise ValueError(f"cannot crop {h}x{w} frames to a larger {height}x{width}")
    return frames[..., :height, :width, :]
