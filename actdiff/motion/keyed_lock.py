"""One lock per key, so that threads asking for the same cached result compute it once.

The decoder's per-segment caches (:func:`actdiff.motion.keyflow.cached_corrections`,
:func:`actdiff.motion.edge_field.segment_displacement`) are filled by whichever thread asks first;
the encoder's ``detail_mix`` choice asks from several threads for frames of the same segment at
once. Without a lock per key every thread that misses computes the same result (two DIS flows, a
filter pass); with one, the others wait for it and read the cache, while threads on other keys go
on. The results do not depend on it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Dict, Hashable, Iterator, List


class KeyedLock:
    """``with locks.hold(key): …`` runs one thread at a time per ``key``; a key's lock is dropped
    when no thread holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: Dict[Hashable, List] = {}  # key → [lock, threads holding or waiting]

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]

    def __len__(self) -> int:
        """Keys held or waited for now."""
        with self._guard:
            return len(self._locks)
