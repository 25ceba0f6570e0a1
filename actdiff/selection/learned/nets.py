"""Small networks of the learned selectors, their input features and their weight folders.

* :class:`KeyframeNet`: ``(B, C, h, w)`` features of (keyframe, candidate frame, chained motion,
  confidence, splatted keyframe) → ``(B,)`` logit of "the frame can still be reconstructed
  from the keyframe".
* :class:`ImportanceNet`: fully convolutional, ``(B, 3, h, w)`` first frame in ``[0, 1]`` →
  ``(B, 1, h, w)`` importance logits (where the interpolated motion is wrong).

Both are diffusers models (``ModelMixin`` + ``ConfigMixin``), like the diffusion denoiser: a
net is saved with ``net.save_pretrained(folder)`` (``config.json`` with the constructor
arguments + ``diffusion_pytorch_model.safetensors``, float32) and loaded with
:func:`load_selector`, which checks the folder and the network class before
``from_pretrained``. (They live here, not in :mod:`actdiff.models`: the selection stage must not
import the later stages of the data path.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Tuple, Type

import cv2
import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from actdiff.errors import InputError, MissingWeightsError

KINDS = ("keyframe_selector", "trajectory_selector")
#: Channels of :func:`keyframe_features`.
KEYFRAME_CHANNELS = 13
#: Files of a weights folder (written by ``save_pretrained``).
CONFIG_FILE = "config.json"
WEIGHT_FILE = "diffusion_pytorch_model.safetensors"
#: One-off converter of the single-file weights written before the folders.
CONVERTER = "experiments/convert_selector_weights.py"


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


class KeyframeNet(ModelMixin, ConfigMixin):
    """Strided CNN + global mean/max pooling + linear → one logit per sample.

    Args:
        in_channels: input channels (:data:`KEYFRAME_CHANNELS` for :func:`keyframe_features`).
        channels: widths of the stride-2 conv blocks.
        feature_size: ``(h, w)`` the features are resized to (the size the net was trained at).
    """

    @register_to_config
    def __init__(self, in_channels: int = KEYFRAME_CHANNELS, channels: Tuple[int, ...] = (16, 32, 32, 48),
                 feature_size: Tuple[int, int] = (64, 96)) -> None:
        super().__init__()
        layers, cin = [], int(in_channels)
        for c in channels:
            layers.append(_conv(cin, int(c), 2))
            cin = int(c)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * cin, 1)

    @property
    def feature_size(self) -> Tuple[int, int]:
        """``(h, w)`` of the input features."""
        h, w = self.config["feature_size"]
        return int(h), int(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,)`` of features ``(B, in_channels, h, w)``."""
        f = self.body(x)
        return self.head(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1)).squeeze(1)


class ImportanceNet(ModelMixin, ConfigMixin):
    """Two-level U-Net: full-resolution and half-resolution branches, logits ``(B, 1, h, w)``
    (``h``, ``w`` even).

    Args:
        in_channels: input channels (3: RGB in ``[0, 1]``, :func:`frame_input`).
        channels: widths of the full- and half-resolution branches.
        work_pixels: about how many pixels the frame is resized to (:func:`work_size`).
    """

    @register_to_config
    def __init__(self, in_channels: int = 3, channels: Tuple[int, int] = (16, 32), work_pixels: int = 6144) -> None:
        super().__init__()
        c1, c2 = (int(c) for c in channels)
        self.enc1 = nn.Sequential(_conv(int(in_channels), c1), _conv(c1, c1))
        self.enc2 = nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2), _conv(c2, c2))
        self.dec = nn.Sequential(_conv(c1 + c2, c1), nn.Conv2d(c1, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 1, h, w)`` of frames ``(B, in_channels, h, w)``."""
        e1 = self.enc1(x)
        e2 = nn.functional.interpolate(self.enc2(e1), size=e1.shape[2:], mode="bilinear", align_corners=False)
        return self.dec(torch.cat([e1, e2], 1))


NETS: Dict[str, Type[ModelMixin]] = {"keyframe_selector": KeyframeNet, "trajectory_selector": ImportanceNet}
#: Selector kind of each network class (the ``_class_name`` of a folder's config.json).
KIND_OF_CLASS = {cls.__name__: kind for kind, cls in NETS.items()}


def load_selector(path: str | Path, kind: str) -> ModelMixin:
    """The ``kind`` net saved in the ``save_pretrained`` folder ``path`` (eval mode, CPU, float32).

    Raises a one-line ``MissingWeightsError`` if the folder or one of its files is absent, and
    ``InputError`` for a single-file weights file of the old format (convert it with
    :data:`CONVERTER`), a folder of another network, or weights that do not fit their config.
    """
    if kind not in NETS:
        raise ValueError(f"unknown selector kind {kind!r} (known: {', '.join(KINDS)})")
    folder = Path(str(path)).expanduser()
    if folder.is_file():
        raise InputError(f"{folder} is a file, not a {kind} weights folder (save_pretrained: config.json and "
                         f"weights); a single-file weights file of the old format converts with python {CONVERTER} "
                         f"{folder} -o OUT_DIR")
    for name in (CONFIG_FILE, WEIGHT_FILE):
        if not (folder / name).is_file():
            raise MissingWeightsError(
                f"{kind} weights not found: {folder / name} is missing (train them with actdiff fit --config "
                f"configs/experiment/train_{kind}.yaml export=DIR, or write DIR from a checkpoint with "
                f"actdiff export CKPT -o DIR)")
    try:
        class_name = json.loads((folder / CONFIG_FILE).read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError):
        raise InputError(f"{folder / CONFIG_FILE} is not a JSON model config") from None
    if KIND_OF_CLASS.get(class_name) != kind:
        found = f"{class_name} ({KIND_OF_CLASS[class_name]})" if class_name in KIND_OF_CLASS else repr(class_name)
        raise InputError(f"{folder} holds {found} weights, expected {NETS[kind].__name__} ({kind})")
    try:
        net = NETS[kind].from_pretrained(str(folder), use_safetensors=True, low_cpu_mem_usage=False,
                                         torch_dtype=torch.float32)
    except (RuntimeError, ValueError, OSError) as e:
        raise InputError(f"{folder}: weights do not match the {kind} network of its config "
                         f"({type(e).__name__})") from None
    return net.eval()
