"""One line instead of a traceback when a weights folder cannot be loaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actdiff.errors import ConfigError


@contextmanager
def readable_weights(folder: str | Path) -> Iterator[None]:
    """Turn what a damaged or mismatched weights folder raises while its model is built and its
    weights loaded (a bad ``config.json`` value, a shape that does not fit, an unreadable file)
    into a one-line :class:`~actdiff.errors.ConfigError` naming the folder."""
    try:
        yield
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"weights in {folder} cannot be loaded: {first}") from None
