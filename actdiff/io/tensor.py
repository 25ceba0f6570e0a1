"""Conversion between ``uint8 (T, H, W, 3)`` frames and float ``[0, 1]`` tensors ``(T, 3, H, W)``."""

from __future__ import annotations

import numpy as np

from actdiff.types import Video


def frames_to_tensor(frames: np.ndarray | Video, device: str | None = None, dtype=None):
    """``uint8 (T, H, W, 3)`` (or ``(H, W, 3)``) → ``float (T, 3, H, W)`` (``(3, H, W)``) in [0, 1]."""
    import torch

    if isinstance(frames, Video):
        frames = frames.frames
    t = torch.from_numpy(np.ascontiguousarray(frames))
    t = t.to(device=device, dtype=dtype or torch.float32) / 255.0
    return t.movedim(-1, -3).contiguous()


def tensor_to_frames(tensor) -> np.ndarray:
    """``float (T, 3, H, W)`` in [0, 1] → ``uint8 (T, H, W, 3)`` (rounded, clamped)."""
    t = tensor.detach().float().clamp(0, 1).mul(255.0).round().to("cpu")
    return t.movedim(-3, -1).contiguous().numpy().astype(np.uint8)
