"""Encoder and decoder orchestration: the one place where the codec's stages meet.

``encode_video`` runs, per video: padding to the coded size → pairwise flows (once) →
segments/keyframes → per segment: dense motion → budgeted trajectory selection → quantisation
and entropy coding → keyframe coding → bitstream. It decodes its own keyframes and tracks
(closed loop) so that what it reports as "decoded" is bit-exact with ``decode_segments``.

``decode_segments`` rebuilds keyframes and tracks from the file alone; ``decode_video`` hands
each segment to a decoder (``warp`` or ``diffusion``) and crops back to the display size.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from omegaconf import DictConfig, OmegaConf

import actdiff.entropy  # noqa: F401  (registers the trajectory coders)
import actdiff.keyframes  # noqa: F401  (registers the image codecs)
import actdiff.selection.keyframes  # noqa: F401  (registers the keyframe selectors)
import actdiff.selection.trajectories  # noqa: F401  (registers the trajectory selectors)
from actdiff.bitstream import bit_split, read_bitstream, write_bitstream
from actdiff.errors import BitstreamError, InputError
from actdiff.io import pad_to_multiple
from actdiff.keyframes import ImageCodec, codec_from_params
from actdiff.motion.temporal import coded_frames, smooth_tracks, subsample_tracks, upsample_tracks
from actdiff.registry import (
    DECODERS,
    KEYFRAME_SELECTORS,
    TRACKERS,
    TRAJECTORY_CODERS,
    TRAJECTORY_SELECTORS,
)
from actdiff.tracking import chain_flows
from actdiff.types import (
    Bitstream,
    DecodedSegment,
    EncodeResult,
    Segment,
    SegmentSection,
    StreamHeader,
    Tracks,
    Video,
)

log = logging.getLogger(__name__)

#: Largest decoded video held in memory (bytes of uint8 RGB); larger headers are refused.
MAX_DECODE_BYTES = 16 * 1024**3


def _params(section: Any) -> Dict[str, Any]:
    """A config section as a plain dict without its registry ``name``."""
    d = OmegaConf.to_container(section, resolve=True) if isinstance(section, DictConfig) else dict(section)
    d.pop("name", None)
    return d


def codec_section(cfg: DictConfig) -> DictConfig:
    """Accept either a full composed config (with ``codec``) or the codec section itself."""
    return cfg.codec if "codec" in cfg else cfg


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


def check_size(video: Video, min_size: int) -> None:
    if video.num_frames < 1:
        raise InputError(f"{video.source or 'input'} has no frames")
    if min(video.height, video.width) < min_size:
        raise InputError(
            f"{video.source or 'input'} is {video.width}x{video.height}; frames must be at least "
            f"{min_size} pixels on each side"
        )


def encode_video(
    video: Video, cfg: DictConfig, flows: Optional[Tuple[np.ndarray, np.ndarray]] = None
) -> EncodeResult:
    """Encode ``video`` (frames ``uint8 (T, H, W, 3)``) into one self-contained bitstream.

    Args:
        video: the clip at the size it is to be coded (resize beforehand if wanted).
        cfg: a composed config holding a ``codec`` section, or the section itself.
        flows: optional precomputed ``tracker.pairwise_flows`` of the padded frames (see
            :func:`pairwise_flows`), so that re-encoding the same clip with other rate settings
            (rate control) skips the flow analysis; computed here when ``None``.

    Returns:
        ``EncodeResult`` with the file's bytes, its statistics (``bpp`` counted at the display
        size) and, in ``debug``, the decoded segments exactly as ``decode_segments`` rebuilds them.
    """
    codec = codec_section(cfg)
    t_start = time.perf_counter()
    check_size(video, int(codec.min_size))
    frames, (height, width) = pad_to_multiple(video.frames, int(codec.pad_multiple))
    stages = Stages.from_config(codec)
    num_frames, coded_h, coded_w = frames.shape[:3]

    if flows is None or num_frames < 2:
        flows = stages.tracker.pairwise_flows(frames) if num_frames > 1 else None
    elif tuple(flows[0].shape) != (num_frames - 1, coded_h, coded_w, 2):
        raise ValueError(f"flows of shape {flows[0].shape} do not match {num_frames} frames at {coded_w}x{coded_h}")
    select_segments = KEYFRAME_SELECTORS.get(codec.keyframes.name)
    segments: List[Segment] = select_segments(frames, stages.tracker, codec.keyframes, flows=flows)
    select_tracks = TRAJECTORY_SELECTORS.get(codec.trajectories.name)
    stride = int(codec.trajectories.temporal_stride)
    prepare = TrackCoding(codec, stages.coder, coded_h, coded_w)

    sections: List[SegmentSection] = []
    decoded: List[DecodedSegment] = []
    prev_key: Optional[np.ndarray] = None
    for i, seg in enumerate(segments):
        payloads: List[bytes] = []
        if i == 0:
            payloads.append(stages.image_codec.encode(frames[seg.start]))
            key_start = stages.image_codec.decode(payloads[-1], coded_h, coded_w)
        else:
            key_start = prev_key
        if seg.end != seg.start:
            payloads.append(stages.image_codec.encode(frames[seg.end]))
            key_end = stages.image_codec.decode(payloads[-1], coded_h, coded_w)
        else:
            key_end = key_start
        tracks, bandwidth = _segment_tracks(frames, flows, seg, codec, prepare, select_tracks)
        coded = prepare(tracks)
        payload = stages.coder.encode(coded, coded_h, coded_w) if seg.length > 2 else b""
        sections.append(SegmentSection(seg, payloads, payload, bandwidth))
        decoded.append(DecodedSegment(seg, key_start, key_end, upsample_tracks(coded, seg.length, stride), bandwidth))
        prev_key = key_end

    header = StreamHeader(
        height=height, width=width, coded_height=coded_h, coded_width=coded_w,
        num_frames=num_frames, fps=float(video.fps), seed=int(codec.seed),
        params=stream_params(codec, stages),
    )
    data = write_bitstream(Bitstream(header, sections))
    seconds = time.perf_counter() - t_start
    stats = encode_stats(data, header, sections, [d.tracks.num_points for d in decoded], seconds)
    log.info("encoded %d frames into %d bytes (%.5f bpp) in %.2f s", num_frames, len(data), stats["bpp"], seconds)
    return EncodeResult(data=data, stats=stats, debug={"decoded_segments": decoded, "header": header})


def pairwise_flows(video: Video, cfg: DictConfig) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The encoder's pairwise (forward, backward) flows ``float32 (T-1, Hc, Wc, 2)`` of the padded
    frames, as ``encode_video`` computes them (``None`` for a one-frame video)."""
    codec = codec_section(cfg)
    check_size(video, int(codec.min_size))
    frames, _ = pad_to_multiple(video.frames, int(codec.pad_multiple))
    if frames.shape[0] < 2:
        return None
    return Stages.from_config(codec).tracker.pairwise_flows(frames)


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

    def __call__(self, tracks: Tracks) -> Tracks:
        t = self.codec.trajectories
        smoothed = smooth_tracks(tracks, float(t.smooth_sigma))
        return self.coder.quantize(subsample_tracks(smoothed, int(t.temporal_stride)), self.height, self.width)

    def cost_bits(self, tracks: Tracks) -> float:
        return self.coder.cost_bits(self(tracks), self.height, self.width)


