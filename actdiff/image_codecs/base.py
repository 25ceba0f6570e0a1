"""The keyframe image codec interface (rebuilding one from header params: :mod:`.factory`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from actdiff.errors import BitstreamError, InputError

PARAM_KEY = "kc"            # header key holding the codec name
PARAM_PREFIX = "kc."        # header keys holding other constructor arguments
#: Short header keys of common constructor arguments (every header byte counts).
PARAM_ALIASES = {"quality": "kq", "speed": "ks", "checkpoint": "kp", "arch": "ka"}


class ImageCodec(ABC):
    """Codes one ``uint8 (H, W, 3)`` RGB keyframe to bytes and back.

    Subclasses set ``name`` (their registry name) and list their constructor arguments in
    ``params()`` so that :func:`actdiff.image_codecs.factory.codec_from_params` can rebuild an identical codec from the
    bitstream header. ``quality`` is always 0–100, higher is better (ignored by lossless
    codecs). ``encode`` must be deterministic: the same image gives the same bytes.
    """

    name: str = ""

    @abstractmethod
    def encode(self, img: np.ndarray) -> bytes:
        """Compress ``img`` (``uint8 (H, W, 3)``) to a payload (no size is stored in it)."""

    @abstractmethod
    def decode(self, data: bytes, height: int, width: int) -> np.ndarray:
        """Decompress to ``uint8 (height, width, 3)``; ``BitstreamError`` on bad data or size."""

    def params(self) -> dict[str, Any]:
        """Constructor arguments (short, int/float/str/bool values)."""
        return {}

    def header_params(self) -> dict[str, Any]:
        """What to put into ``StreamHeader.params``: ``{"kc": name, "kq": quality, …}``
        (:data:`PARAM_ALIASES`; other arguments as ``"kc.ARG"``)."""
        out: dict[str, Any] = {PARAM_KEY: self.name}
        out.update({PARAM_ALIASES.get(k, PARAM_PREFIX + k): v for k, v in self.params().items()})
        return out


def check_image(img: np.ndarray) -> np.ndarray:
    """Validate a keyframe: ``uint8 (H, W, 3)`` with ``H, W >= 1``; returns it contiguous."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 \
            or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        got = getattr(img, "shape", type(img).__name__), getattr(img, "dtype", "")
        raise InputError(f"keyframe must be a uint8 (H, W, 3) array, got {got[0]} {got[1]}")
    return np.ascontiguousarray(img)


def check_decoded(img: np.ndarray, height: int, width: int, codec: str) -> np.ndarray:
    """Raise ``BitstreamError`` unless ``img`` is ``(height, width, 3)``."""
    if img.shape != (height, width, 3):
        raise BitstreamError(f"{codec} keyframe decodes to {img.shape[1]}x{img.shape[0]}, "
                             f"expected {width}x{height}")
    return img
