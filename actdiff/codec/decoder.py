"""The decoder side of the codec: bitstream → decoded segments → frames.

:func:`decode_segments` rebuilds every segment's keyframes and trajectories from the file alone
(the "decoded conditions"); :func:`decode_video` hands each of them to a frame decoder (warp or
diffusion, :mod:`actdiff.decoders`) and crops the frames back to the display size.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

import actdiff.entropy  # noqa: F401  (registers the trajectory coders)
from actdiff.codec.bitstream import read_bitstream
from actdiff.codec.keyframe_chain import KeyframeChain
from actdiff.codec.keyframe_inter import INTER_KEY, KeyframeReader
from actdiff.codec.params import check_stream_params
from actdiff.decoders import build_decoder
from actdiff.decoders.base import Decoder
from actdiff.errors import BitstreamError, ConfigError
from actdiff.image_codecs import codec_from_params
from actdiff.motion.temporal import coded_frames, upsample_tracks
from actdiff.progress import bar
from actdiff.registry import TRAJECTORY_CODERS
from actdiff.types import Bitstream, DecodedSegment, StreamHeader, Tracks, Video

log = logging.getLogger(__name__)

#: ``progress(frames done, total frames)`` after every decoded segment.
Progress = Optional[Callable[[int, int], None]]
#: Bytes of memory per decoded pixel the decoder may count on: the warp decoder of a 300-frame 1080p stream
#: peaks at 4.30 GB of anonymous memory, 6.9 bytes a pixel of which about 2.2 GB do not grow with the clip
#: (3.3 bytes a pixel more per frame: the decoded frames), benchmarks/results/memory_decode_1080p_*_cpu.json.
#: A stream at the default budget (80 % of the memory available at this rate) peaks near 2.2 GB + 44 % of it.
DECODE_BYTES_PER_PIXEL = 6.0
#: Share of the memory available a stream may take to decode by default.
DECODE_MEMORY_SHARE = 0.8
#: Limit on the pixels a stream may decode to (``--max-pixels``) where the memory available is
#: unknown: 2**30, about 3.2 GB of RGB frames.
DEFAULT_MAX_PIXELS = 1 << 30
#: Decoded pixels a stream may declare per byte of its size when no limit is given. Real streams
#: stay far below: the bundled clip at the most extreme settings (keyframes downscaled 16x,
#: quality 0, no trajectories, one 48-frame segment) carries 27,000 pixels per byte, a flat grey
#: 1920x1088 clip of one 96-frame segment 1,230,000.
MAX_PIXELS_PER_BYTE = 1 << 22

Limit = Union[int, str, None]


def decoded_pixels(header: StreamHeader, keyframes: int) -> int:
    """Pixels a stream decodes to: the frames it shows (repeats included) and its decoded keyframes,
    at the coded size."""
    return (header.shown_frames + keyframes) * header.coded_height * header.coded_width


def auto_max_pixels() -> tuple[int, str]:
    """The default decode budget and why: the pixels whose decoding fits in
    ``DECODE_MEMORY_SHARE`` of the memory available (:func:`actdiff.io.memory.available_memory`,
    a memory cgroup's limit counted) at ``DECODE_BYTES_PER_PIXEL``; ``DEFAULT_MAX_PIXELS`` where
    that memory is unknown. (A 600-frame 1080p sequence decodes to 1.28 billion pixels.)"""
    from actdiff.io.memory import available_memory

    avail = available_memory()
    if avail is None:
        return DEFAULT_MAX_PIXELS, "pixels allowed"
    pixels = int(DECODE_MEMORY_SHARE * avail / DECODE_BYTES_PER_PIXEL)
    return pixels, f"pixels that fit in {DECODE_MEMORY_SHARE:.0%} of the {avail / 1e9:.1f} GB of memory available"


def check_budget(header: StreamHeader, keyframes: int, nbytes: int, max_pixels: Limit = "auto") -> None:
    """Refuse (``BitstreamError``, before anything is allocated) a stream decoding to more pixels
    than allowed: ``max_pixels`` when an int; ``"auto"``: what :func:`auto_max_pixels` says fits in
    the memory available, and at most ``MAX_PIXELS_PER_BYTE`` per byte of the stream; ``None``: no
    limit (a stream this process wrote)."""
    if max_pixels is None:
        return
    need = decoded_pixels(header, keyframes)
    what = (f"{header.shown_frames} frames and {keyframes} keyframes at "
            f"{header.coded_width}x{header.coded_height} ({need:,} pixels)")
    if max_pixels == "auto":
        if need > MAX_PIXELS_PER_BYTE * nbytes:
            raise BitstreamError(
                f"a {nbytes}-byte stream declaring {what} is implausible (at most {MAX_PIXELS_PER_BYTE:,} "
                "pixels per byte); pass --max-pixels N to decode it anyway")
        max_pixels, why = auto_max_pixels()
        bound = f"{max_pixels:,} {why}"
    elif isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ConfigError(f"max_pixels must be a positive integer, 'auto' or None, got {max_pixels!r}")
    else:
        bound = f"limit of {max_pixels:,}"
    if need > max_pixels:
        raise BitstreamError(f"the stream decodes to {what}, more than the {bound} (--max-pixels N raises it)")


def check_stream(data: bytes, max_pixels: Limit = "auto") -> Bitstream:
    """Parse ``data`` and check everything short of decoding its payloads: the container, the
    header's parameters (:func:`actdiff.codec.params.check_stream_params`) and the decode budget
    (:func:`check_budget`). Cheap: run it before loading a decoder."""
    bs = read_bitstream(data)
    check_stream_params(bs.header.params)
    check_budget(bs.header, sum(len(s.keyframes) for s in bs.sections), len(data), max_pixels)
    return bs


def decode_segments(data: bytes, *, max_pixels: Limit = "auto", weights_dirs: Sequence[str] = (),
                    trusted: bool = False) -> Tuple[StreamHeader, List[DecodedSegment]]:
    """Rebuild every segment's keyframes and tracks from the file alone (``BitstreamError`` on damage).

    Before anything is decoded, the header's parameters are checked (:mod:`actdiff.codec.params`)
    and the size against the decode budget (:func:`check_budget`).

    Args:
        max_pixels: the decode budget (see :func:`check_budget`).
        weights_dirs: folders (besides the package's) that keyframe weights named by the stream
            may come from (:func:`actdiff.image_codecs.factory.resolve_stream_weights`).
        trusted: the stream was written by this process from the caller's own config: no budget,
            and the weights it names are the caller's.
    """
    bs = check_stream(data, None if trusted else max_pixels)
    header = bs.header
    tc, step, stride = check_stream_params(header.params)
    image_codec = codec_from_params(header.params, weights_dirs=None if trusted else weights_dirs)
    coder = TRAJECTORY_CODERS.build(tc, step=step)
    hc, wc = header.coded_height, header.coded_width
    chain = KeyframeChain()
    reader = KeyframeReader(image_codec, hc, wc, tagged=bool(header.params.get(INTER_KEY)))
    out: List[DecodedSegment] = []
    for sec in bs.sections:
        seg = sec.segment
        key_start, key_end = chain.link(seg, [reader.decode(k) for k in sec.keyframes])
        if seg.length > 2:
            coded = coder.decode(sec.trajectories, len(coded_frames(seg.length, stride)), hc, wc)
            tracks = upsample_tracks(coded, seg.length, stride)
        else:
            tracks = Tracks.empty(seg.length)
        out.append(DecodedSegment(seg, key_start, key_end, tracks, sec.bandwidth, sec.detail_mix))
    return header, out


def _set_hook(dec: Any, hook: Optional[Callable[[int], None]]) -> bool:
    """Install ``hook`` as the decoder's ``progress_hook`` (``False`` where it cannot take one)."""
    try:
        dec.progress_hook = hook
        return True
    except AttributeError:  # a duck-typed decoder with __slots__
        return False


def decode_video(data: bytes, decoder: Union[str, Decoder] = "warp", progress: Progress = None, *,
                 max_pixels: Limit = "auto", weights_dirs: Sequence[str] = (), trusted: bool = False,
                 **decoder_kwargs: Any) -> Video:
    """Decode a whole file into a ``Video`` at its display size (frames ``uint8 (T, H, W, 3)``,
    ``T = header.shown_frames``: a repeated frame shows the frame before it, :mod:`actdiff.codec.repeats`).

    Args:
        data: the ``.adv`` bytes.
        decoder: a built :class:`~actdiff.decoders.base.Decoder`, a registry name (``warp``,
            ``diffusion``) or a ``codec.decoder`` config section, see
            :func:`actdiff.decoders.build_decoder`.
        progress: called with ``(frames done, total frames)`` after each segment, and within a
            segment whenever the decoder reports frames (the diffusion decoder: each batch). Independently,
            a per-frame bar is drawn on stderr when :mod:`actdiff.progress` is on, and each
            segment's timing is logged at INFO (``-v``).
        max_pixels, weights_dirs, trusted: see :func:`decode_segments`.
        decoder_kwargs: options of a decoder built here (refused with a built one).
    """
    header, frames = decoded_frames(data, decoder, progress, max_pixels=max_pixels, weights_dirs=weights_dirs,
                                    trusted=trusted, **decoder_kwargs)
    out = np.empty((header.shown_frames, header.height, header.width, 3), np.uint8)
    for t, frame in enumerate(frames):
        out[t] = frame
    return Video(frames=out, fps=header.fps, source="")


def decoded_frames(data: bytes, decoder: Union[str, Decoder] = "warp", progress: Progress = None, *,
                   max_pixels: Limit = "auto", weights_dirs: Sequence[str] = (), trusted: bool = False,
                   **decoder_kwargs: Any) -> Tuple[StreamHeader, Iterator[np.ndarray]]:
    """The stream's header and its display frames, ``uint8 (H, W, 3)`` one after the other, each
    segment decoded when its first frame is asked for: a caller that writes them as they come holds
    one segment, not the clip (``actdiff decode``). The frames are :func:`decode_video`'s; the stream
    is checked and the decoder built before this returns. Arguments as :func:`decode_video`."""
    header, segments = decode_segments(data, max_pixels=max_pixels, weights_dirs=weights_dirs, trusted=trusted)
    dec = build_decoder(decoder, **decoder_kwargs)
    return header, _display_frames(header, segments, dec, progress)


def _display_frames(header: StreamHeader, segments: List[DecodedSegment], dec: Decoder,
                    progress: Progress) -> Iterator[np.ndarray]:
    """Each segment's frames cropped to the display size, in display order. A keyframe two segments
    share comes from the later one (as each overwrote it before); a repeated display frame is the
    frame before it again."""
    name = getattr(dec, "name", type(dec).__name__)
    total = header.num_frames
    at = header.display_index() + [header.shown_frames]   # display index of each coded frame, then the end
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
                block = dec.decode_segment(header, seg)[:, : header.height, : header.width]
                seconds = time.perf_counter() - t0
                new = seg.segment.end + 1 - max(done, seg.segment.start)  # keyframes are shared by neighbours
                done = seg.segment.end + 1
                pbar.update(max(new - inside, 0))
                log.info("segment %d/%d: frames %d-%d (%d) decoded by %s in %.2f s (%.1f frames/s)", i + 1,
                         len(segments), seg.segment.start, seg.segment.end, seg.segment.length, name, seconds,
                         seg.segment.length / max(seconds, 1e-9))
                if progress is not None:
                    progress(done, total)
                last = seg.segment.end if i == len(segments) - 1 else seg.segment.end - 1
                for k in range(seg.segment.start, last + 1):   # the shared end keyframe: the next segment's
                    for _ in range(at[k + 1] - at[k]):         # the frame, then the repeats that show it
                        yield block[k - seg.segment.start]
        finally:
            if hooked:
                _set_hook(dec, None)