def _segment_tracks(frames, flows, seg: Segment, codec: DictConfig, coding: TrackCoding, select_tracks):
    """Selected (unquantised) trajectories of one segment and its interpolation bandwidth."""
    if seg.length <= 2:
        return Tracks.empty(seg.length), 16.0
    fw, bw = flows
    motion = chain_flows(fw, bw, seg.start, seg.end, float(codec.tracker.fb_threshold))
    return select_tracks(
        frames[seg.start], motion, codec.trajectories,
        visibility_threshold=float(codec.tracker.visibility_threshold), cost_bits=coding.cost_bits,
    )


def encode_stats(
    data: bytes, header: StreamHeader, sections: List[SegmentSection], counts: List[int], seconds: float
) -> Dict[str, Any]:
    """The ``--stats`` JSON: rate, bit split, structure and timing of one encoded file.

    ``counts`` is the number of trajectories of each segment.
    """
    pixels = header.num_frames * header.height * header.width
    split = bit_split(data)
    point_frames = sum(n * max(s.segment.length - 1, 0) for n, s in zip(counts, sections))
    keyframes = sorted({s.segment.start for s in sections} | {s.segment.end for s in sections})
    return {
        "bpp": 8 * len(data) / pixels,
        "bits_total": 8 * len(data),
        "bits": split,
        "frames": header.num_frames,
        "height": header.height,
        "width": header.width,
        "coded_height": header.coded_height,
        "coded_width": header.coded_width,
        "fps": header.fps,
        "keyframes": keyframes,
        "segments": [[s.segment.start, s.segment.end] for s in sections],
        "trajectories": counts,
        "bits_per_point_per_frame": (split["trajectories"] / point_frames) if point_frames else None,
        "encode_seconds": seconds,
        "encode_fps": header.num_frames / seconds if seconds > 0 else None,
    }


