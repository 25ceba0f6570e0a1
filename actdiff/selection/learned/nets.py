"""Small networks of the learned selectors, their input features and their safetensors files.

* :class:`KeyframeNet`: ``(B, C, h, w)`` features of (keyframe, candidate frame, chained motion,
  confidence, splatted keyframe) → ``(B,)`` logit of "the frame can still be reconstructed
  from the keyframe".
* :class:`ImportanceNet`: fully convolutional, ``(B, 3, h, w)`` first frame in ``[0, 1]`` →
  ``(B, 1, h, w)`` importance logits (where the interpolated motion is wrong).

A weights file is one ``.safetensors`` holding the state dict, with metadata ``kind``
(``keyframe_selector`` | ``trajectory_selector``) and ``config`` (JSON of the constructor
arguments), so :func:`load_net` rebuilds the net without any other file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Tuple

import cv2
import numpy as np
import torch
from torch import nn

from actdiff.errors import InputError, MissingWeightsError

KINDS = ("keyframe_selector", "trajectory_selector")
#: Channels of :func:`keyframe_features`.
KEYFRAME_CHANNELS = 13


def _resize(a: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    h, w = size
    if a.shape[:2] == (h, w):
        return a
    if a.ndim == 3 and a.shape[2] > 4:  # OpenCV resizes at most 4 channels at once
        return np.concatenate([_resize(a[..., i:i + 4], size).reshape(h, w, -1) for i in range(0, a.shape[2], 4)], -1)
    return cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)


def keyframe_features(key: np.ndarray, target: np.ndarray, flow: np.ndarray, conf: np.ndarray,
                      warped: np.ndarray, reached: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Model input ``float32 (13, h, w)`` at ``size = (h, w)``.

    Args (all at the same analysis size ``(H, W)``):
        key, target: keyframe / candidate frame, ``(H, W, 3)`` in ``[0, 255]``.
        flow: ``float32 (H, W, 2)`` chained displacement key → target, pixels.
        conf: ``float32 (H, W)`` chained confidence in ``[0, 1]``.
        warped, reached: the keyframe forward-splatted along ``flow`` ``(H, W, 3)`` and where
            the splat landed ``(H, W)`` (see :func:`actdiff.selection.segments.splat_keyframe`).

    Channels: key, target, warped (RGB / 255), reached, confidence, flow / image diagonal (x, y).
    """
    hh, ww = flow.shape[:2]
    diag = float(np.hypot(hh, ww))
    stack = np.concatenate([
        np.asarray(key, np.float32) / 255.0, np.asarray(target, np.float32) / 255.0,
        np.asarray(warped, np.float32) / 255.0, np.asarray(reached, np.float32)[..., None],
        np.asarray(conf, np.float32)[..., None], np.asarray(flow, np.float32) / diag,
    ], axis=-1)
    return np.ascontiguousarray(_resize(stack, size).transpose(2, 0, 1))


def work_size(height: int, width: int, pixels: int) -> Tuple[int, int]:
    """Size ``(h, w)`` (even, ≥ 8) with about ``pixels`` pixels and the aspect of ``height × width``."""
    s = np.sqrt(pixels / float(height * width))
    return max(8, int(round(height * s / 2)) * 2), max(8, int(round(width * s / 2)) * 2)


def frame_input(frame: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """``uint8 (H, W, 3)`` frame → ``float32 (3, h, w)`` in ``[0, 1]`` at ``size``."""
    small = _resize(np.asarray(frame, np.uint8), size).astype(np.float32)
    return np.ascontiguousarray(small.transpose(2, 0, 1) / 255.0)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(min(4, cout), cout), nn.SiLU())


class KeyframeNet(nn.Module):
    """Strided CNN + global mean/max pooling + linear → one logit per sample."""

    def __init__(self, in_channels: int = KEYFRAME_CHANNELS, channels: Tuple[int, ...] = (16, 32, 32, 48),
                 feature_size: Tuple[int, int] = (64, 96)) -> None:
        super().__init__()
        self.config: Dict[str, Any] = {"in_channels": int(in_channels), "channels": [int(c) for c in channels],
                                       "feature_size": [int(s) for s in feature_size]}
        layers, cin = [], in_channels
        for c in channels:
            layers.append(_conv(cin, c, 2))
            cin = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * cin, 1)

    @property
    def feature_size(self) -> Tuple[int, int]:
        return tuple(self.config["feature_size"])  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.body(x)
        return self.head(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1)).squeeze(1)


class ImportanceNet(nn.Module):
    """Two-level U-Net: full-resolution and half-resolution branches, logits ``(B, 1, h, w)``
    (``h``, ``w`` even)."""

    def __init__(self, in_channels: int = 3, channels: Tuple[int, int] = (16, 32), work_pixels: int = 6144) -> None:
        super().__init__()
        self.config: Dict[str, Any] = {"in_channels": int(in_channels), "channels": [int(c) for c in channels],
                                       "work_pixels": int(work_pixels)}
        c1, c2 = channels
        self.enc1 = nn.Sequential(_conv(in_channels, c1), _conv(c1, c1))
        self.enc2 = nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2), _conv(c2, c2))
        self.dec = nn.Sequential(_conv(c1 + c2, c1), nn.Conv2d(c1, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = nn.functional.interpolate(self.enc2(e1), size=e1.shape[2:], mode="bilinear", align_corners=False)
        return self.dec(torch.cat([e1, e2], 1))


NETS = {"keyframe_selector": KeyframeNet, "trajectory_selector": ImportanceNet}


def save_net(net: nn.Module, path: str | Path, kind: str) -> Path:
    """Write ``net``'s float32 weights and config to one ``.safetensors`` file."""
    from safetensors.torch import save_file

    if kind not in KINDS:
        raise ValueError(f"unknown selector kind {kind!r}")
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(out), metadata={"kind": kind, "config": json.dumps(net.config)})
    return out


def load_net(path: str | Path, kind: str) -> nn.Module:
    """Rebuild the ``kind`` net from ``path`` (eval mode, CPU, float32).

    Raises ``MissingWeightsError`` if the file is absent and ``InputError`` if it is not a
    ``kind`` weights file.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise MissingWeightsError(
            f"{kind} weights not found: {p} (train them with actdiff fit --config "
            f"configs/experiment/train_{kind}.yaml export=PATH)")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(p))
    except Exception as e:  # safetensors raises several types on foreign files
        raise InputError(f"not a safetensors weights file: {p} ({type(e).__name__})") from None
    if meta.get("kind") != kind:
        raise InputError(f"{p} holds {meta.get('kind') or 'unknown'} weights, expected {kind}")
    net = NETS[kind](**json.loads(meta["config"]))
    try:
        net.load_state_dict(state)
    except RuntimeError:
        raise InputError(f"{p}: weights do not match the {kind} network they describe") from None
    return net.eval()
