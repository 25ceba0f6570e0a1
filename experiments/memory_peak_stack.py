"""Where an ``actdiff`` command reaches its peak memory: the main thread's stack at the peak.

Usage (any verb and options of the command line)::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/memory_peak_stack.py evaluate --data CLIP \\
        --protocol native --rates r1 --metrics psnr -o /tmp/e.json -q codec.threads=1

Runs the command in this process while a thread samples the anonymous resident memory
(``RssAnon``: what cannot be paged out without swap) every 50 ms and keeps the main thread's last
frames each time it reaches a new maximum; prints the peak (GB), when it came (seconds) and that
stack on stderr. Freed memory the allocator keeps counts too, so a phase after the heaviest one may
show the same peak: read the stack with that in mind. With ``codec.threads=1`` the work runs in the
main thread and the order is fixed, so two revisions compare (``PYTHONPATH`` set to each).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from pathlib import Path


def rss_anon() -> int:
    """Bytes of this process's anonymous resident memory now (0 where /proc has no such line)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    from actdiff.cli import main as actdiff_main

    best: list = [0, [], 0.0]
    done = threading.Event()
    main_id, t0 = threading.get_ident(), time.time()

    def sample() -> None:
        while not done.is_set():
            anon = rss_anon()
            if anon > best[0]:
                frame = sys._current_frames().get(main_id)
                best[:] = [anon, traceback.format_stack(frame)[-14:] if frame else [], time.time() - t0]
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        return actdiff_main(argv)
    finally:
        done.set()
        sampler.join()
        print(f"peak anonymous memory {best[0] / 1e9:.2f} GB at {best[2]:.0f} s of {time.time() - t0:.0f} s; "
              "main thread there:\n" + "".join(best[1]), file=sys.stderr)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main, sys.argv[1:])
