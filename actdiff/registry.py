"""Name → class registries, so every pipeline stage is chosen in config.

Modelled on CompressAI's ``compressai.registry``: a stage registers itself with
``@TRACKERS.register("dis")`` and is built with ``TRACKERS.build("dis", **params)``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Generic, TypeVar

from actdiff.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of constructors for one pipeline stage."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: Dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``obj`` under ``name`` (names are unique per registry)."""

        def deco(obj: Callable[..., T]) -> Callable[..., T]:
            if name in self._table:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._table[name] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable[..., T]:
        """Return the constructor registered as ``name`` or raise a one-line ``ConfigError``."""
        try:
            return self._table[name]
        except KeyError:
            known = ", ".join(sorted(self._table)) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def build(self, name: str, **params: Any) -> T:
        """Instantiate the entry ``name`` with keyword ``params``."""
        return self.get(name)(**params)

    def names(self) -> list[str]:
        return sorted(self._table)

    def __contains__(self, name: str) -> bool:
        return name in self._table


TRACKERS: Registry = Registry("tracker")
KEYFRAME_SELECTORS: Registry = Registry("keyframe selector")
TRAJECTORY_SELECTORS: Registry = Registry("trajectory selector")
WEIGHT_MAPS: Registry = Registry("weight map")
IMAGE_CODECS: Registry = Registry("image codec")
TRAJECTORY_CODERS: Registry = Registry("trajectory coder")
DECODERS: Registry = Registry("decoder")
METRICS: Registry = Registry("metric")
MODELS: Registry = Registry("model")
