"""One lock per key, so that threads asking for the same cached result compute it once.

The decoder's per-segment caches (:func:`actdiff.motion.keyflow.cached_corrections`,
:func:`actdiff.motion.edge_field.segment_displacement`) are filled by whichever thread asks first;
the encoder's ``detail_mix`` choice asks from several threads for frames of the same segment at
once. Without a lock per key every thread that misses computes the same result (two DIS flows, a
filter pass); with one, the others wait for it and read the cache, while threads on other keys go
on. The results do not depend on it. :class:`SegmentCache` is such a cache, keyed by segment object
(keyflow's corrections, the sprites of :mod:`actdiff.motion.sprites`).
"""

from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Dict, Hashable, Iterator, List, TypeVar

T = TypeVar("T")


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


class SegmentCache:
    """The last ``size`` results computed per segment object (a decoded segment's frames are
    predicted one by one and share them): ``cache.get(seg, key, compute)`` returns the result
    stored for ``seg`` under the same ``key`` (the settings it was computed with), else
    ``compute()``'s, computed once when several threads ask at once."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._items: Dict[int, tuple] = {}  # id(seg) → (weakref to seg, key, result)
        self._computing = KeyedLock()

    def get(self, seg: Any, key: Hashable, compute: Callable[[], T]) -> T:
        with self._computing.hold(id(seg)):
            hit = self._items.get(id(seg))
            if hit is not None and hit[0]() is seg and hit[1] == key:
                return hit[2]
            out = compute()
            if id(seg) not in self._items and len(self._items) >= self._size:  # a new segment: drop the oldest
                self._items.pop(next(iter(self._items), None), None)  # another thread may have taken it
            self._items[id(seg)] = (weakref.ref(seg), key, out)
        return out

    def clear(self) -> None:
        """Forget every result."""
        self._items.clear()
