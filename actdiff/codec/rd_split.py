"""The RD search's split search (step 3 of :mod:`actdiff.codec.rdo`): each shot as one segment or
split, recursively, at the frame that halves its decoded distortion, whichever costs less in
``Σ D + λ · R``; see docs/rd_mode.md ("The search")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Dict, List, Optional, Set, Tuple

from actdiff.codec.rd_keyframes import KeyframeCoder, propagation_weight
from actdiff.codec.rd_segments import SegmentCost, SegmentCoster
from actdiff.codec.rd_settings import RDSettings
from actdiff.types import Segment


def keyframe_key(coder: KeyframeCoder, k: int, q: Dict[int, int], scale: float) -> Tuple[Any, Any]:
    """``(identity, decoded uint8 (Hc, Wc, 3))`` of keyframe ``k`` at quality ``q[k]`` and ``scale``
    (the identity keys the segment coster's decode cache)."""
    c = coder.get(k, q[k], scale)
    return (k, q[k], scale), c.decoded


class SplitSearch:
    """The split search of one RD search at one scale and λ (its caches are the coder's and the
    coster's, shared by every search of the encode).

    Args:
        keys: the search's keyframe coder.
        segs: the segment coster (trajectory selection, decodes, distortions).
        s: the search's settings (``codec.rd``).
        pixels: pixels of one coded frame (``R`` is bits per pixel of one frame).
        map_fn: ``map_fn(fn, items) -> [fn(x), …]``, on the search's worker pool when it has one.
        fast_keyframes: the fast mode's keyframes (``codec.rd.fast_partition``; empty when off).
    """

    def __init__(self, keys: KeyframeCoder, segs: SegmentCoster, s: RDSettings, pixels: int,
                 map_fn: Callable[[Callable[[Any], Any], Iterable[Any]], List[Any]], fast_keyframes: Set[int]) -> None:
        self.keys, self.segs, self.s, self.pixels, self.map_fn = keys, segs, s, pixels, map_fn
        self.fast_keyframes = fast_keyframes

    def key(self, k: int, q: Dict[int, int], scale: float) -> Tuple[Any, Any]:
        return keyframe_key(self.keys, k, q, scale)

    def split_point(self, a: int, b: int, d: Any) -> Optional[int]:
        """The frame of ``(a, b)`` that halves its interior distortion ``d`` (``(b - a - 1,)``), at
        least ``min_gop - 1`` frames from either end; ``None`` when the segment is too short."""
        lo, hi = a + self.s.min_gop - 1, b - self.s.min_gop + 1
        if lo > hi:
            return None
        cum = d.cumsum()
        m = a + 1 + int(min(len(cum) - 1, (cum < cum[-1] / 2).sum())) if cum[-1] > 0 else (a + b) // 2
        return min(max(m, lo), hi)

    def credit(self, k: int, left: int, right: int, q: Dict[int, int], scale: float, lam: float) -> float:
        """What keyframe ``k`` (at ``q[k]``) would save at the weight of segments of ``left`` and
        ``right`` frames by its best lower quality (``codec.rd.endpoint_credit``; 0 when off)."""
        if not self.s.endpoint_credit:
            return 0.0
        w = propagation_weight(left, right, self.s.propagation)
        best = self.keys.best_quality(k, scale, w, lam, self.pixels, self.s.qualities, q[k], down_only=True)[1]
        return self.keys.cost(k, q[k], scale, w, lam, self.pixels) - best

    def solve(self, a: int, b: int, q: Dict[int, int], scale: float, lam: float, outer: Tuple[int, int] = (0, 0)
              ) -> Tuple[float, List[Tuple[Segment, SegmentCost]]]:
        """Cheapest coding of ``(a, b)`` (keyframes ``a``, ``b`` given): as one segment, or split
        at the frame that halves its decoded distortion and each half solved the same way.
        ``outer``: the lengths of the segments beyond ``a`` and ``b`` (0: none), for the weights of
        :meth:`credit`. The cost returned is the segments' and new keyframes' at ``q``."""
        leaf = self.segs.best(a, b, self.s.budgets, self.key(a, q, scale), self.key(b, q, scale), lam, self.pixels)
        m = self.split_point(a, b, leaf.distortions) if b - a >= 2 else None
        if m is None:
            return leaf.cost, [(Segment(a, b), leaf)]
        if self.s.inherit_quality:  # one encode: the lower of the neighbours' qualities (re-chosen at the end)
            q[m] = min(q[a], q[b])
        else:
            w = propagation_weight(m - a + 1, b - m + 1, self.s.propagation)
            q[m], _ = self.keys.best_quality(m, scale, w, lam, self.pixels, self.s.qualities, min(q[a], q[b]),
                                             down_only=True)
        key_cost = self.keys.cost(m, q[m], scale, 1.0, lam, self.pixels)
        if key_cost >= leaf.cost:  # the halves cost >= 0: splitting cannot pay
            return leaf.cost, [(Segment(a, b), leaf)]
        if self.s.slack is not None:  # the halves as one segment each: far from paying, stop here
            halves = [c.cost for c in self.map_fn(lambda xy: self.segs.best(
                xy[0], xy[1], self.s.budgets, self.key(xy[0], q, scale), self.key(xy[1], q, scale), lam,
                self.pixels), ((a, m), (m, b)))]
            if key_cost + sum(halves) > (1 + self.s.slack) * leaf.cost:
                return leaf.cost, [(Segment(a, b), leaf)]
        n = b - a + 1
        leaf_credit = self.credit(a, outer[0], n, q, scale, lam) + self.credit(b, n, outer[1], q, scale, lam)
        left_cost, left = self.solve(a, m, q, scale, lam, (outer[0], b - m + 1))
        credit_a = self.credit(a, outer[0], left[0][0].length, q, scale, lam)
        if left_cost + key_cost - credit_a < leaf.cost - leaf_credit:
            right_cost, right = self.solve(m, b, q, scale, lam, (m - a + 1, outer[1]))
            credit = (credit_a + self.credit(m, left[-1][0].length, right[0][0].length, q, scale, lam)
                      + self.credit(b, right[-1][0].length, outer[1], q, scale, lam))
            if left_cost + key_cost + right_cost - credit < leaf.cost - leaf_credit:
                return left_cost + key_cost + right_cost, left + right
        return leaf.cost, [(Segment(a, b), leaf)]

    def solve_from(self, cuts: List[int], q: Dict[int, int], scale: float, lam: float
                   ) -> Tuple[float, List[Tuple[Segment, SegmentCost]]]:
        """Cheapest coding of the shot ``(cuts[0], cuts[-1])`` with keyframes at every frame of
        ``cuts`` (the interior ones at their best quality, written into ``q``) and each part between
        them solved by :meth:`solve`."""
        total, chosen, start = 0.0, [], min(q[cuts[0]], q[cuts[-1]])
        for left, m, right in zip(cuts, cuts[1:-1], cuts[2:]):
            w = propagation_weight(m - left + 1, right - m + 1, self.s.propagation)
            q[m], _ = self.keys.best_quality(m, scale, w, lam, self.pixels, self.s.qualities, start)
            total += self.keys.cost(m, q[m], scale, 1.0, lam, self.pixels)
        for a, b in zip(cuts, cuts[1:]):
            cost, parts = self.solve(a, b, q, scale, lam)
            total, chosen = total + cost, chosen + parts
        return total, chosen

    def solve_shot(self, shot: Segment, q: Dict[int, int], scale: float, lam: float
                   ) -> List[Tuple[Segment, SegmentCost]]:
        """The split search of ``shot`` from its ends and, with ``codec.rd.fast_partition``, from
        the fast mode's keyframes inside it: the cheaper coding (``q`` gets its keyframes' qualities)."""
        plain_q = dict(q)
        cost, chosen = self.solve(shot.start, shot.end, plain_q, scale, lam)
        inner = sorted(k for k in self.fast_keyframes if shot.start + self.s.min_gop - 1 <= k
                       <= shot.end - self.s.min_gop + 1)
        if inner:
            fast_q = dict(q)
            fast_cost, fast_chosen = self.solve_from([shot.start, *inner, shot.end], fast_q, scale, lam)
            if fast_cost < cost:
                plain_q, chosen = fast_q, fast_chosen
        q.update(plain_q)
        return chosen


__all__ = ["SplitSearch", "keyframe_key"]
