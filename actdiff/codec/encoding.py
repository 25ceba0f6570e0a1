r"""What every encoder mode shares: a clip made ready (:func:`prepare`), a segment's trajectories
selected and coded (:func:`_segment_tracks`, :class:`TrackCoding`), and the plans of all segments
written into one bitstream with its statistics (:func:`write_stream`).

The fast mode (:func:`actdiff.codec.encoder.encode_video`) and the rate–distortion-optimised mode
(:mod:`actdiff.codec.rdo`) differ only in how they choose the :class:`SegmentPlan`\ s. Both decode
their own keyframes and tracks (closed loop, through the same
:class:`~actdiff.codec.keyframe_chain.KeyframeChain` as the decoder), so what they report as
"decoded" is bit-exact with :func:`actdiff.codec.decode_segments`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from omegaconf import DictConfig, OmegaConf

import actdiff.entropy  # noqa: F401  (registers the trajectory coders)
import actdiff.image_codecs  # noqa: F401  (registers the image codecs)
import actdiff.selection.segments  # noqa: F401  (registers the keyframe selectors)
import actdiff.selection.trajectories  # noqa: F401  (registers the trajectory selectors)
from actdiff.codec.bitstream import INTER_KEY, MIX_KEY, REPEAT_KEY, bit_split, write_bitstream
from actdiff.codec.detail_mix import choose_mixes
from actdiff.codec.keyframe_chain import KeyframeChain
from actdiff.codec.params import check_stream_params
from actdiff.codec.repeats import drop_repeats, find_repeats
from actdiff.codec.schema import check_codec_config, codec_threads
from actdiff.errors import ConfigError, InputError
from actdiff.image_codecs import ImageCodec, codec_from_params
from actdiff.io import pad_to_multiple
from actdiff.motion.temporal import (
    DEFAULT_SMOOTH_ENDS,
    DEFAULT_SMOOTH_KEEP,
    smooth_tracks,
    subsample_tracks,
    upsample_tracks,
)
from actdiff.registry import (
    TRACKERS,
    TRAJECTORY_CODERS,
)
from actdiff.tracking import chain_flows
from actdiff.types import (
    Bitstream,
    DecodedSegment,
    DenseMotion,
    EncodeResult,
    Segment,
    SegmentSection,
    StreamHeader,
    Tracks,
    Video,
    display_indices,
)

log = logging.getLogger(__name__)


def _params(section: Any) -> Dict[str, Any]:
    """A config section as a plain dict without its registry ``name``."""
    d = OmegaConf.to_container(section, resolve=True) if isinstance(section, DictConfig) else dict(section)
    d.pop("name", None)
    return d


def codec_section(cfg: DictConfig) -> DictConfig:
    """Accept either a full composed config (with ``codec``) or the codec section itself."""
    section = cfg.codec if "codec" in cfg else cfg
    if not isinstance(section, (DictConfig, dict)):
        raise ConfigError(f"codec must be a mapping of the codec's keys, not {section!r}")
    return section


@dataclass
class Stages:
    """The encoder's stage objects, built from the ``codec`` config section by registry name."""

    tracker: Any
    image_codec: ImageCodec
    coder: Any

    @classmethod
    def from_config(cls, codec: DictConfig) -> "Stages":
        return cls(
            tracker=TRACKERS.build(codec.tracker.name, **_params(codec.tracker)),
            image_codec=codec_from_params({"name": str(codec.keyframe_codec.name), **_params(codec.keyframe_codec)}),
            coder=TRAJECTORY_CODERS.build(codec.entropy.name, **_params(codec.entropy)),
        )


def stream_params(codec: DictConfig, stages: Stages) -> Dict[str, Any]:
    """Codec parameters the decoder needs, written into the bitstream header (kept tiny)."""
    return {
        **stages.image_codec.header_params(),
        "tc": str(codec.entropy.name),
        "qs": float(codec.entropy.step),
        "ts": int(codec.trajectories.temporal_stride),
    }


def prepare_codec(cfg: DictConfig) -> Tuple[DictConfig, Stages]:
    """The checked ``codec`` section (types converted, :func:`actdiff.codec.schema.check_codec_config`)
    and its stages, before any work. The header they would write passes the decoder's own check
    (:func:`actdiff.codec.params.check_stream_params`), so encode refuses what decode would refuse."""
    codec = check_codec_config(codec_section(cfg))
    stages = Stages.from_config(codec)
    check_stream_params(stream_params(codec, stages), from_file=False)
    return codec, stages


def check_size(video: Video, min_size: int) -> None:
    if video.num_frames < 1:
        raise InputError(f"{video.source or 'input'} has no frames")
    if min(video.height, video.width) < min_size:
        raise InputError(
            f"{video.source or 'input'} is {video.width}x{video.height}; frames must be at least "
            f"{min_size} pixels on each side"
        )


