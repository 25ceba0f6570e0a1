"""One segment's cost in the RD encoder: trajectories selected at a budget, decoded, scored.

For a segment ``(a, b)`` with decoded keyframes at both ends and a trajectory budget ``n``
(points), :class:`SegmentCoster` selects the trajectories (the configured selector, with the
search's overrides ``codec.rd.search``), codes them (their exact size in bits), builds what the
decoder would get from the file (:class:`~actdiff.types.DecodedSegment`), decodes interior
frames with the decoder in the loop (``codec.rd.decoder``, default the warp decoder, called
through its public ``decode_frames``/``decode_segment``) and scores them with the RD distortion
(:class:`~actdiff.codec.distortion.Distortion`). To keep the search fast only every
``eval_stride``-th interior frame is decoded, at most ``eval_frames`` evenly spaced ones a
segment; the distortion of the others is interpolated linearly. The segment's cost is
``Σ_interior D + λ · bits / pixels``; :meth:`SegmentCoster.best` tries the budgets in increasing
order and stops once the cost rises.

Dense motion is chained once per ``(a, b)``, selections are cached by ``(a, b, n)`` and decodes
by ``(a, b, n, start keyframe, end keyframe)``, so re-running the search at another λ (rate
control) reuses them. The coster is thread-safe: the search may evaluate segments concurrently
(every result depends only on its key, so the decisions do not depend on the order).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Hashable, Mapping, Optional, Sequence, Tuple

import numpy as np
from omegaconf import DictConfig, open_dict

from actdiff.codec.distortion import Distortion
from actdiff.codec.encoding import Prepared, segment_motion
from actdiff.decoders import build_decoder
from actdiff.motion.temporal import skip_error, upsample_tracks
from actdiff.registry import TRAJECTORY_SELECTORS
from actdiff.types import DecodedSegment, DenseMotion, Segment, StreamHeader, Tracks


def loop_header(prep: Prepared, seed: int) -> StreamHeader:
    """The header fields a decoder in the encoder's loop reads (sizes, frame count, fps, seed) for
    the prepared clip ``prep``; no stream params."""
    h, w = prep.coded_size
    return StreamHeader(height=prep.height, width=prep.width, coded_height=h, coded_width=w,
                        num_frames=int(prep.frames.shape[0]), fps=prep.fps, seed=int(seed), params={})


def eval_frames(length: int, stride: int, most: int) -> np.ndarray:
    """Segment-relative interior frames ``int (n,)`` that are decoded and scored: every
    ``stride``-th of ``1 … length - 2`` (centred), at most ``most`` evenly spaced ones."""
    interior = length - 2
    if interior <= 0:
        return np.zeros(0, np.int64)
    n = max(1, min(most, -(-interior // max(1, stride))))
    if n >= interior:
        return np.arange(1, length - 1)
    return np.unique(np.rint(1 + (np.arange(n) + 0.5) * interior / n - 0.5).astype(np.int64))


#: Start frames whose chained dense motion is kept (each up to ``max_gop`` frames of flow).
MOTION_CACHE = 3


@dataclass
class CodedTracks:
    """A segment's coded trajectories (quantised, every ``temporal_stride``-th frame), their
    size in bits and interpolation bandwidth (pixels); ``skip``: what the stride loses on the
    selected, smoothed trajectories (:func:`actdiff.motion.temporal.skip_error`, pixels)."""

    tracks: Tracks
    bits: int
    bandwidth: float
    skip: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class SegmentCost:
    """A segment coded with one budget: ``budget`` (points), the coded tracks, the distortion
    of each interior frame ``float64 (L - 2,)`` and the cost ``Σ D + λ · bits / pixels``."""

    budget: int
    coded: CodedTracks
    distortions: np.ndarray
    cost: float


class SegmentCoster:
    """Selects, codes, decodes and scores segments (module docstring).

    Args:
        prep: the prepared clip (padded frames, flows, stages, trajectory coding).
        codec: the ``codec`` config section.
        refs: :meth:`Distortion.prepare`\\ d source frames.
        distortion: the distortion measure.
        decoder: the decoder in the loop (a name or a ``codec.decoder``-style section).
        search: overrides of ``codec.trajectories`` used while searching (selection only).
        selection: overrides of ``codec.trajectories`` for the stream's own tracks (:meth:`final_tracks`).
        stride, most: which interior frames are decoded and scored (:func:`eval_frames`).
    """

    def __init__(self, prep: Prepared, codec: DictConfig, refs: Sequence[Any], distortion: Distortion,
                 decoder: Any = "warp", search: Optional[Mapping[str, Any]] = None, stride: int = 2,
                 most: int = 12, selection: Optional[Mapping[str, Any]] = None) -> None:
        self.prep, self.refs, self.distortion = prep, refs, distortion
        self.eval_stride, self.eval_most = int(stride), int(most)
        self.codec = copy.deepcopy(codec)
        self.final = copy.deepcopy(codec.trajectories)
        with open_dict(self.codec.trajectories), open_dict(self.final):
            for k, v in dict(search or {}).items():
                self.codec.trajectories[k] = v
            for k, v in dict(selection or {}).items():
                self.final[k] = v
            self.codec.trajectories.budget_bits = self.final.budget_bits = None
        self.same_selection = self.codec.trajectories == self.final
        self.stride = int(self.codec.trajectories.temporal_stride)
        self.decoder = build_decoder(decoder)
        self.header = loop_header(prep, int(codec.seed))
        self._motion: Dict[int, DenseMotion] = {}
        self._tracks: Dict[Tuple[int, int, int], CodedTracks] = {}
        self._final: Dict[Tuple[int, int, int], CodedTracks] = {}
        self._decoded: Dict[Tuple[Any, ...], np.ndarray] = {}
        self._lock = threading.Lock()  # guards the motion cache (evictions) across search threads

    @property
    def selections(self) -> int:
        return len(self._tracks)

    @property
    def decodes(self) -> int:
        return len(self._decoded)

    def motion(self, a: int, b: int) -> DenseMotion:
        """Dense motion of frame ``a``'s pixels over ``a … b``: chained once per start frame up to
        the furthest end asked for (a shorter segment from the same start is a prefix of it);
        the chains of the last :data:`MOTION_CACHE` start frames are kept."""
        with self._lock:
            have = self._motion.get(a)
        if have is None or have.num_frames < b - a + 1:
            have = segment_motion(self.prep.frames, self.prep.flows, a, b, self.codec)
        with self._lock:
            old = self._motion.pop(a, None)
            if old is not None and old.num_frames > have.num_frames:  # another thread chained further
                have = old
            self._motion[a] = have
            while len(self._motion) > MOTION_CACHE:
                self._motion.pop(next(iter(self._motion)))
        n = b - a + 1
        return have if have.num_frames == n else DenseMotion(flow=have.flow[:n], confidence=have.confidence[:n])

    def _select(self, a: int, b: int, budget: int, cfg: DictConfig) -> CodedTracks:
        seg = Segment(a, b)
        cfg = copy.deepcopy(cfg)  # the budget set on a copy: segments may be selected concurrently
        cfg.budget_points = int(budget)
        tracks, bandwidth = TRAJECTORY_SELECTORS.get(cfg.name)(
            self.prep.frames[a], self.motion(a, b), cfg,
            visibility_threshold=float(self.codec.tracker.visibility_threshold), cost_bits=self.prep.coding.cost_bits)
        smoothed = self.prep.coding.smooth(tracks)
        coded = self.prep.coding.code_smoothed(smoothed)
        h, w = self.prep.coded_size
        bits = 8 * len(self.prep.stages.coder.encode(coded, h, w)) if seg.length > 2 else 0
        return CodedTracks(coded, bits, float(bandwidth), skip_error(smoothed, self.stride))

    def tracks(self, a: int, b: int, budget: int) -> CodedTracks:
        """The coded trajectories of segment ``(a, b)`` at ``budget`` points as the search selects
        them (cached)."""
        key = (a, b, int(budget))
        if key not in self._tracks:
            self._tracks[key] = self._select(a, b, budget, self.codec.trajectories)
        return self._tracks[key]

    def final_tracks(self, a: int, b: int, budget: int) -> CodedTracks:
        """The trajectories the stream carries: the configured selector's (``codec.trajectories``
        without the search's overrides) at the budget the search chose (cached)."""
        if self.same_selection:
            return self.tracks(a, b, budget)
        key = (a, b, int(budget))
        if key not in self._final:
            self._final[key] = self._select(a, b, budget, self.final)
        return self._final[key]

    def distortions(self, a: int, b: int, budget: int, key_a: Tuple[Hashable, np.ndarray],
                    key_b: Tuple[Hashable, np.ndarray]) -> np.ndarray:
        """Distortion ``float64 (b - a - 1,)`` of the decoded interior frames of ``(a, b)`` with
        decoded keyframes ``key_a``/``key_b`` (``(identity, uint8 (Hc, Wc, 3))``) (cached)."""
        key = (a, b, int(budget), key_a[0], key_b[0])
        if key not in self._decoded:
            seg = Segment(a, b)
            coded = self.tracks(a, b, budget)
            dseg = DecodedSegment(seg, key_a[1], key_b[1], upsample_tracks(coded.tracks, seg.length, self.stride),
                                  coded.bandwidth)
            ts = eval_frames(seg.length, self.eval_stride, self.eval_most)
            frames = self.decoder.decode_frames(self.header, dseg, ts)
            d = self.distortion.frames([self.refs[a + t] for t in ts], frames)
            self._decoded[key] = np.interp(np.arange(1, seg.length - 1), ts, d)
        return self._decoded[key]

    def cost(self, a: int, b: int, budget: int, key_a: Tuple[Hashable, np.ndarray],
             key_b: Tuple[Hashable, np.ndarray], lam: float, pixels: int) -> SegmentCost:
        coded = self.tracks(a, b, budget)
        d = self.distortions(a, b, budget, key_a, key_b)
        return SegmentCost(int(budget), coded, d, float(d.sum()) + lam * coded.bits / pixels)

    def best(self, a: int, b: int, budgets: Sequence[int], key_a: Tuple[Hashable, np.ndarray],
             key_b: Tuple[Hashable, np.ndarray], lam: float, pixels: int) -> SegmentCost:
        """The cheapest budget for ``(a, b)``: budgets in increasing order, stopping at the first
        rise of the cost. A segment without interior frames carries no trajectories (cost 0)."""
        if b - a < 2:
            return SegmentCost(0, CodedTracks(Tracks.empty(b - a + 1), 0, 16.0), np.zeros(0), 0.0)
        best: Optional[SegmentCost] = None
        for n in sorted(budgets):
            c = self.cost(a, b, n, key_a, key_b, lam, pixels)
            if best is not None and c.cost >= best.cost:
                break
            best = c
        assert best is not None
        return best


__all__ = ["CodedTracks", "SegmentCost", "SegmentCoster", "eval_frames", "loop_header"]
