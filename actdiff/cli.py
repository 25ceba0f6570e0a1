"""The ``actdiff`` command: ``actdiff VERB [options]``; each verb's ``main(argv)`` is importable."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

from actdiff.errors import Interrupted, interrupt_line, report_fatal  # imports only sys: stays fast

VERBS = {
    "encode": "compress a video into one self-contained .adv file",
    "decode": "reconstruct frames from an .adv file alone",
    "fit": "train the diffusion decoder or a selector (Lightning)",
    "evaluate": "encode → decode → metrics over a dataset and rate points; results JSON",
    "bench": "classical baselines (x264, x265, SVT-AV1) with the same protocol and JSON",
    "bdrate": "Bjøntegaard delta rate of A against an anchor B (negative = A saves bits)",
    "plot": "rate–distortion/perception curves from results JSONs",
    "compare": "contact sheet of two results JSONs (decoded frames, bpp, metrics)",
    "sweep": "expand an ablation grid and run every point; one table",
    "demo": "run the whole codec on the bundled sample clip and print a rate/quality table",
}
EXTRA_VERBS = {"export": "export trained weights (EMA) as safetensors", "info": "describe an .adv file"}


def usage() -> str:
    lines = ["usage: actdiff VERB [options]   (actdiff VERB --help for a verb's options)", "", "verbs:"]
    for name, text in {**VERBS, **EXTRA_VERBS}.items():
        lines.append(f"  {name:<9} {text}")
    return "\n".join(lines) + "\n"


def _on_signal(signum: int, frame: Any) -> None:
    """First SIGINT/SIGTERM: raise ``Interrupted`` (cleanups run, one ``error:`` line, 130/143).
    A second one while those cleanups run: print the line and leave at once."""
    if _SEEN:
        msg, code = interrupt_line(Interrupted(signum))
        os.write(2, f"error: {msg}\n".encode())
        os._exit(code)
    _SEEN.append(signum)
    if _HOLDING:
        return  # raised by :func:`_signals_held` when the native import is done
    raise Interrupted(signum)


_SEEN: list = []
_HOLDING: list = []


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold a first SIGINT/SIGTERM until the block ends, then raise it. For imports of native
    libraries (torch): an exception raised in a Python callback their C++ code runs aborts the
    process (SIGABRT, no error line, exit -6). A second signal still leaves at once, in one line."""
    _HOLDING.append(True)
    try:
        yield
    finally:
        _HOLDING.pop()
    if _SEEN:
        raise Interrupted(_SEEN[0])


def install_signal_handlers() -> Dict[int, Callable]:
    """Route SIGINT and SIGTERM to :func:`_on_signal`; returns the previous handlers."""
    _SEEN.clear()
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread: leave signals alone
            pass
    return old


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run a verb. SIGINT/SIGTERM at any moment (imports included) end it with one
    ``error:`` line and exit code 130/143; a ``MemoryError`` with one line and 2.

    Called with ``argv`` (from Python), the previous signal handlers are restored on return;
    as the program (``argv`` None) they stay until the interpreter exits."""
    old = install_signal_handlers()  # first, before any heavy import
    try:
        return _main(argv)
    except (KeyboardInterrupt, MemoryError) as e:
        return report_fatal(e)
    except Exception:
        if not _SEEN:
            raise
        # the signal's Interrupted was raised inside a library that turned it into another
        # error (omegaconf does, in the middle of composing a config): still an interrupt
        return report_fatal(Interrupted(_SEEN[0]))
    finally:
        if argv is not None:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return 0
    if argv[0] == "--version":
        from actdiff import __version__

        print(f"actdiff {__version__}")
        return 0
    verb = argv[0]
    if verb not in VERBS and verb not in EXTRA_VERBS:
        sys.stderr.write(f"error: unknown verb {verb!r}; run 'actdiff --help' for the list\n")
        return 2
    if not {"-h", "--help"} & set(argv[1:]):
        with _signals_held():  # every verb imports torch; a signal during its import waits for it
            import torch  # noqa: F401
    module = importlib.import_module(f"actdiff.commands.{verb}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
