"""Rate–distortion-optimised encoding (``codec.mode: rd``): spend bits where the decoder needs them.

The encoder chooses the keyframe positions, each keyframe's quality, the stream's keyframe
downscale and each segment's trajectory budget by minimising

    ``J = Σ_frames D + λ · R``

with ``R`` the real coded size in bits per pixel of one frame (``bits / (Hc · Wc)``: a keyframe of
0.08 bpp costs ``0.08 λ``) and ``D`` the per-frame distortion
(:class:`~actdiff.codec.distortion.Distortion`, multi-scale PSNR mixed with GMSD) of the frames
the decoder in the loop (``codec.rd.decoder``, the warp decoder by default) rebuilds from exactly
what the file would carry.

Search (every encode, selection and decode cached, so rate control re-runs it cheaply):

1. Shots: hard scene cuts and the longest GOP ``codec.rd.max_gop`` cut the clip into base
   segments (the adaptive selector with a frame test that always passes).
2. Keyframe scale and qualities for the shot boundaries (:mod:`actdiff.codec.rd_keyframes`:
   each keyframe's distortion weighted by how much of it propagates into its segments).
3. Split search per base segment (:mod:`actdiff.codec.rd_split`; dynamic programming over a
   binary tree of split points): the segment's best cost as one segment
   (:meth:`SegmentCoster.best` over ``codec.rd.budgets``) against the cost of splitting it at the
   frame that halves its decoded distortion — the new keyframe at its best quality plus each half
   solved the same way (halves of at least ``codec.rd.min_gop`` frames). Pruned where the new
   keyframe alone costs more than the whole segment, and (``codec.rd.slack``) where even the
   halves coded as one segment each cost more than ``1 + slack`` times the segment: a deeper
   split rarely recovers that much. With ``codec.rd.endpoint_credit`` (off) a split also counts
   what its end keyframes would save by a lower quality at the smaller propagation weight the
   split gives them.
   With ``codec.rd.fast_partition`` each shot is also solved from the fast mode's keyframe
   positions inside it (the content-adaptive selector, its GOP capped at ``codec.keyframes.max_gop``):
   those keyframes at their best qualities, each part between them solved by the same split
   search; the cheaper of the two codings of the shot wins. The binary split search only reaches
   frames that halve a segment's distortion; the selector's frames are where a warped keyframe
   stops reaching the content.
   With ``codec.rd.scale_margin`` the split search also runs at every other downscale whose
   shot-boundary keyframes cost at most ``1 + margin`` times the cheapest's; the cheapest whole
   decision wins (off by default: see docs/rd_mode.md).
4. Final keyframe qualities with the final segment lengths (at the scale of step 2), chosen once
   more with the stream's own keyframe coder (``codec.rd.final_qualities``, below), and with
   ``codec.rd.refine`` each segment's budget again with the final keyframes.

With ``codec.rd.threads`` > 1 a pool of worker threads codes candidate keyframe qualities ahead of
the descent and evaluates the two halves of a candidate split (and the final segments' tracks)
concurrently (the keyframe codecs and OpenCV release the GIL; trajectory selection mostly holds it). Every
result is cached by its key and depends on nothing else, so the stream is identical for any
number of threads.

The search codes its candidate AVIF keyframes at ``codec.rd.search_speed`` (libaom preset 6, four
to five times faster); the stream's keyframes, at the qualities it chose, are then coded once more
at the keyframe codec's own, slower preset (4: about 8 % fewer bytes at the same quality,
``experiments/keyframe_codec_options.py``), as x265's lookahead decides on a cheaper analysis than
its final encode. With ``codec.rd.final_qualities`` (off by default: about 1 % fewer bits for up
to 1.7x the search time, docs/rd_mode.md) the qualities of step 4 are chosen again at that preset
(a descent from the search's qualities over the same list, each keyframe's real size and
distortion; rate control's fine quality search too); positions, scale and budgets stay the search's.

``λ → ∞`` gives the smallest stream the knobs allow (longest GOPs, lowest quality, largest
downscale, fewest trajectories); ``λ → 0`` the best quality they allow (highest quality,
segments of ``min_gop`` frames, most trajectories). The stream format is unchanged: keyframes
of one stream may differ in quality because the AVIF/WebP/JPEG payload carries its own.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple, TypeVar

from omegaconf import DictConfig, OmegaConf

from actdiff.codec.encoding import Prepared, SegmentPlan, TrackCoding, codec_section, prepare, write_stream
from actdiff.codec.keyframe_chain import carried_keyframes
from actdiff.codec.keyframe_inter import CodedKey, InterChooser, RDPrice, inter_chooser, next_key, set_payloads
from actdiff.codec.rd_keyframes import (
    SPEED_CODECS,
    WORKER_PREFIX,
    KeyframeCoder,
    choose_scale_and_qualities,
    on_worker,
    propagation_weights,
    scale_costs,
)
from actdiff.codec.rd_segments import SegmentCost, SegmentCoster
from actdiff.codec.rd_settings import RDSettings, plain
from actdiff.codec.rd_split import SplitSearch, keyframe_key
from actdiff.codec.stride_choice import chosen_stride, fixed_stride_stats, loss_stats, with_stride
from actdiff.registry import KEYFRAME_SELECTORS
from actdiff.types import EncodeResult, Segment, Video

log = logging.getLogger(__name__)
#: Why the RD mode codes the configured stride (``stats["trajectory_stride"]["why"]``).
RD_STRIDE = "codec.rd.stride_choice is off: the RD mode codes codec.trajectories.temporal_stride as configured"
T, R = TypeVar("T"), TypeVar("R")


@dataclass
class Decision:
    """What the search chose: segments, their costs, keyframe qualities and the scale."""

    segments: List[Segment]
    costs: List[SegmentCost]
    qualities: Dict[int, int]
    scale: float
    cost: float = 0.0
    searched: List[float] = field(default_factory=list)  # the scales the split search ran at
    search_qualities: Dict[int, int] = field(default_factory=dict)  # before the final step


class RDSearch:
    """The search of the module docstring on one prepared clip; :meth:`run` at any λ."""

    def __init__(self, prep: Prepared, codec: DictConfig, settings: RDSettings) -> None:
        self.prep, self.codec, self.s = prep, codec, settings
        dist = settings.distortion
        self.refs = [dist.prepare(f) for f in prep.frames]
        params = dict(plain(codec.keyframe_codec))
        self.final_keys = KeyframeCoder(prep.frames, self.refs, params, dist)
        self.keys = self.final_keys  # what the search codes and scores; the stream's own may be slower
        if settings.search_speed is not None and params.get("name") in SPEED_CODECS:
            if params.get("speed") != settings.search_speed:
                self.keys = KeyframeCoder(prep.frames, self.refs, {**params, "speed": settings.search_speed}, dist)
        self.segs = SegmentCoster(prep, codec, self.refs, dist, settings.decoder, settings.search,
                                  settings.eval_stride, settings.eval_frames, settings.selection)
        h, w = prep.coded_size
        self.pixels = h * w
        self.shots = self._shots()
        self.fast_keyframes = self._fast_keyframes() if settings.fast_partition else set()
        self._restrided: Optional["RDSearch"] = None  # the search at the stride stride_choice switched to

    @contextlib.contextmanager
    def _workers(self) -> Iterator[None]:
        """The worker pool (``codec.rd.threads`` > 1), held by the keyframe coder, for the
        duration of one search."""
        if self.s.threads <= 1:
            yield
            return
        with ThreadPoolExecutor(self.s.threads, thread_name_prefix=WORKER_PREFIX) as pool:
            self.keys.pool = self.final_keys.pool = pool
            try:
                yield
            finally:
                self.keys.pool = self.final_keys.pool = None

    def _map(self, fn: Callable[[T], R], items: Iterable[T]) -> List[R]:
        """``[fn(x) for x in items]``, on the pool when there is one (never from a worker: no
        task waits on another)."""
        pool = self.keys.pool
        if pool is None or on_worker():
            return [fn(x) for x in items]
        return list(pool.map(fn, items))

    def _shots(self) -> List[Segment]:
        select = KEYFRAME_SELECTORS.get("adaptive")
        cfg = OmegaConf.merge(self.codec.keyframes, {"max_gop": self.s.max_gop, "min_gop": 2})
        return select(self.prep.frames, self.prep.stages.tracker, cfg, flows=self.prep.flows,
                      frame_test=lambda *args: True, shown=self.prep.shown)

    def _fast_keyframes(self) -> set:
        """The frames the fast mode's content-adaptive selector makes keyframes (its GOP at most
        ``codec.keyframes.max_gop`` and ``codec.rd.max_gop``)."""
        select = KEYFRAME_SELECTORS.get("adaptive")
        gop = min(int(self.codec.keyframes.get("max_gop", self.s.max_gop)), self.s.max_gop)
        cfg = OmegaConf.merge(self.codec.keyframes, {"max_gop": gop})
        segments = select(self.prep.frames, self.prep.stages.tracker, cfg, flows=self.prep.flows,
                          shown=self.prep.shown)
        return {s.start for s in segments} | {s.end for s in segments}

    def _key(self, k: int, q: Dict[int, int], scale: float,
             coder: Optional[KeyframeCoder] = None) -> Tuple[Any, Any]:
        return keyframe_key(coder or self.keys, k, q, scale)

    def splitter(self) -> SplitSearch:
        """The split search (step 3) with the search's keyframe coder, segment coster and
        current settings."""
        return SplitSearch(self.keys, self.segs, self.s, self.pixels, self._map, self.fast_keyframes)

    def _weights(self, keyframes: List[int]) -> List[float]:
        return propagation_weights(keyframes, self.s.propagation)

    def _qualities(self, keyframes: List[int], lam: float, start: Dict[int, int],
                   qualities: Optional[Tuple[int, ...]] = None,
                   scales: Optional[Tuple[float, ...]] = None, coder: Optional[KeyframeCoder] = None
                   ) -> Tuple[float, Dict[int, int]]:
        scale, qs, _ = choose_scale_and_qualities(coder or self.keys, keyframes, self._weights(keyframes),
                                                  scales or self.s.scales, qualities or self.s.qualities, lam,
                                                  self.pixels, start)
        return scale, dict(zip(keyframes, qs))

    def _scale_candidates(self, base: List[int], lam: float) -> List[Tuple[float, Dict[int, int]]]:
        """The scales the split search runs at, cheapest first, with their shot-boundary keyframe
        qualities: the cheapest, and with ``codec.rd.scale_margin`` every scale whose keyframes
        cost at most ``1 + margin`` times as much."""
        costs = sorted(scale_costs(self.keys, base, self._weights(base), self.s.scales, self.s.qualities, lam,
                                   self.pixels), key=lambda c: c[2])
        keep = costs[:1] + [c for c in costs[1:] if self.s.scale_margin is not None
                            and c[2] <= (1 + self.s.scale_margin) * costs[0][2]]
        return [(scale, dict(zip(base, qs))) for scale, qs, _ in keep]

    def _search(self, scale: float, q: Dict[int, int], lam: float) -> Decision:
        """Split search of every shot at ``scale`` from the shot-boundary qualities ``q``, then
        the final keyframe qualities at that scale."""
        chosen: List[Tuple[Segment, SegmentCost]] = []
        split = self.splitter()
        for shot in self.shots:
            chosen += split.solve_shot(shot, q, scale, lam)
        segments = [s for s, _ in chosen]
        keyframes = sorted({s.start for s in segments} | {s.end for s in segments})
        scale, q = self._qualities(keyframes, lam, q, scales=(scale,))
        return self._decision(segments, [c for _, c in chosen], q, scale, lam)

    def _decision(self, segments: List[Segment], costs: List[SegmentCost], q: Dict[int, int], scale: float,
                  lam: float, coder: Optional[KeyframeCoder] = None) -> Decision:
        keyframes = sorted({s.start for s in segments} | {s.end for s in segments})
        key_cost = sum((coder or self.keys).cost(k, q[k], scale, 1.0, lam, self.pixels) for k in keyframes)
        return Decision(segments, costs, q, scale, key_cost + sum(c.cost for c in costs))

    def run(self, lam: Optional[float] = None, key_lam: Optional[float] = None) -> Decision:
        """The decisions at ``lam`` (default: the configured λ): the cheapest of the split
        searches at the candidate scales (:meth:`_scale_candidates`). With ``key_lam`` the keyframe
        qualities are then chosen again at that λ, from every integer quality from the lowest of
        ``codec.rd.qualities`` to 100, at the same scale (rate control's fine-tuning: segments,
        budgets and scale unchanged). The final qualities are chosen with the stream's own keyframe
        coder when ``codec.rd.final_qualities`` (:attr:`Decision.search_qualities`: the search's)."""
        lam = self.s.lam if lam is None else float(lam)
        base = sorted({s.start for s in self.shots} | {s.end for s in self.shots})
        found = [self._search(scale, q, lam) for scale, q in self._scale_candidates(base, lam)]
        best = min(found, key=lambda d: d.cost)
        segments, costs, scale, q = best.segments, best.costs, best.scale, best.qualities
        keyframes, searched_q = sorted(q), dict(q)
        final = self.final_keys if self.s.final_qualities else self.keys
        if key_lam is not None:  # rate control: the same scale, qualities at key_lam from a fine list
            scale, q = self._qualities(keyframes, float(key_lam), q, tuple(range(min(self.s.qualities), 101)),
                                       (scale,), final)
        elif final is not self.keys:  # step 4 once more, with the sizes and distortions of the stream's coder
            scale, q = self._qualities(keyframes, lam, q, scales=(scale,), coder=final)
        if self.s.refine:  # budgets again with the final keyframes (decodes them all once more)
            costs = self._map(lambda s: self.segs.best(
                s.start, s.end, self.s.budgets, self._key(s.start, q, scale, final),
                self._key(s.end, q, scale, final), lam, self.pixels), segments)
        decision = self._decision(segments, costs, q, scale, lam, final)
        decision.searched = [d.scale for d in found]
        decision.search_qualities = searched_q
        return decision

    def stream_keys(self, decision: Decision, lam: float) -> Tuple[List[CodedKey], Optional[InterChooser]]:
        """Each keyframe as the stream carries it, in stream order: coded by the stream's keyframe
        coder at the chosen quality, or with ``codec.keyframe_inter`` as a P-frame of the keyframe
        before it where that is no worse and smaller (:mod:`actdiff.codec.keyframe_inter`; after
        the search, which counted every keyframe as coded alone) or, with ``codec.rd.inter_rd``,
        where its RD cost at ``lam`` is lower; and the chooser, if any."""
        frames = sorted(decision.qualities)
        h, w = self.prep.coded_size
        codec = self.final_keys.codec(decision.qualities[frames[0]], decision.scale)
        chooser = inter_chooser(self.codec, codec, h, w)
        # every intra coding first, concurrently (the same encodes as one at a time in the loop)
        self._map(lambda f: self.final_keys.get(f, decision.qualities[f], decision.scale), frames)
        keys: List[CodedKey] = []
        for f, w in zip(frames, self._weights(frames)):
            c = self.final_keys.get(f, decision.qualities[f], decision.scale)
            price = RDPrice(w, float(lam), self.pixels) if self.s.inter_rd else None
            next_key(chooser, keys, self.prep.frames[f], c.payload, c.decoded, self.refs[f], price)
        return keys, chooser

    def plans(self, decision: Decision, keys: List[CodedKey]) -> Tuple[List[SegmentPlan], bool]:
        """The :class:`SegmentPlan`\\ s that :func:`write_stream` turns into the file, with the
        keyframes ``keys`` (:meth:`stream_keys`), and whether the stream is format 2."""
        by_frame = dict(zip(sorted(decision.qualities), keys))

        def plan(i: int) -> SegmentPlan:
            seg, cost = decision.segments[i], decision.costs[i]
            coded = self.segs.final_tracks(seg.start, seg.end, cost.budget) if seg.length > 2 else cost.coded
            return SegmentPlan(seg, [], [by_frame[f].decoded for f in carried_keyframes(i, seg)], coded.tracks,
                               coded.bandwidth)

        plans = self._map(plan, range(len(decision.segments)))
        return plans, set_payloads(plans, keys)

    def encode(self, lam: Optional[float] = None, key_lam: Optional[float] = None,
               choose_mix: bool = True) -> EncodeResult:
        """Run the search at ``lam`` (and ``key_lam``, see :meth:`run`) and write the stream;
        ``stats["rd"]`` records the decisions. ``choose_mix``: as in :func:`write_stream`. With
        ``codec.rd.stride_choice`` the stream's stride is chosen from the search's trajectories
        (:meth:`stride_stats`) and the decision coded at it (:meth:`at_stride`)."""
        t0 = time.perf_counter()
        lam = self.s.lam if lam is None else float(lam)
        with self._workers():
            decision = self.run(lam, key_lam)
        stride = self.stride_stats(decision)
        coder = self if stride["stride"] == self.segs.stride else self.at_stride(stride)
        return coder.write(decision, self, stride, lam, key_lam, choose_mix, t0)

    def write(self, decision: Decision, search: "RDSearch", stride: Dict[str, Any], lam: float,
              key_lam: Optional[float], choose_mix: bool, t0: float) -> EncodeResult:
        """The stream of ``decision`` (made by ``search``: this search, or the one at the other
        stride), its trajectories selected and coded by this search's settings."""
        with self._workers():
            keys, chooser = self.stream_keys(decision, lam if key_lam is None else float(key_lam))
            plans, inter = self.plans(decision, keys)
        qualities = [decision.qualities[k] for k in sorted(decision.qualities)]
        image_params = {**self.final_keys.codec(max(qualities), decision.scale).header_params()}
        result = write_stream(self.prep, self.codec, plans, image_params, inter=inter, choose_mix=choose_mix)
        if chooser:
            result.stats["keyframe_inter"] = chooser.stats(keys)
        result.stats["trajectory_stride"] = stride
        result.stats["rd"] = {
            "lambda": lam, "keyframe_lambda": lam if key_lam is None else float(key_lam),
            "cost": decision.cost, "keyframe_qualities": qualities,
            "search_keyframe_qualities": [decision.search_qualities[k] for k in sorted(decision.qualities)],
            "keyframe_scale": decision.scale, "scales_searched": decision.searched,
            "budgets": [c.budget for c in decision.costs],
            "distortion": float(sum(c.distortions.sum() for c in decision.costs)
                                + sum(self.final_keys.get(k, decision.qualities[k], decision.scale).distortion
                                      for k in decision.qualities)) / int(self.prep.frames.shape[0]),
            "search_seconds": time.perf_counter() - t0, "keyframe_encodes": search.keys.encodes,
            "search_keyframe_codec": search.keys.base,
            "selections": search.segs.selections, "decodes": search.segs.decodes, "threads": self.s.threads,
            "loop_decoder": search.segs.decoder.settings(),
        }
        return result

    def stride_stats(self, decision: Decision) -> Dict[str, Any]:
        """``stats["trajectory_stride"]``: with ``codec.rd.stride_choice`` the fast mode's rule
        (:mod:`actdiff.codec.stride_choice`) on the loss of the chosen segments' trajectories, else
        the configured stride (:func:`fixed_stride_stats`)."""
        if not self.s.stride_choice:
            return fixed_stride_stats(self.codec, RD_STRIDE)
        errs = [self.segs.final_tracks(seg.start, seg.end, c.budget).skip
                for seg, c in zip(decision.segments, decision.costs) if seg.length > 2]
        skip, tolerance = loss_stats(errs), self.codec.trajectories.get("stride_tolerance")
        return {"stride": chosen_stride(skip, self.segs.stride, tolerance), "configured": self.segs.stride,
                "tolerance": tolerance, "skip": skip}

    def at_stride(self, stride: Dict[str, Any]) -> "RDSearch":
        """This search coding trajectories at ``stride["stride"]``: the same frames, keyframe
        coders and dense motion, its own trajectory coding (kept for the next λ). The decision is
        not searched again: the search's cost does not see what the stride loses (docs/rd_mode.md)."""
        if self._restrided is None:
            other = copy.copy(self)
            other.codec = with_stride(self.codec, stride["stride"])
            other.prep = replace(self.prep, coding=TrackCoding(other.codec, self.prep.stages.coder,
                                                               *self.prep.coded_size))
            other.segs = SegmentCoster(other.prep, other.codec, self.refs, self.s.distortion, self.s.decoder,
                                       self.s.search, self.s.eval_stride, self.s.eval_frames, self.s.selection)
            other.segs._motion = self.segs._motion  # the chained motion does not depend on the stride
            self._restrided = other
        self._restrided.s = self.s
        log.info("RD: trajectory stride %d -> %d (loss %.2f px, 90th percentile)", stride["configured"],
                 stride["stride"], stride["skip"]["p90_px"])
        return self._restrided


def use_rd(cfg: DictConfig, lam: float) -> DictConfig:
    """A copy of ``cfg`` (full config or codec section) in RD mode at ``lam`` (``--lambda``)."""
    out = copy.deepcopy(cfg)
    codec = codec_section(out)
    codec.mode = "rd"
    codec.rd["lambda"] = float(lam)
    RDSettings.from_config(codec)  # a bad λ fails here, before any work
    return out


def encode_rd(video: Video, cfg: DictConfig, flows: Optional[Tuple[Any, Any]] = None,
              lam: Optional[float] = None, choose_mix: bool = True) -> EncodeResult:
    """Encode ``video`` (frames ``uint8 (T, H, W, 3)``) in RD mode at ``lam`` (default
    ``codec.rd.lambda``); ``flows`` as in :func:`actdiff.codec.encode_video`. The statistics hold
    ``rd``: λ, cost, keyframe qualities and scale, budgets, mean distortion, search effort."""
    codec = codec_section(cfg)
    settings = RDSettings.from_config(codec, lam)
    prep = prepare(video, codec, flows)
    result = RDSearch(prep, codec, settings).encode(choose_mix=choose_mix)
    result.stats["encode_seconds"] = time.perf_counter() - prep.t_start
    result.stats["encode_fps"] = result.stats["frames"] / result.stats["encode_seconds"]
    return result


__all__ = ["Decision", "RDSearch", "RDSettings", "encode_rd", "use_rd"]