def decode_segments(data: bytes) -> Tuple[StreamHeader, List[DecodedSegment]]:
    """Rebuild every segment's keyframes and tracks from the file alone (``BitstreamError`` on damage)."""
    bs = read_bitstream(data)
    header = bs.header
    pixels = header.num_frames * header.coded_height * header.coded_width * 3
    if pixels > MAX_DECODE_BYTES:
        raise BitstreamError(
            f"video of {header.num_frames} frames at {header.coded_width}x{header.coded_height} "
            "is too large to decode in memory"
        )
    image_codec = codec_from_params(header.params)
    try:
        coder = TRAJECTORY_CODERS.build(str(header.params["tc"]), step=float(header.params["qs"]))
        stride = int(header.params.get("ts", 1))
        if not 1 <= stride <= 64:
            raise ValueError(f"temporal stride {stride} out of range")
    except (KeyError, ValueError, TypeError) as e:
        raise BitstreamError(f"bad trajectory coder parameters in header: {e}") from None
    except Exception as e:  # unknown coder name → ConfigError from the registry
        raise BitstreamError(f"unsupported trajectory coder in header: {e}") from None
    out: List[DecodedSegment] = []
    prev_key: Optional[np.ndarray] = None
    hc, wc = header.coded_height, header.coded_width
    for i, sec in enumerate(bs.sections):
        seg = sec.segment
        expected = (1 if seg.start == seg.end else 2) if i == 0 else 1
        if len(sec.keyframes) != expected:
            raise BitstreamError(f"segment {i} carries {len(sec.keyframes)} keyframes, expected {expected}")
        keys = [image_codec.decode(k, hc, wc) for k in sec.keyframes]
        key_start = keys[0] if i == 0 else prev_key
        key_end = keys[-1] if (i > 0 or seg.end != seg.start) else key_start
        if seg.length > 2:
            coded = coder.decode(sec.trajectories, len(coded_frames(seg.length, stride)), hc, wc)
            tracks = upsample_tracks(coded, seg.length, stride)
        else:
            tracks = Tracks.empty(seg.length)
        out.append(DecodedSegment(seg, key_start, key_end, tracks, sec.bandwidth))
        prev_key = key_end
    return header, out


def build_decoder(decoder: Union[str, Any] = "warp", **kwargs: Any):
    """A decoder object from a registry name (``warp``, ``diffusion``) or pass one through."""
    if not isinstance(decoder, str):
        return decoder
    if decoder not in DECODERS:
        # Decoders live in actdiff/decoders/<name>.py and register on import; the diffusion
        # decoder pulls in torch/diffusers, so it is only imported when asked for.
        try:
            importlib.import_module(f"actdiff.decoders.{decoder}")
        except ModuleNotFoundError as e:
            if e.name != f"actdiff.decoders.{decoder}":
                raise
    return DECODERS.build(decoder, **kwargs)


def decode_video(data: bytes, decoder: Union[str, Any] = "warp", **decoder_kwargs: Any) -> Video:
    """Decode a whole file into a ``Video`` at its display size (frames ``uint8 (T, H, W, 3)``)."""
    header, segments = decode_segments(data)
    dec = build_decoder(decoder, **decoder_kwargs)
    frames = np.empty((header.num_frames, header.coded_height, header.coded_width, 3), np.uint8)
    for seg in segments:
        out = dec.decode_segment(header, seg)
        frames[seg.segment.start : seg.segment.end + 1] = out
    frames = frames[:, : header.height, : header.width]
    return Video(frames=np.ascontiguousarray(frames), fps=header.fps, source="")