@dataclass
class Prepared:
    """A clip made ready for coding: padded frames, stage objects and pairwise flows.

    Attributes:
        frames: ``uint8 (T, Hc, Wc, 3)`` padded to the coded size.
        height, width: display size (pixels).
        flows: ``tracker.pairwise_flows(frames)``, ``(forward, backward)`` each ``float32
            (T-1, Hc, Wc, 2)``; ``None`` for one frame.
        stages: tracker, keyframe codec and trajectory coder built from the config.
        coding: the trajectory preparation (smoothing, subsampling, quantisation) and its cost.
        fps: frame rate.
        t_start: ``time.perf_counter()`` when encoding began (for the stats).
        repeated: display indices of the source frames left out as repeats of the frame before
            (``codec.repeat_psnr``, :mod:`actdiff.codec.repeats`); ``frames`` holds the others.
    """

    frames: np.ndarray
    height: int
    width: int
    flows: Optional[Tuple[np.ndarray, np.ndarray]]
    stages: "Stages"
    coding: "TrackCoding"
    fps: float
    t_start: float
    repeated: Tuple[int, ...] = ()

    @property
    def shown(self) -> Optional[np.ndarray]:
        """Display index of each coded frame, ``None`` without repeats (the keyframe selectors'
        GOP time line, :mod:`actdiff.selection.segments`)."""
        return np.asarray(display_indices(int(self.frames.shape[0]), self.repeated)) if self.repeated else None

    @property
    def coded_size(self) -> Tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def prepare(video: Video, codec: DictConfig, flows: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> Prepared:
    """Check, leave out repeated frames, pad, build the stages and compute (or check the given)
    pairwise flows (of the frames coded: :func:`pairwise_flows`)."""
    t_start = time.perf_counter()
    codec, stages = prepare_codec(codec)
    check_size(video, int(codec.min_size))
    kept, repeated = coded_source(video.frames, codec)
    frames, (height, width) = pad_to_multiple(kept, int(codec.pad_multiple))
    num_frames, coded_h, coded_w = frames.shape[:3]
    if flows is None or num_frames < 2:
        flows = stages.tracker.pairwise_flows(frames) if num_frames > 1 else None
    elif tuple(flows[0].shape) != (num_frames - 1, coded_h, coded_w, 2):
        raise ValueError(f"flows of shape {flows[0].shape} do not match {num_frames} frames at {coded_w}x{coded_h}")
    coding = TrackCoding(codec, stages.coder, coded_h, coded_w)
    return Prepared(frames, height, width, flows, stages, coding, float(video.fps), t_start, repeated)


def coded_source(frames: np.ndarray, codec: DictConfig) -> Tuple[np.ndarray, Tuple[int, ...]]:
    """The frames of ``uint8 (T, H, W, 3)`` the encoder codes and the display indices it leaves
    out as repeats (``codec.repeat_psnr``; :func:`actdiff.codec.repeats.find_repeats`)."""
    repeated = find_repeats(frames, codec.get("repeat_psnr"))
    if repeated:
        log.info("%d of %d frames repeat the frame before (PSNR >= %s dB): not coded", len(repeated), len(frames),
                 codec.get("repeat_psnr"))
    return drop_repeats(frames, repeated), repeated


@dataclass
class SegmentPlan:
    """What is coded for one segment: its keyframe payloads (as :func:`carried_keyframes` lists
    them) with their decoded images ``uint8 (Hc, Wc, 3)``, and its coded (quantised, every
    ``temporal_stride``-th frame) trajectories with their interpolation bandwidth (pixels)."""

    segment: Segment
    keyframes: List[bytes]
    decoded_keyframes: List[np.ndarray]
    tracks: Tracks
    bandwidth: float


def write_stream(prep: Prepared, codec: DictConfig, plans: List[SegmentPlan],
                 image_params: Optional[Dict[str, Any]] = None, inter: bool = False,
                 choose_mix: bool = True) -> EncodeResult:
    """The bitstream of ``plans`` (one per segment, in order) and its statistics.

    ``image_params`` replaces the keyframe codec's header params (default: those of
    ``prep.stages.image_codec``); the decoder reads only the codec name and scale from them.
    ``inter``: the keyframe payloads carry mode bytes (:mod:`actdiff.codec.keyframe_inter`;
    header ``ki``, format 2). With ``codec.send_detail_mix`` the sections carry the detail-mix
    bytes; ``choose_mix=False`` leaves them "no choice" (the same size: rate control's trial
    encodes), for :func:`add_detail_mix` to fill in on the stream that is kept.
    """
    coded_h, coded_w = prep.coded_size
    stride = int(codec.trajectories.temporal_stride)
    sections: List[SegmentSection] = []
    decoded: List[DecodedSegment] = []
    chain = KeyframeChain()
    for plan in plans:
        seg = plan.segment
        key_start, key_end = chain.link(seg, plan.decoded_keyframes)
        payload = prep.stages.coder.encode(plan.tracks, coded_h, coded_w) if seg.length > 2 else b""
        sections.append(SegmentSection(seg, plan.keyframes, payload, plan.bandwidth))
        decoded.append(DecodedSegment(seg, key_start, key_end, upsample_tracks(plan.tracks, seg.length, stride),
                                      plan.bandwidth))
    params = stream_params(codec, prep.stages)
    if image_params is not None:
        params = {**{k: v for k, v in params.items() if k in ("tc", "qs", "ts")}, **image_params}
    if inter:
        params[INTER_KEY] = True
    if codec.get("send_detail_mix"):
        params[MIX_KEY] = True
    if prep.repeated:
        params[REPEAT_KEY] = True
    header = StreamHeader(
        height=prep.height, width=prep.width, coded_height=coded_h, coded_width=coded_w,
        num_frames=int(prep.frames.shape[0]), fps=prep.fps, seed=int(codec.seed), params=params,
        repeated=tuple(prep.repeated),
    )
    data = write_bitstream(Bitstream(header, sections))
    seconds = time.perf_counter() - prep.t_start
    stats = encode_stats(data, header, sections, [d.tracks.num_points for d in decoded], seconds)
    log.info("encoded %d frames into %d bytes (%.5f bpp) in %.2f s", header.shown_frames, len(data), stats["bpp"],
             seconds)
    result = EncodeResult(data=data, stats=stats, debug={"decoded_segments": decoded, "header": header,
                                                         "sections": sections})
    return add_detail_mix(result, prep.frames, codec) if choose_mix else result


def add_detail_mix(result: EncodeResult, source: np.ndarray, codec: DictConfig) -> EncodeResult:
    """``result`` with each segment's ``detail_mix`` chosen (:func:`actdiff.codec.detail_mix.choose_mixes`,
    on the segments exactly as the decoder rebuilds them) and the stream rewritten; the same size.
    ``source``: the encoded frames ``uint8 (T, H, W, 3)``, as given or padded to the coded size
    (the display frames, repeats included, or the coded frames alone).
    A stream without detail-mix bytes (``codec.send_detail_mix`` off) is returned as it is. The
    sections and decoded segments of ``result.debug`` take the choices in place.

    Rate control calls this once, on the encode it keeps; ``stats["detail_mix"]`` lists the
    choices and ``stats["detail_mix_seconds"]`` their cost.
    """
    debug = result.debug or {}
    header, sections, decoded = debug["header"], debug["sections"], debug["decoded_segments"]
    if not header.params.get(MIX_KEY):
        return result
    t0 = time.perf_counter()
    if header.repeated and len(source) == header.shown_frames:
        source = drop_repeats(source, header.repeated)
    if len(source) != header.num_frames:
        raise ValueError(f"{len(source)} source frames for a stream of {header.num_frames} coded frames")
    frames, _ = pad_to_multiple(source, int(codec.pad_multiple))
    mixes = choose_mixes(frames, decoded, header.height, header.width, threads=codec_threads(codec),
                         stride=int(codec.get("detail_mix_stride") or 1),
                         min_frames=int(codec.get("detail_mix_min_frames") or 1))
    for sec, dec, mix in zip(sections, decoded, mixes):
        sec.detail_mix = dec.detail_mix = mix
    data = write_bitstream(Bitstream(header, sections))
    if len(data) != len(result.data):  # one byte per section either way
        raise AssertionError(f"detail-mix bytes changed the stream's size ({len(result.data)} → {len(data)} bytes)")
    seconds = time.perf_counter() - t0
    stats = {**result.stats, "detail_mix": list(mixes), "detail_mix_seconds": seconds}
    if stats.get("encode_seconds"):
        stats["encode_seconds"] += seconds
        stats["encode_fps"] = header.shown_frames / stats["encode_seconds"]
    log.info("chose the detail mix of %d segments in %.2f s", len(sections), seconds)
    return EncodeResult(data=data, stats=stats, debug=result.debug)


def coded_frames(video: Video, cfg: DictConfig) -> np.ndarray:
    """The padded frames ``uint8 (T', Hc, Wc, 3)`` the encoder codes (repeats left out,
    :func:`coded_source`), on which it computes its flows."""
    return _coded_frames(video, prepare_codec(cfg)[0])


def _coded_frames(video: Video, codec: DictConfig) -> np.ndarray:
    check_size(video, int(codec.min_size))
    return pad_to_multiple(coded_source(video.frames, codec)[0], int(codec.pad_multiple))[0]


def pairwise_flows(video: Video, cfg: DictConfig) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The encoder's pairwise (forward, backward) flows ``float32 (T-1, Hc, Wc, 2)`` of
    :func:`coded_frames`, as ``encode_video`` computes them (``None`` for a one-frame video)."""
    codec, stages = prepare_codec(cfg)
    frames = _coded_frames(video, codec)
    if frames.shape[0] < 2:
        return None
    return stages.tracker.pairwise_flows(frames)


@dataclass
class TrackCoding:
    """Selected tracks → what is coded: temporal smoothing, every ``stride``-th frame, quantised.

    Calling it returns the quantised coded frames; ``cost_bits`` is their exact coded size,
    so budgeted selection counts each point's real cost.
    """

    codec: DictConfig
    coder: Any
    height: int
    width: int

    def smooth(self, tracks: Tracks) -> Tracks:
        """``tracks`` after the configured temporal smoothing (sigma, ends, keep), before the stride."""
        t = self.codec.trajectories
        return smooth_tracks(tracks, float(t.smooth_sigma), str(t.get("smooth_ends", DEFAULT_SMOOTH_ENDS)),
                             float(t.get("smooth_keep", DEFAULT_SMOOTH_KEEP)))

    def __call__(self, tracks: Tracks) -> Tracks:
        return self.code_smoothed(self.smooth(tracks))

    def code_smoothed(self, smoothed: Tracks) -> Tracks:
        """Tracks :meth:`smooth` returned, at every ``stride``-th frame, quantised."""
        stride = int(self.codec.trajectories.temporal_stride)
        return self.coder.quantize(subsample_tracks(smoothed, stride), self.height, self.width)

    def cost_bits(self, tracks: Tracks) -> float:
        return self.coder.cost_bits(self(tracks), self.height, self.width)


def segment_motion(frames: np.ndarray, flows: Tuple[np.ndarray, np.ndarray], start: int, end: int,
                   codec: DictConfig) -> DenseMotion:
    """Dense motion of frame ``start``'s pixels over ``start … end`` as the trajectory selectors see
    it: the pairwise ``flows`` chained with the tracker's ``fb_threshold`` and, when
    ``tracker.appearance_tol`` is set, broken chains re-validated on the coded ``frames``
    (:func:`actdiff.tracking.base.iter_chain`)."""
    tol = float(codec.tracker.get("appearance_tol") or 0.0)
    return chain_flows(flows[0], flows[1], start, end, float(codec.tracker.fb_threshold),
                       frames if tol > 0 else None, tol)


def _segment_tracks(frames, flows, seg: Segment, codec: DictConfig, coding: TrackCoding, select_tracks):
    """Selected (unquantised) trajectories of one segment and its interpolation bandwidth."""
    if seg.length <= 2:
        return Tracks.empty(seg.length), 16.0
    motion = segment_motion(frames, flows, seg.start, seg.end, codec)
    return select_tracks(
        frames[seg.start], motion, codec.trajectories,
        visibility_threshold=float(codec.tracker.visibility_threshold), cost_bits=coding.cost_bits,
    )


def encode_stats(
    data: bytes, header: StreamHeader, sections: List[SegmentSection], counts: List[int], seconds: float
) -> Dict[str, Any]:
    """The ``--stats`` JSON: rate, bit split, structure and timing of one encoded file.

    ``counts`` is the number of trajectories of each segment. ``frames``, ``bpp``, ``keyframes`` and
    ``segments`` count and index the frames shown (display indices); ``coded_frames`` and
    ``repeated_frames`` say which were coded (the bitstream's sections index the coded frames,
    :meth:`actdiff.types.StreamHeader.display_index` maps them).
    """
    pixels = header.shown_frames * header.height * header.width
    split = bit_split(data)
    point_frames = sum(n * max(s.segment.length - 1, 0) for n, s in zip(counts, sections))
    at = header.display_index()
    keyframes = sorted({at[s.segment.start] for s in sections} | {at[s.segment.end] for s in sections})
    return {
        "bpp": 8 * len(data) / pixels,
        "bits_total": 8 * len(data),
        "bits": split,
        "frames": header.shown_frames,
        "coded_frames": header.num_frames,
        "repeated_frames": list(header.repeated),
        "height": header.height,
        "width": header.width,
        "coded_height": header.coded_height,
        "coded_width": header.coded_width,
        "fps": header.fps,
        "keyframes": keyframes,
        "segments": [[at[s.segment.start], at[s.segment.end]] for s in sections],
        "trajectories": counts,
        "bits_per_point_per_frame": (split["trajectories"] / point_frames) if point_frames else None,
        "encode_seconds": seconds,
        "encode_fps": header.shown_frames / seconds if seconds > 0 else None,
    }
