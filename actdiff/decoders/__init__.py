"""Frame decoders: what the bitstream carries for a segment → its frames.

Registered in :data:`actdiff.registry.DECODERS` by the module named in :data:`MODULES` (imported
only when asked for, so the warp path never loads torch). :func:`build_decoder` builds one from a
name or from the ``codec.decoder`` config section (``name`` plus the decoder's options).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from actdiff.decoders.base import Decoder
from actdiff.errors import ConfigError, shorten
from actdiff.registry import DECODERS

#: Registry name → module that registers it.
MODULES = {"warp": "actdiff.decoders.warp", "diffusion": "actdiff.decoders.diffusion"}


def _section(spec: Any) -> dict[str, Any]:
    """A ``codec.decoder`` section (DictConfig or mapping) as a plain dict."""
    if hasattr(spec, "items") and not isinstance(spec, dict):
        from omegaconf import OmegaConf

        return dict(OmegaConf.to_container(spec, resolve=True))
    return dict(spec)


def build_decoder(spec: Any = "warp", **options: Any) -> Decoder:
    """A decoder from a registry name, a ``codec.decoder`` section, or an already built one.

    Args:
        spec: ``"warp"`` | ``"diffusion"``, a mapping ``{"name": …, option: value, …}`` (options
            that are ``None`` take the decoder's defaults), or a :class:`Decoder` (returned as is).
        options: more options, overriding the section's (``None`` values are ignored); refused
            with a decoder already built (they were ignored).
    """
    if isinstance(spec, Decoder) or (not isinstance(spec, (str, Mapping)) and hasattr(spec, "decode_segment")):
        given = sorted(k for k, v in options.items() if v is not None)
        if given:
            raise ConfigError(f"decoder option(s) {', '.join(given)} given with an already built "
                              f"{getattr(spec, 'name', type(spec).__name__)} decoder: build it with them instead")
        return spec
    if not isinstance(spec, (str, Mapping)) and not hasattr(spec, "items"):
        raise ConfigError(f"decoder must be a registry name ({', '.join(sorted(MODULES))}), a codec.decoder "
                          f"section mapping ({{'name': …, option: value}}) or a built Decoder, "
                          f"got {type(spec).__name__} {shorten(repr(spec))}")
    params = {"name": spec} if isinstance(spec, str) else _section(spec)
    params.update({k: v for k, v in options.items() if v is not None})
    name = str(params.pop("name", "warp"))
    if name not in DECODERS and name in MODULES:
        importlib.import_module(MODULES[name])
    if name not in DECODERS:
        import difflib

        known = sorted(set(MODULES) | set(DECODERS.names()))
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown decoder {name!r} (known: {', '.join(known)}){hint}")
    return DECODERS.build(name, **{k: v for k, v in params.items() if v is not None})


__all__ = ["MODULES", "Decoder", "build_decoder"]
