"""Where the pairwise flows of a clip live: in memory, or in a temporary file when too large.

The encoder keeps the forward and backward flows of every frame pair of the clip (two
``float32 (T-1, H, W, 2)`` arrays, 16 bytes per pixel and frame: 32 MB per 1080p frame, 19 GB for
600 frames), several times the frames themselves. When they would take more than the tracker's
``flow_memory_gb`` (default: half the memory available when they are allocated, the memory
cgroup's limit counted: :func:`available_memory`) they are kept in
an unnamed temporary file under ``$TMPDIR`` instead (``numpy.memmap``; the kernel pages them in
and out; the values, and so the stream, are the same), and a warning says so. The file's space is
reserved up front: a disk too small is a one-line error before any flow is computed, never a
crash halfway through. The file has no name and disappears with the arrays.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Optional, Tuple

import numpy as np

from actdiff.errors import InputError
from actdiff.io.memory import available_memory, fs_type

log = logging.getLogger(__name__)

GB = 1e9


def flow_limit(memory_gb: Optional[float]) -> float:
    """Bytes the two flow arrays may take in memory: ``memory_gb`` GB, or (``None``) half of
    :func:`available_memory` (no limit where that is unknown)."""
    if memory_gb is not None:
        return float(memory_gb) * GB
    avail = available_memory()
    return avail / 2 if avail is not None else float("inf")


def flow_buffers(pairs: int, height: int, width: int,
                 memory_gb: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Two uninitialised ``float32 (pairs, height, width, 2)`` arrays (forward, backward flows):
    in memory up to :func:`flow_limit` bytes together, else in a temporary file (module
    docstring). Raises a one-line :class:`InputError` when the disk cannot hold that file."""
    shape = (max(int(pairs), 0), int(height), int(width), 2)
    nbytes = 2 * int(np.prod(shape)) * 4
    limit = flow_limit(memory_gb)
    if nbytes <= limit:
        return np.empty(shape, np.float32), np.empty(shape, np.float32)
    folder = tempfile.gettempdir()
    size = _size(nbytes)
    with tempfile.TemporaryFile(dir=folder) as f:
        try:
            os.posix_fallocate(f.fileno(), 0, nbytes)
        except OSError as e:
            raise InputError(f"the motion of {shape[0] + 1} frames at {width}x{height} needs {size}, more than "
                             f"the memory allowed, and {folder} cannot hold it ({e.strerror or e}): encode fewer "
                             "frames (--frames) or a smaller size (--size), or set TMPDIR to a larger disk") from None
        buf = np.memmap(f, np.float32, "r+", shape=(2, *shape))
    kind = fs_type(folder)
    in_memory = kind in ("tmpfs", "ramfs")
    note = f"; {folder} is a {kind} held in memory: set TMPDIR to a folder on disk" if in_memory else ""
    log.warning("the motion of %d frames at %dx%d needs %s, more than the %s allowed in memory "
                "(codec.tracker.flow_memory_gb): kept in a temporary file under %s (slower)%s",
                shape[0] + 1, width, height, size,
                _size(limit) + ("" if memory_gb is not None else " (half the memory available)"), folder, note)
    return buf[0], buf[1]


def _size(nbytes: float) -> str:
    return f"{nbytes / GB:.1f} GB" if nbytes >= GB else f"{nbytes / 1e6:.0f} MB"
