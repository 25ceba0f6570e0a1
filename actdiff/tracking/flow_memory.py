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
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from actdiff.errors import InputError

log = logging.getLogger(__name__)

GB = 1e9


def available_memory() -> Optional[int]:
    """Bytes of memory available now: Linux's ``MemAvailable``, or less where the process's memory
    cgroup (a container, a SLURM job) allows less (:func:`cgroup_room`); ``None`` where unknown."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    room = cgroup_room()
    return avail if room is None else room if avail is None else min(avail, room)


def cgroup_room(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> Optional[int]:
    """Bytes the memory cgroups of this process still allow: the smallest limit less anonymous
    memory over the process's cgroup and its parents (cgroup v2 ``memory.max``/``anon``, v1
    ``memory.limit_in_bytes``/``total_rss``); ``None`` without a limit or where unreadable."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            base, files = root, ("memory.max", "anon")
        elif "memory" in controllers.split(","):
            base, files = root / "memory", ("memory.limit_in_bytes", "total_rss")
        else:
            continue
        here = base / path.strip("/")
        for folder in [here, *here.parents]:
            rooms.append(_room(folder, *files))
            if folder == base:
                break
    rooms = [r for r in rooms if r is not None]
    return min(rooms) if rooms else None


def _room(folder: Path, limit_file: str, used_key: str) -> Optional[int]:
    """``limit - used`` of one cgroup folder, ``None`` without a limit there."""
    try:
        limit = (folder / limit_file).read_text().strip()
        if limit == "max" or int(limit) >= 1 << 60:  # v1 writes "no limit" as a huge number
            return None
        stats = dict(ln.split()[:2] for ln in (folder / "memory.stat").read_text().splitlines() if ln.strip())
        return max(int(limit) - int(stats.get(used_key, 0)), 0)
    except (OSError, ValueError):
        return None


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
    if nbytes <= flow_limit(memory_gb):
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
                shape[0] + 1, width, height, size, _allowed(memory_gb), folder, note)
    return buf[0], buf[1]


def fs_type(folder: str | Path, mounts: Path = Path("/proc/mounts")) -> str:
    """The file-system type (``ext4``, ``tmpfs``…) of the mount holding ``folder``; ``""`` where unknown."""
    target, best = Path(folder).resolve(), ("", -1)
    try:
        for line in mounts.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3:
                point = Path(fields[1].replace("\\040", " "))
                if (target == point or point in target.parents) and len(point.parts) > best[1]:
                    best = (fields[2], len(point.parts))
    except OSError:
        pass
    return best[0]


def _size(nbytes: float) -> str:
    return f"{nbytes / GB:.1f} GB" if nbytes >= GB else f"{nbytes / 1e6:.0f} MB"


def _allowed(memory_gb: Optional[float]) -> str:
    return _size(flow_limit(memory_gb)) + ("" if memory_gb is not None else " (half the memory available)")
