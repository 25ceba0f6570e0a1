"""Build a keyframe codec from the bitstream header's params or from a config section.

The header names the codec (``kc``) and its arguments (short aliases ``kq``, ``ks``, …, or
``kc.ARG``; see :meth:`actdiff.image_codecs.base.ImageCodec.header_params`), plus the keyframe
downscale factor ``kr`` (:mod:`actdiff.image_codecs.scaled`). Only registered codecs can be named,
and a weights file named by a stream (``kp``, the CompressAI checkpoint) is only read from under the
package's weights folder or a folder the user gave (``--keyframe-weights DIR``), see
:func:`resolve_stream_weights`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from actdiff.errors import BitstreamError, ConfigError, MissingWeightsError
from actdiff.image_codecs.base import PARAM_ALIASES, PARAM_KEY, PARAM_PREFIX, ImageCodec
from actdiff.image_codecs.scaled import SCALE_KEY, with_scale
from actdiff.registry import IMAGE_CODECS

_UNALIAS = {v: k for k, v in PARAM_ALIASES.items()}
#: Weights shipped with the package: a stream may name files under this folder.
PACKAGE_WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "weights"
#: Constructor arguments that name a file to load.
FILE_ARGS = ("checkpoint",)


def resolve_stream_weights(path: str, weights_dirs: Sequence[str] = ()) -> str:
    """The real path of a weights file named by a stream, provided it lies (links resolved) under
    :data:`PACKAGE_WEIGHTS` or one of ``weights_dirs``; a relative name is looked up in each of
    them. ``MissingWeightsError`` otherwise, so a stream can never make the decoder read an
    arbitrary file."""
    roots = [PACKAGE_WEIGHTS.resolve()] + [Path(d).expanduser().resolve() for d in weights_dirs]
    p = Path(str(path)).expanduser()
    for candidate in [p] if p.is_absolute() else [r / p for r in roots]:
        try:
            real = candidate.resolve()
            if real.is_file() and any(real.is_relative_to(r) for r in roots):
                return str(real)
        except (OSError, ValueError):  # a name with a NUL byte, a link loop, …
            continue
    raise MissingWeightsError(
        f"the stream names keyframe weights {path!r}: not a file under {PACKAGE_WEIGHTS} or a folder given "
        "with --keyframe-weights DIR (pass the folder that holds it)")


def codec_from_params(params: dict[str, Any], weights_dirs: Optional[Sequence[str]] = ()) -> ImageCodec:
    """Rebuild a codec from header params (``kc``/``kc.*`` keys, see
    :meth:`ImageCodec.header_params`) or from a config dict ``{"name": …, "quality": …}``.

    A keyframe downscale factor (header ``kr``, config ``scale``; absent means 1) wraps the
    codec in :class:`actdiff.image_codecs.scaled.ScaledCodec`.

    Errors are ``ConfigError`` for a config dict (one with ``name``) and ``BitstreamError``
    otherwise (header params come from a file, so a bad or missing value means a corrupt or
    foreign file). ``MissingWeightsError`` (compressai checkpoint) passes through.

    ``weights_dirs``: for header params, where named weights files may be read from
    (:func:`resolve_stream_weights`); ``None`` trusts the header (a stream this process wrote).
    """
    params = dict(params)
    if "name" not in params:
        try:
            return _build(params, weights_dirs)
        except ConfigError as exc:
            raise BitstreamError(f"bitstream keyframe codec: {exc}") from None
    return _build(params)


def _build(params: dict[str, Any], weights_dirs: Optional[Sequence[str]] = None) -> ImageCodec:
    if PARAM_KEY in params:
        name = params[PARAM_KEY]
        args = {k[len(PARAM_PREFIX):]: v for k, v in params.items() if k.startswith(PARAM_PREFIX)}
        args.update({_UNALIAS[k]: v for k, v in params.items() if k in _UNALIAS})
        scale = params.get(SCALE_KEY, 1.0)   # streams without "kr": full-resolution keyframes
        if weights_dirs is not None:
            args.update({k: resolve_stream_weights(v, weights_dirs) for k, v in args.items() if k in FILE_ARGS})
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
