"""Atomic, no-clobber outputs: write beside the target, rename over it only when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator, Union

from actdiff.errors import OutputError

PathLike = Union[str, Path]  # noqa: UP007 - a runtime alias


def remove_path(p: Path) -> None:
    """Delete a file, link or folder tree if it exists."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def check_writable(path: PathLike, overwrite: bool, what: str = "output") -> Path:
    """Raise ``OutputError`` if ``path`` exists and ``overwrite`` is false."""
    target = Path(path)
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise OutputError(f"{what} {path} exists (pass --overwrite to replace it)")
    return target


@contextlib.contextmanager
def atomic_output(path: PathLike, overwrite: bool = False, what: str = "output") -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; on success rename it over ``path``.

    On any error (or interrupt) the temporary file or folder is removed, so no partial output
    is ever left behind, and an existing ``path`` is untouched. ``OSError`` becomes
    ``OutputError``.
    """
    target = check_writable(path, overwrite, what)
    tmp = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}{target.suffix}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if (target.exists() or target.is_symlink()) and (target.is_dir() or tmp.is_dir()):
            remove_path(target)  # os.replace cannot replace a folder, nor a file by a folder
        os.replace(tmp, target)
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
