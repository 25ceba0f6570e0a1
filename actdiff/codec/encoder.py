"""The encoder: ``encode_video`` turns a clip into one self-contained ``.adv`` bitstream.

Fast mode (the default, ``codec.mode: fast``), per video: padding to the coded size → pairwise
flows (once) → segments/keyframes by the content-adaptive heuristic → per segment: dense motion
→ budgeted trajectory selection → the stream's stride from its motion
(:mod:`actdiff.codec.stride_choice`) → optionally, the set of tracks of each segment chosen by
decoding the selector's candidates (:mod:`actdiff.codec.decoded_choice`) → temporal smoothing,
subsampling, quantisation and entropy coding → keyframe coding → bitstream
(:mod:`actdiff.codec.encoding`). ``codec.mode: rd`` hands the decisions to the
rate–distortion-optimised search of :mod:`actdiff.codec.rdo`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator, List, Optional, Tuple

import numpy as np
from omegaconf import DictConfig

from actdiff.codec.decoded_choice import choose_by_decoding, decoded_choice_on, for_stream
from actdiff.codec.encoding import (  # noqa: F401  (re-exported: the encoder's public pieces)
    Prepared,
    SegmentPlan,
    Stages,
    TrackCoding,
    _params,
    _segment_tracks,
    check_size,
    codec_section,
    encode_stats,
    pairwise_flows,
    prepare,
    prepare_codec,
    segment_motion,
    stream_params,
    write_stream,
)
from actdiff.codec.keyframe_chain import carried_keyframes
from actdiff.codec.keyframe_inter import CodedKey, inter_chooser, next_key, set_payloads
from actdiff.codec.keyframe_quality import spread_qualities
from actdiff.codec.schema import check_codec_config, codec_threads
from actdiff.codec.stride_choice import chosen_stride, skip_stats, with_stride
from actdiff.errors import ConfigError
from actdiff.image_codecs import ImageCodec, codec_from_params
from actdiff.progress import bar
from actdiff.registry import TRAJECTORY_SELECTORS
from actdiff.selection.segments import select_segments
from actdiff.selection.trajectories import Candidate, candidate_sets
from actdiff.types import EncodeResult, Segment, Tracks, Video, display_indices

log = logging.getLogger(__name__)

#: Encoder modes (``codec.mode``).
MODES = ("fast", "rd")


def _codecs_by_quality(section: DictConfig, qualities: set[int]) -> dict[int, ImageCodec]:
    """The ``keyframe_codec`` section's codec at each of ``qualities`` (fast mode, :func:`spread_qualities`)."""
    params = {"name": str(section.name), **_params(section)}
    return {q: codec_from_params({**params, "quality": q}) for q in qualities}


class _Deferred:
    """A task run in the caller's thread when its result is first asked for (``codec.threads: 1``:
    the work happens in the order the loop needs it, as without workers)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._call: Optional[Callable[[], Any]] = lambda: fn(*args)
        self._value: Any = None

    def result(self) -> Any:
        if self._call is not None:
            self._value, self._call = self._call(), None
        return self._value


class _Serial:
    """``submit`` without threads: a :class:`_Deferred`."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Deferred:
        return _Deferred(fn, *args)


@contextmanager
def _workers(threads: int) -> Iterator[Any]:
    """``threads`` worker threads (``codec.threads``), or the caller's thread alone for 1."""
    if threads <= 1:
        yield _Serial()
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="actdiff-encode") as pool:
        yield pool


def _intra(codec: ImageCodec, frame: np.ndarray, height: int, width: int) -> Tuple[bytes, np.ndarray]:
    """``frame``'s intra payload and the keyframe as decoded (``uint8 (height, width, 3)``)."""
    payload = codec.encode(frame)
    return payload, codec.decode(payload, height, width)


