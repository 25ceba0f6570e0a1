"""Reduced-resolution keyframes: code a keyframe downscaled by ``scale``, upsample on decode.

At ultra-low rates a clip with many scene cuts needs many keyframes, and even at quality 0 a
full-size keyframe costs too much. :class:`ScaledCodec` wraps any :class:`ImageCodec`: the
encoder shrinks the keyframe to :func:`scaled_size` and codes that; the decoder decodes the
small image and resizes it back to the coded size. Both resizes use Pillow's ``LANCZOS``
filter (antialiased when shrinking; Pillow resamples uint8 images in fixed-point arithmetic,
so the decoder's output is deterministic and platform-independent).

The scale travels in the bitstream header as the param ``kr`` (float, ``1 <= kr <=``
:data:`MAX_SCALE`), written only when it is not 1, so streams written before this existed
(no ``kr``) decode at full resolution, and full-resolution streams are byte-identical to them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from actdiff.errors import ConfigError
from actdiff.image_codecs.base import ImageCodec, check_decoded, check_image

SCALE_KEY = "kr"            # header key of the keyframe downscale factor
MAX_SCALE = 16.0            # largest factor accepted (config and header)
MIN_SIDE = 8                # the coded small image keeps at least this many pixels a side
RESAMPLE = Image.Resampling.LANCZOS


def check_scale(scale: Any) -> float:
    """``scale`` as a float in ``[1, MAX_SCALE]`` (``ConfigError`` otherwise)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) \
            or not 1.0 <= scale <= MAX_SCALE:
        raise ConfigError(f"keyframe_codec.scale must be a number in [1, {MAX_SCALE:g}], got {scale!r}")
    return float(scale)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """Size ``(h, w)`` a ``height x width`` keyframe is coded at: each side divided by
    ``scale`` and rounded, but never below ``min(side, MIN_SIDE)``."""
    return (max(min(height, MIN_SIDE), int(round(height / scale))),
            max(min(width, MIN_SIDE), int(round(width / scale))))


def resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """``uint8 (h, w, 3)`` → ``uint8 (height, width, 3)`` with Pillow's Lanczos filter."""
    if img.shape[:2] == (height, width):
        return img
    out = Image.fromarray(np.ascontiguousarray(img), "RGB").resize((width, height), RESAMPLE)
    return np.asarray(out, dtype=np.uint8)


class ScaledCodec(ImageCodec):
    """``inner`` applied to the keyframe resized by ``1 / scale`` (see the module docstring).

    Args:
        inner: the codec of the small image (its own header params are kept).
        scale: downscale factor, ``1 <= scale <= MAX_SCALE`` (1: full resolution, pass-through).
    """

    def __init__(self, inner: ImageCodec, scale: float = 1.0) -> None:
        self.inner, self.scale = inner, check_scale(scale)
        self.name = inner.name

    def params(self) -> dict[str, Any]:
        return self.inner.params()

    def header_params(self) -> dict[str, Any]:
        out = self.inner.header_params()
        if self.scale != 1.0:
            out[SCALE_KEY] = self.scale
        return out

    def encode(self, img: np.ndarray) -> bytes:
        img = check_image(img)
        h, w = scaled_size(img.shape[0], img.shape[1], self.scale)
        return self.inner.encode(resize(img, h, w))

    def decode(self, data: bytes, height: int, width: int) -> np.ndarray:
        h, w = scaled_size(height, width, self.scale)
        small = self.inner.decode(data, h, w)
        return check_decoded(resize(small, height, width), height, width, self.name)


def with_scale(codec: ImageCodec, scale: Any) -> ImageCodec:
    """``codec`` itself when ``scale`` is 1, else a :class:`ScaledCodec` around it."""
    scale = check_scale(scale)
    return codec if scale == 1.0 else ScaledCodec(codec, scale)
