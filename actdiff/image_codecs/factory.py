"""Build a keyframe codec from the bitstream header's params or from a config section.

The header names the codec (``kc``) and its arguments (short aliases ``kq``, ``ks``, …, or
``kc.ARG``; see :meth:`actdiff.image_codecs.base.ImageCodec.header_params`), plus the keyframe
downscale factor ``kr`` (:mod:`actdiff.image_codecs.scaled`). Only registered codecs can be named.
"""

from __future__ import annotations

from typing import Any

from actdiff.errors import BitstreamError, ConfigError
from actdiff.image_codecs.base import PARAM_ALIASES, PARAM_KEY, PARAM_PREFIX, ImageCodec
from actdiff.image_codecs.scaled import SCALE_KEY, with_scale
from actdiff.registry import IMAGE_CODECS

_UNALIAS = {v: k for k, v in PARAM_ALIASES.items()}


def codec_from_params(params: dict[str, Any]) -> ImageCodec:
    """Rebuild a codec from header params (``kc``/``kc.*`` keys, see
    :meth:`ImageCodec.header_params`) or from a config dict ``{"name": …, "quality": …}``.

    A keyframe downscale factor (header ``kr``, config ``scale``; absent means 1) wraps the
    codec in :class:`actdiff.image_codecs.scaled.ScaledCodec`.

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
