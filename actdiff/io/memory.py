"""What the machine has to spare: memory available (a memory cgroup's limit counted) and the
file-system type of a folder (a ``tmpfs`` is memory too).

Used to keep work within the memory of the machine it runs on: the encoder's flows go to a file
beyond a share of it (:mod:`actdiff.tracking.flow_memory`), the decoder's default budget is what
fits in it (:func:`actdiff.codec.decoder.check_budget`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional


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
