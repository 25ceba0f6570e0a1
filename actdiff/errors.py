"""User-facing errors. The CLI prints any ``ActDiffError`` as one ``error: …`` line, exit 2."""

import sys
from collections.abc import Iterable
from typing import Any


class ActDiffError(Exception):
    """Base class for errors caused by the user's input or environment (not by a bug)."""


class InputError(ActDiffError):
    """An input file or folder is missing, unreadable, corrupt, empty or of an unusable size."""


class OutputError(ActDiffError):
    """An output exists and ``--overwrite`` was not given, or it cannot be written."""


class ConfigError(ActDiffError):
    """A config file, group, key or value is unknown or invalid."""


class BitstreamError(ActDiffError):
    """A ``.adv`` file is truncated, corrupted, foreign or has absurd header values."""


class MissingWeightsError(ActDiffError):
    """Pretrained weights are not on disk; the message names the file and where to put it."""


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, its full length said after: what a one-line message echoes
    of the user's input (a str of binary bytes, a whole file read as a path, a long key)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived (raised by the CLI's signal handlers, see :mod:`actdiff.cli`).

    A ``KeyboardInterrupt``, so every ``finally`` and cleanup runs as for Ctrl-C.
    ``exit_code`` is the shell's convention, ``128 + signum`` (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int = 2) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def check_distinct(what: str, values: Iterable[Any]) -> None:
    """``ConfigError`` when a value of a list the user gave repeats (a rate point, a metric, a
    sequence, a results file): each value is one unit of work or one curve, and a repeat would be
    done or drawn twice, or silently dropped. ``what`` names the list in the message."""
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ConfigError(f"{what}: {v} is given twice")
        seen.add(v)


def interrupt_line(e: BaseException) -> tuple[str, int]:
    """The one-line message and exit code of an interrupt (``KeyboardInterrupt``/:class:`Interrupted`)."""
    signum = getattr(e, "signum", 2)
    return ("terminated (SIGTERM)" if signum == 15 else "interrupted"), 128 + signum


def memory_line(e: BaseException) -> str:
    """One line for a ``MemoryError`` (numpy's names the allocation that failed)."""
    msg = (str(e).splitlines() or [""])[0]
    return "out of memory" + (f": {msg}" if msg else "") + " (try a smaller input or output size)"


def report_fatal(e: BaseException) -> int:
    """Write the one ``error: …`` line of an interrupt or a ``MemoryError`` to stderr; its exit code
    (the CLI's :func:`actdiff.cli.main` and the verbs' and scripts' wrappers in :mod:`actdiff.commands.common`)."""
    msg, code = interrupt_line(e) if isinstance(e, KeyboardInterrupt) else (memory_line(e), 2)
    sys.stderr.write(f"error: {msg}\n")
    return code
