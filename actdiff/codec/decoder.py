"""The decoder side of the codec: bitstream → decoded segments → frames.

:func:`decode_segments` rebuilds every segment's keyframes and trajectories from the file alone
(the "decoded conditions"); :func:`decode_video` hands each of them to a frame decoder (warp or
diffusion, :mod:`actdiff.decoders`) and crops the frames back to the display size.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np

import actdiff.entropy  # noqa: F401  (registers the trajectory coders)
from actdiff.codec.bitstream import read_bitstream
from actdiff.codec.keyframe_chain import KeyframeChain
from actdiff.decoders import build_decoder
from actdiff.decoders.base import Decoder
from actdiff.errors import BitstreamError
from actdiff.image_codecs import codec_from_params
from actdiff.motion.temporal import coded_frames, upsample_tracks
from actdiff.progress import bar
from actdiff.registry import TRAJECTORY_CODERS
from actdiff.types import DecodedSegment, StreamHeader, Tracks, Video

log = logging.getLogger(__name__)

#: ``progress(frames done, total frames)`` after every decoded segment.
Progress = Optional[Callable[[int, int], None]]

#: Largest decoded video held in memory (bytes of uint8 RGB); larger headers are refused.
MAX_DECODE_BYTES = 16 * 1024**3


def _trajectory_coder(header: StreamHeader) -> Tuple[Any, int]:
    """The trajectory coder and temporal stride the header names (``BitstreamError`` if bad)."""
    try:
        coder = TRAJECTORY_CODERS.build(str(header.params["tc"]), step=float(header.params["qs"]))
        stride = int(header.params.get("ts", 1))
        if not 1 <= stride <= 64:
            raise ValueError(f"temporal stride {stride} out of range")
    except (KeyError, ValueError, TypeError) as e:
        raise BitstreamError(f"bad trajectory coder parameters in header: {e}") from None
    except Exception as e:  # unknown coder name → ConfigError from the registry
        raise BitstreamError(f"unsupported trajectory coder in header: {e}") from None
    return coder, stride


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
    coder, stride = _trajectory_coder(header)
    hc, wc = header.coded_height, header.coded_width
    chain = KeyframeChain()
    out: List[DecodedSegment] = []
    for sec in bs.sections:
        seg = sec.segment
        key_start, key_end = chain.link(seg, [image_codec.decode(k, hc, wc) for k in sec.keyframes])
        if seg.length > 2:
            coded = coder.decode(sec.trajectories, len(coded_frames(seg.length, stride)), hc, wc)
            tracks = upsample_tracks(coded, seg.length, stride)
        else:
            tracks = Tracks.empty(seg.length)
        out.append(DecodedSegment(seg, key_start, key_end, tracks, sec.bandwidth))
    return header, out


def _set_hook(dec: Any, hook: Optional[Callable[[int], None]]) -> bool:
    """Install ``hook`` as the decoder's ``progress_hook`` (``False`` where it cannot take one)."""
    try:
        dec.progress_hook = hook
        return True
    except AttributeError:  # a duck-typed decoder with __slots__
        return False


def decode_video(data: bytes, decoder: Union[str, Decoder] = "warp", progress: Progress = None,
                 **decoder_kwargs: Any) -> Video:
    """Decode a whole file into a ``Video`` at its display size (frames ``uint8 (T, H, W, 3)``).

    Args:
        data: the ``.adv`` bytes.
        decoder: a built :class:`~actdiff.decoders.base.Decoder`, a registry name (``warp``,
            ``diffusion``) or a ``codec.decoder`` config section, see
            :func:`actdiff.decoders.build_decoder`.
        progress: called with ``(frames done, total frames)`` after each segment, and within a
            segment whenever the decoder reports frames (the diffusion decoder: each batch). Independently,
            a per-frame bar is drawn on stderr when :mod:`actdiff.progress` is on, and each
            segment's timing is logged at INFO (``-v``).
        decoder_kwargs: options of a decoder built here (ignored for a built one).
    """
    header, segments = decode_segments(data)
    dec = build_decoder(decoder, **decoder_kwargs)
    name = getattr(dec, "name", type(dec).__name__)
    total = header.num_frames
    frames = np.empty((total, header.coded_height, header.coded_width, 3), np.uint8)
    done, inside = 0, 0  # frames finished; frames the decoder reported inside the current segment

    with bar(total, f"decode ({name})", unit="frame", leave=False) as pbar:
        def within(n: int) -> None:  # a slow decoder's report from inside a segment
            nonlocal inside
            inside += n
            pbar.update(n)
            if progress is not None:
                progress(min(done + inside, total), total)

        hooked = _set_hook(dec, within)
        try:
            for i, seg in enumerate(segments):
                t0, inside = time.perf_counter(), 0
                frames[seg.segment.start : seg.segment.end + 1] = dec.decode_segment(header, seg)
                seconds = time.perf_counter() - t0
                new = seg.segment.end + 1 - max(done, seg.segment.start)  # keyframes are shared by neighbours
                done = seg.segment.end + 1
                pbar.update(max(new - inside, 0))
                log.info("segment %d/%d: frames %d-%d (%d) decoded by %s in %.2f s (%.1f frames/s)", i + 1,
                         len(segments), seg.segment.start, seg.segment.end, seg.segment.length, name, seconds,
                         seg.segment.length / max(seconds, 1e-9))
                if progress is not None:
                    progress(done, total)
        finally:
            if hooked:
                _set_hook(dec, None)
    frames = frames[:, : header.height, : header.width]
    return Video(frames=np.ascontiguousarray(frames), fps=header.fps, source="")
