"""Threads asking for the same per-segment cache entry compute it once (KeyedLock)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from actdiff.motion import edge_field, keyflow
from actdiff.motion.fusion import FusionParams
from actdiff.motion.keyed_lock import KeyedLock, SegmentCache
from actdiff.training.synthetic import segment_from_frames, synthetic_video
from actdiff.types import DecodedSegment


def _segment() -> DecodedSegment:
    """A 12-frame segment of a moving texture with tracks along its motion."""
    return segment_from_frames(synthetic_video(12, 24, 32).frames, 0, 11, num_points=8)


def test_one_thread_per_key_and_keys_are_dropped():
    locks, inside, most, guard = KeyedLock(), [0], [0], threading.Lock()

    def work(key: str) -> None:
        with locks.hold(key):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.02)
            with guard:
                inside[0] -= 1

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, ["a"] * 8))
    assert most[0] == 1 and len(locks) == 0
    both_in = threading.Barrier(2, timeout=5)  # other keys go on together: both threads get in

    def meet(key: str) -> None:
        with locks.hold(key):
            both_in.wait()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(meet, ["x", "y"]))
    assert len(locks) == 0

def test_segment_cache_keeps_a_result_per_segment_and_settings():
    cache, calls = SegmentCache(2), []

    def compute(value):
        calls.append(value)
        return [value]

    a, b, c = _segment(), _segment(), _segment()
    first = cache.get(a, 1, lambda: compute("a1"))
    assert cache.get(a, 1, lambda: compute("again")) is first  # same segment, same settings: kept
    assert cache.get(a, 2, lambda: compute("a2")) == ["a2"]     # other settings: computed again
    cache.get(b, 1, lambda: compute("b1"))
    cache.get(c, 1, lambda: compute("c1"))                       # size 2: the oldest (a) goes
    assert cache.get(a, 2, lambda: compute("a2 again")) == ["a2 again"]
    assert cache.get(a, 3, lambda: compute("a3")) == ["a3"]      # a segment computed again keeps its place:
    assert cache.get(c, 1, lambda: compute("c1 again")) == ["c1"]  # c (kept beside a) is not dropped for it
    assert calls == ["a1", "a2", "b1", "c1", "a2 again", "a3"]


def test_corrections_of_one_segment_are_computed_once_by_two_threads(monkeypatch):
    calls = []
    real = keyflow.keyframe_corrections

    def slow(*args, **kwargs):
        calls.append(1)
        time.sleep(0.3)  # both threads ask while the first computes
        return real(*args, **kwargs)

    monkeypatch.setattr(keyflow, "keyframe_corrections", slow)
    keyflow._CACHE.clear()
    seg = _segment()
    with ThreadPoolExecutor(2) as pool:
        out = list(pool.map(lambda _: keyflow.cached_corrections(seg, seg.bandwidth), range(2)))
    assert len(calls) == 1 and out[0] is out[1]


def test_a_chunk_of_edge_fields_is_filtered_once_by_two_threads(monkeypatch):
    calls = []
    real = edge_field.guided_fields

    def slow(*args, **kwargs):
        calls.append(1)
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(edge_field, "guided_fields", slow)
    edge_field._CACHE.clear()
    seg, params = _segment(), FusionParams().edge()
    with ThreadPoolExecutor(2) as pool:  # frames 1 and 2 lie in one chunk (frames 1 … 8)
        out = list(pool.map(lambda t: edge_field.segment_displacement(seg, t, 0, seg.bandwidth, params), [1, 2]))
    assert len(calls) == 1
    edge_field._CACHE.clear()
    np.testing.assert_array_equal(out[1], edge_field.segment_displacement(seg, 2, 0, seg.bandwidth, params))
