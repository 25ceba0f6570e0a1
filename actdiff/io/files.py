"""Atomic, no-clobber outputs: write beside the target, swap it in only when complete.

An output ``NAME`` is written as the hidden ``.NAME.partial-PID-XXXXXXXX`` beside it and swapped in
when complete, so at every instant ``NAME`` is either the old output or the complete new one:

* a file replacing a file: ``os.replace`` (atomic);
* a folder (or a file replacing a folder, or the reverse): the two paths are exchanged atomically
  (Linux ``renameat2(RENAME_EXCHANGE)``) and the old output, now at the hidden name, is deleted;
  where that call is missing, the old output is renamed aside (``.NAME.old-PID-XXXXXXXX``), the
  new one renamed in, then the old one deleted, with SIGINT/SIGTERM held back during the two
  renames (a ``SIGKILL`` between them leaves the old output at the hidden name, restored by the
  next run).

The output gets the permissions a plain write would give (files ``0o666``, folders ``0o777``, less the
umask; execute bits kept): libraries that write private files (safetensors writes ``0o600``) would
otherwise leave a shared weights folder unreadable to other users.

Hidden leftovers of runs that were killed (their process id no longer runs) are cleaned up by the
next write to the same output: a partial output is deleted, an old output put back if the new
one never arrived (else deleted).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import signal
import uuid
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

from actdiff.errors import InputError, OutputError

PathLike = Union[str, Path]  # noqa: UP007 - a runtime alias

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
_renameat2 = None


def remove_path(p: Path) -> None:
    """Delete a file, link or folder tree if it exists."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def check_input_file(path: PathLike) -> Path:
    """``path`` when it is a regular file (links followed), else a one-line ``InputError`` saying
    whether it is missing, a folder, or something else (a device, a pipe)."""
    p = Path(path)
    if not p.is_file():
        why = "no such file" if not p.exists() else "it is a folder" if p.is_dir() else "not a regular file"
        raise InputError(f"cannot read {p}: {why}")
    return p


def check_writable(path: PathLike, overwrite: bool, what: str = "output") -> Path:
    """Raise ``OutputError`` if ``path`` exists and ``overwrite`` is false."""
    target = Path(path)
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise OutputError(f"{what} {path} exists (pass --overwrite to replace it)")
    return target


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_not_input(outputs: Iterable[Optional[PathLike]], inputs: Iterable[Optional[PathLike]]) -> None:
    """``OutputError`` when an output resolves to an input (links and ``..`` followed), lies inside
    an input folder, or two outputs are the same path; ``None`` entries are skipped."""
    ins = [Path(p) for p in inputs if p]
    outs = [Path(p) for p in outputs if p]
    for i, out in enumerate(outs):
        for src in ins:
            if _same(out, src):
                raise OutputError(f"output {out} is the input {src}: choose another output path")
            if src.is_dir() and out.resolve().is_relative_to(src.resolve()):
                raise OutputError(f"output {out} is inside the input folder {src}: choose another output path")
        for other in outs[i + 1:]:
            if _same(out, other):
                raise OutputError(f"two outputs are the same path {out}")


