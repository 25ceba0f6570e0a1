"""Progress bars for long work (tqdm, on stderr): decoding, evaluation, rate control, sweeps.

One switch for the whole process, :func:`configure`:

* ``"auto"`` (the default) — bars only when stderr is a terminal, so logs, pipes and notebooks
  stay clean;
* ``"on"`` — bars even when stderr is not a terminal (``--progress``);
* ``"off"`` — never (``-q``).

Bars go to stderr only: stdout (``--json`` output, tables) is never touched. :func:`bar` returns
a tqdm bar or a silent stand-in with the same ``update``/``set_postfix_str``/``close`` methods,
so library code reports progress unconditionally. :func:`write` and :class:`LogHandler` print
lines and log records through ``tqdm.write`` so per-point lines and ``-v`` timings do not tear
a bar apart.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Any, Iterator

MODES = ("auto", "on", "off")
_mode = "auto"


def configure(mode: str) -> None:
    """Set the process-wide mode: ``"auto"`` | ``"on"`` | ``"off"`` (see the module docstring)."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"progress mode {mode!r} is not one of {', '.join(MODES)}")
    _mode = mode


def mode() -> str:
    return _mode


def enabled() -> bool:
    """Whether bars are drawn now."""
    if _mode == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())
    return _mode == "on"


class _Silent:
    """The stand-in when bars are off: accepts every call, prints nothing."""

    n = 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        pass

    def set_description_str(self, text: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def open_bar(total: float | None, desc: str, unit: str = "it", leave: bool = True) -> Any:
    """Like :func:`bar` without the context manager: the caller closes it (``.close()``)."""
    if not enabled():
        return _Silent()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5, smoothing=0.1)


@contextmanager
def bar(total: float | None, desc: str, unit: str = "it", leave: bool = True) -> Iterator[Any]:
    """A progress bar over ``total`` units (``None``: unknown total) named ``desc``; closed on exit.

    Nested bars (a decode inside an evaluation point) stack below their parent; ``leave=False``
    removes a finished inner bar.
    """
    b = open_bar(total, desc, unit, leave)
    try:
        yield b
    finally:
        b.close()


def write(text: str) -> None:
    """One line on stderr, printed above any bar on screen (``tqdm.write``) when bars are on."""
    if enabled():
        from tqdm import tqdm

        tqdm.write(text, file=sys.stderr)
    else:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


class LogHandler(logging.StreamHandler):
    """A stderr log handler that prints through ``tqdm.write`` while bars may be on screen."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        if not enabled():
            super().emit(record)
            return
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


__all__ = ["LogHandler", "MODES", "bar", "configure", "enabled", "mode", "open_bar", "write"]
