"""Keyframe image codec interface and the header-params round trip."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from actdiff.errors import BitstreamError, ConfigError, InputError
from actdiff.registry import IMAGE_CODECS

PARAM_KEY = "kc"            # header key holding the codec name
PARAM_PREFIX = "kc."        # header keys holding other constructor arguments
#: Short header keys of common constructor arguments (every header byte counts).
PARAM_ALIASES = {"quality": "kq", "speed": "ks", "checkpoint": "kp", "arch": "ka"}
_UNALIAS = {v: k for k, v in PARAM_ALIASES.items()}


class ImageCodec(ABC):
    """Codes one ``uint8 (H, W, 3)`` RGB keyframe to bytes and back.

    Subclasses set ``name`` (their registry name) and list their constructor arguments in
    ``params()`` so that :func:`codec_from_params` can rebuild an identical codec from the
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


def codec_from_params(params: dict[str, Any]) -> ImageCodec:
    """Rebuild a codec from header params (``kc``/``kc.*`` keys, see
    :meth:`ImageCodec.header_params`) or from a config dict ``{"name": …, "quality": …}``.

    A keyframe downscale factor (header ``kr``, config ``scale``; absent means 1) wraps the
    codec in :class:`actdiff.keyframes.scaled.ScaledCodec`.

    Errors are ``ConfigError`` for a config dict (one with ``name``) and ``BitstreamError``
    otherwise (header params come from a file, so a bad or missing value means a corrupt or
    foreign file). ``MissingWeightsError`` (compressai checkpoint) passes through.
    """
    params = dict(params)
    if "name" not in params:
        try:
            return _build(params)
        except ConfigError as exc:
            raise BitstreamError(f"bitstream keyframe codec: {exc}") from None
    return _build(params)


def _build(params: dict[str, Any]) -> ImageCodec:
    from actdiff.keyframes.scaled import SCALE_KEY, with_scale

    if PARAM_KEY in params:
        name = params[PARAM_KEY]
        args = {k[len(PARAM_PREFIX):]: v for k, v in params.items() if k.startswith(PARAM_PREFIX)}
        args.update({_UNALIAS[k]: v for k, v in params.items() if k in _UNALIAS})
        scale = params.get(SCALE_KEY, 1.0)   # streams without "kr": full-resolution keyframes
    elif "name" in params:
        name = params.pop("name")
        scale = params.pop("scale", 1.0)
        args = params
    else:
        raise ConfigError(f"keyframe codec params name no codec (no key {PARAM_KEY!r})")
    if not isinstance(name, str):
        raise ConfigError(f"keyframe codec name must be a string, got {name!r}")
    scale = 1.0 if scale is None else scale
    try:
        codec = IMAGE_CODECS.build(name, **args)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for keyframe codec {name!r}: {exc}") from None
    return with_scale(codec, scale)