def prepare_outputs(outputs: Iterable[Optional[PathLike]], inputs: Iterable[Optional[PathLike]] = (),
                    overwrite: bool = False, files: bool = False) -> None:
    """Everything to check about output paths before any work starts: none is an input
    (:func:`check_not_input`), none lies below a file, leftovers of killed runs are cleaned
    (:func:`clean_stale`), the nearest existing folder on its path may be written, an existing
    output needs ``overwrite`` and, with ``files`` (outputs that are single files), is not a
    folder. ``None`` entries are skipped."""
    outputs = [Path(p) for p in outputs if p]
    check_not_input(outputs, inputs)
    for p in outputs:
        blocker = next((a for a in p.parents if a.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise OutputError(f"cannot write {p}: {blocker} is a file")
        if blocker is not None and not os.access(blocker, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {p}: no permission to write in {blocker}")
        try:
            clean_stale(p)
        except OSError as e:
            raise OutputError(f"cannot write {p}: {e.strerror or e}") from None
        check_writable(p, overwrite)
        if files and p.is_dir():
            raise OutputError(f"{p} is a folder, expected a file path")


def refuse_outputs(parser, outputs: Iterable[Optional[PathLike]], overwrite: bool = False,
                   inputs: Iterable[Optional[PathLike]] = ()) -> None:
    """For scripts, right after ``parse_args`` and before any work: :func:`prepare_outputs` on
    output files, an ``OutputError`` (an output exists without ``--overwrite``, cannot be
    written, is an input) becoming ``parser.error``: one line, exit code 2, no traceback."""
    try:
        prepare_outputs(outputs, inputs, overwrite, files=True)
    except OutputError as e:
        parser.error(str(e))


def _hidden(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}{target.suffix}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_stale(path: PathLike) -> list[Path]:
    """Remove the hidden leftovers of killed runs writing ``path`` (see the module docstring);
    an old output whose replacement never arrived is renamed back to ``path``. Returns what it
    removed or restored."""
    target = Path(path)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(partial|old)-(\d+)-[0-9a-f]{{8}}")
    done = []
    if not target.parent.is_dir():
        return done
    stale = [(m.group(1), p) for p in sorted(target.parent.iterdir())
             if (m := pattern.match(p.name)) and not _alive(int(m.group(2))) and int(m.group(2)) != os.getpid()]
    for kind, p in sorted(stale, key=lambda kp: kp[0] == "partial"):  # old outputs first
        if kind == "old" and not (target.exists() or target.is_symlink()):
            os.rename(p, target)
        else:
            remove_path(p)
        done.append(p)
    return done


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); ``False`` where unsupported."""
    global _renameat2
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            _renameat2 = fn
        except (AttributeError, OSError):
            _renameat2 = False
    if not _renameat2:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back inside the block (they are delivered when it ends)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_modes(path: Path) -> None:
    """Give ``path`` and everything below it the mode a plain ``open``/``mkdir`` would give: files
    ``0o666``, folders ``0o777``, less the umask; execute bits of files kept; links untouched."""
    mask = _current_umask()
    for p in [path, *path.rglob("*")] if path.is_dir() and not path.is_symlink() else [path]:
        if p.is_symlink():
            continue
        mode = p.stat().st_mode
        wanted = 0o777 if p.is_dir() else 0o666 | (mode & 0o111)
        if mode & 0o777 != wanted & ~mask:
            p.chmod(wanted & ~mask)


def swap_in(new: Path, target: Path) -> None:
    """Move the complete output ``new`` to ``target``, replacing whatever is there, so that
    ``target`` is at every instant the old output or the new one (see the module docstring)."""
    exists = target.exists() or target.is_symlink()
    if not exists or not (target.is_dir() or new.is_dir()):
        os.replace(new, target)  # atomic; os.replace cannot replace a folder, nor a file by a folder
        return
    if _exchange(new, target):
        remove_path(new)  # the old output, now at the hidden name
        return
    aside = _hidden(target, "old")
    with signals_deferred():
        os.rename(target, aside)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(aside, target)
            raise
    remove_path(aside)


@contextlib.contextmanager
def atomic_output(path: PathLike, overwrite: bool = False, what: str = "output") -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; on success swap it in (:func:`swap_in`).

    On any error (or interrupt) the temporary file or folder is removed, so no partial output
    is ever left behind, and an existing ``path`` is untouched. Leftovers of killed runs are
    cleaned first (:func:`clean_stale`). ``OSError`` becomes ``OutputError``.
    """
    target = Path(path)
    try:
        clean_stale(target)
    except OSError as e:
        raise OutputError(f"cannot write {what} {path}: {e.strerror or e}") from None
    check_writable(target, overwrite, what)
    tmp = _hidden(target, "partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        plain_modes(tmp)
        swap_in(tmp, target)
    except BaseException as e:
        remove_path(tmp)
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {what} {path}: {e.strerror or e}") from None
        raise


def atomic_write_bytes(path: PathLike, data: bytes, overwrite: bool = False, what: str = "output") -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, overwrite, what) as tmp:
        tmp.write_bytes(data)
    return Path(path)