def encode_video(
    video: Video, cfg: DictConfig, flows: Optional[Tuple[np.ndarray, np.ndarray]] = None, choose_mix: bool = True
) -> EncodeResult:
    """Encode ``video`` (frames ``uint8 (T, H, W, 3)``) into one self-contained bitstream.

    Args:
        video: the clip at the size it is to be coded (resize beforehand if wanted).
        cfg: a composed config holding a ``codec`` section, or the section itself. With
            ``codec.mode: rd`` the rate–distortion-optimised encoder
            (:func:`actdiff.codec.rdo.encode_rd`) makes the decisions instead of the heuristics.
        flows: optional precomputed ``tracker.pairwise_flows`` of the padded frames (see
            :func:`pairwise_flows`), so that re-encoding the same clip with other rate settings
            (rate control) skips the flow analysis; computed here when ``None``.
        choose_mix: ``False`` writes the detail-mix bytes (``codec.send_detail_mix``) as "no
            choice", for :func:`actdiff.codec.encoding.add_detail_mix` to fill in later (rate
            control's trial encodes: the choice never changes the size).

    Returns:
        ``EncodeResult`` with the file's bytes, its statistics (``bpp`` counted at the display
        size) and, in ``debug``, the decoded segments exactly as ``decode_segments`` rebuilds them.
    """
    codec = check_codec_config(codec_section(cfg))   # one-line errors before any work
    mode = str(codec.get("mode") or "fast")
    if mode not in MODES:
        raise ConfigError(f"codec.mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "rd":
        from actdiff.codec.rd_settings import trajectory_overrides
        from actdiff.codec.rdo import encode_rd

        rd = codec.get("rd")   # None: encode_rd says so in one line
        asked = rd is not None and trajectory_overrides(rd, "selection").get("decoded_choice", True)
        if decoded_choice_on(codec) and asked:
            log.warning("codec.trajectories.decoded_choice is a fast-mode setting: the RD search keeps its own "
                        "decoder-in-the-loop choice of budgets and the configured selector's sets")

        return encode_rd(video, codec, flows=flows, choose_mix=choose_mix)
    prep = prepare(video, codec, flows)
    frames, stages = prep.frames, prep.stages
    coded_h, coded_w = prep.coded_size
    segments: List[Segment] = select_segments(frames, stages.tracker, codec.keyframes, flows=prep.flows,
                                              shown=prep.shown)
    select_tracks = TRAJECTORY_SELECTORS.get(codec.trajectories.name)
    quality = spread_qualities(segments, int(codec.keyframe_codec.quality), float(codec.get("keyframe_spread") or 0),
                               str(codec.keyframe_codec.name))
    image_codecs = _codecs_by_quality(codec.keyframe_codec, set(quality.values()))
    chooser = inter_chooser(codec, prep.stages.image_codec, coded_h, coded_w)
    keys: List[CodedKey] = []
    chosen: List[Tuple[Segment, List[np.ndarray], Tracks, float, List[Candidate]]] = []
    # The keyframes' intra codings and the segments' trajectories do not depend on each other or
    # on the inter choices: the workers compute them ahead while this thread chains the keyframes.
    with _workers(codec_threads(codec)) as pool, \
            bar(len(segments), "encode segments", unit="seg", leave=False) as pbar:
        intra = {f: pool.submit(_intra, image_codecs[quality[f]], frames[f], coded_h, coded_w)
                 for i, seg in enumerate(segments) for f in carried_keyframes(i, seg)}
        selected = [pool.submit(_select, frames, prep.flows, seg, codec, prep.coding, select_tracks)
                    for seg in segments]
        for i, seg in enumerate(segments):
            carried = carried_keyframes(i, seg)
            for f in carried:
                next_key(chooser, keys, frames[f], *intra[f].result())
            chosen.append((seg, [k.decoded for k in keys[-len(carried):]], *selected[i].result()))
            pbar.update(1)
    codec, prep, stride_stats, smoothed = _choose_stride(prep, codec, chosen, select_tracks)
    choice_stats = None
    if decoded_choice_on(codec):   # the decoder, not the selector's objective, picks each segment's set
        with _workers(codec_threads(codec)) as pool:
            choice_stats = choose_by_decoding(for_stream(prep, codec), chosen, pool)
        smoothed = [prep.coding.smooth(c[2]) for c in chosen]
    plans = [SegmentPlan(seg, [], decoded, prep.coding.code_smoothed(tracks), bandwidth)
             for (seg, decoded, _, bandwidth, _), tracks in zip(chosen, smoothed)]
    inter = set_payloads(plans, keys)
    result = write_stream(prep, codec, plans, inter=inter, choose_mix=choose_mix)
    result.stats["trajectory_stride"] = stride_stats
    if choice_stats is not None:
        result.stats["decoded_choice"] = choice_stats
    if len(set(quality.values())) > 1:
        result.stats["keyframe_qualities"] = [quality[k] for k in sorted(quality)]
    if chooser:
        result.stats["keyframe_inter"] = chooser.stats(keys)
    return result


def plan_segments(video: Video, cfg: DictConfig) -> List[List[int]]:
    """The segments :func:`encode_video` would code, ``[start, end]`` display indices as in its
    ``stats["segments"]``, without selecting trajectories or coding anything (fast mode: the
    keyframe decisions come first and nothing after them moves a keyframe; RD mode, whose search
    places the keyframes by coding: a whole encode)."""
    codec = check_codec_config(codec_section(cfg))
    if str(codec.get("mode") or "fast") != "fast":
        return encode_video(video, cfg).stats["segments"]
    prep = prepare(video, codec)
    segments = select_segments(prep.frames, prep.stages.tracker, codec.keyframes, flows=prep.flows, shown=prep.shown)
    at = display_indices(int(prep.frames.shape[0]), prep.repeated)
    return [[at[s.start], at[s.end]] for s in segments]


def _select(frames: np.ndarray, flows: Any, seg: Segment, codec: DictConfig, coding: TrackCoding,
            select_tracks: Any) -> Tuple[Tracks, float, List[Candidate]]:
    """One segment's selected tracks and bandwidth, and (``trajectories.decoded_choice``) every
    candidate set the selector weighed, its own choice first (else no candidates)."""
    if not decoded_choice_on(codec) or seg.length <= 2:
        return (*_segment_tracks(frames, flows, seg, codec, coding, select_tracks), [])
    motion = segment_motion(frames, flows, seg.start, seg.end, codec)
    cands = candidate_sets(frames[seg.start], motion, codec.trajectories,
                           visibility_threshold=float(codec.tracker.visibility_threshold), cost_bits=coding.cost_bits)
    return cands[0].tracks, cands[0].bandwidth, cands


def _choose_stride(prep: Prepared, codec: DictConfig, chosen: list,
                   select_tracks: Any) -> Tuple[DictConfig, Prepared, dict, List[Any]]:
    """The stream's stride (:mod:`actdiff.codec.stride_choice`): the codec section and prepared
    clip to code ``chosen`` (segment, decoded keyframes, selected tracks, bandwidth, candidates; its tracks
    selected again, in place, when a bit budget was counted at the other stride), the choice's
    statistics for ``stats["trajectory_stride"]`` and each segment's smoothed tracks."""
    stride = int(codec.trajectories.temporal_stride)
    tolerance = codec.trajectories.get("stride_tolerance")
    smoothed = [prep.coding.smooth(c[2]) for c in chosen]
    skip = skip_stats(smoothed, stride)
    new = chosen_stride(skip, stride, tolerance)
    stats = {"stride": new, "configured": stride, "tolerance": tolerance, "skip": skip}
    if new == stride:
        return codec, prep, stats, smoothed
    codec = with_stride(codec, new)
    prep = replace(prep, coding=TrackCoding(codec, prep.stages.coder, *prep.coded_size))
    log.info("trajectory stride %d -> %d: interpolation loss %.2f px (90th percentile) > tolerance %s px", stride,
             new, skip["p90_px"], tolerance)
    if codec.trajectories.get("budget_bits") is not None:  # the budget counted the other stride's bits
        for i, (seg, decoded, *_) in enumerate(chosen):
            chosen[i] = (seg, decoded, *_select(prep.frames, prep.flows, seg, codec, prep.coding, select_tracks))
        smoothed = [prep.coding.smooth(c[2]) for c in chosen]
    return codec, prep, stats, smoothed


__all__ = ["MODES", "encode_video", "pairwise_flows", "plan_segments"]
