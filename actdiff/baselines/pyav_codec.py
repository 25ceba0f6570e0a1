"""Encode and decode a clip with a classical codec through PyAV, counting real payload bits.

Settings (low delay, matching ActDiff's causal setting; see docs/results_schema.md):

* RGB → Y'CbCr 4:2:0 8-bit, BT.709 limited range (``actdiff.io.colour``; 2×2 mean chroma);
  odd sizes are padded to even by edge replication and cropped after decoding. The decoded
  planes are converted back with the same matrix (bilinear chroma), and metrics are computed on
  RGB against the original RGB frames, exactly as for ActDiff.
* x264 / x265: preset ``medium``, no B-frames, one GOP for the whole clip (a single I frame:
  ``keyint = min-keyint = frames``, scene cuts disabled), CRF rate control.
* SVT-AV1: preset 8, low-delay prediction structure (``pred-struct=1``), one GOP for the whole
  clip, CRF (0–63) rate control.
* Bits are the sum of the sizes of the encoded packets (×8): elementary-stream payload including
  in-band parameter sets / sequence headers, excluding any container (mp4/mkv) overhead. The
  "encoder information" SEI messages that x264/x265 insert (user-data-unregistered SEI holding
  the encoder's option string, ~0.6–2 KB: a large share of the budget at 0.01 bpp) carry nothing
  a decoder needs: they are removed from the stream before counting and decoding, so the
  decoded frames come from exactly the bytes counted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from actdiff.errors import ConfigError, InputError, check_distinct
from actdiff.io.colour import rgb_to_yuv, yuv_to_rgb

MATRIX, RANGE = "bt709", "limited"


def _x26x_params(frames: int) -> str:
    return f"bframes=0:keyint={frames}:min-keyint={frames}:scenecut=0"


@dataclass(frozen=True)
class BaselineSpec:
    """How to run one classical codec."""

    name: str
    encoder: str
    decoder: str
    crf_range: tuple
    options: Callable[[int, int], dict[str, str]]  # (crf, frames) → libavcodec options
    notes: str = ""
    default_crfs: tuple = ()                        # one rate point each, when none are asked for
    min_side: int = 0                               # smaller frames are coded padded to this (bits count it)


BASELINES: dict[str, BaselineSpec] = {
    "x264": BaselineSpec(
        "x264", "libx264", "h264", (0, 51),
        lambda crf, n: {"crf": str(crf), "preset": "medium", "x264-params": _x26x_params(n)},
        "preset medium, bframes=0, keyint=clip length, scenecut=0", (35, 40, 45, 51)),
    "x265": BaselineSpec(
        "x265", "libx265", "hevc", (0, 51),
        lambda crf, n: {"crf": str(crf), "preset": "medium",
                        "x265-params": _x26x_params(n) + ":log-level=error"},
        "preset medium, bframes=0, keyint=clip length, scenecut=0", (35, 40, 45, 51),
        min_side=64),   # libx265 corrupts the heap on smaller frames (48 px: tests/test_bench.py)
    "svt-av1": BaselineSpec(
        "svt-av1", "libsvtav1", "libdav1d", (0, 63),
        lambda crf, n: {"crf": str(crf), "preset": "8", "svtav1-params": "pred-struct=1"},
        "preset 8, pred-struct=1 (low delay), gop = clip length", (45, 52, 58, 63)),
}


@dataclass
class BaselineResult:
    """One encode/decode: ``bits`` of payload, ``frames`` decoded ``uint8 (T, H, W, 3)``."""

    bits: int
    frames: np.ndarray
    encode_seconds: float
    decode_seconds: float
    packets: list[int] = field(default_factory=list)  # packet sizes, bytes


def nal_units(data: bytes) -> list[bytes]:
    """Split an Annex-B byte stream into NAL units, each with its start code."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i - 1 if i > 0 and data[i - 1] == 0 else i)
        i = data.find(b"\x00\x00\x01", i + 3)
    if not starts:
        return [data]
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])] if starts[0] == 0 else [data]


def strip_info_sei(data: bytes, decoder: str) -> bytes:
    """Drop user-data-unregistered SEI NAL units (payload type 5) from an H.264/HEVC packet."""
    if decoder not in ("h264", "hevc"):
        return data
    kept = []
    for nal in nal_units(data):
        body = nal[nal.index(b"\x00\x00\x01") + 3:]
        if decoder == "h264":
            is_info = len(body) > 1 and body[0] & 0x1F == 6 and body[1] == 5
        else:
            is_info = len(body) > 2 and (body[0] >> 1) & 0x3F in (39, 40) and body[2] == 5
        if not is_info:
            kept.append(nal)
    return b"".join(kept)


def to_av_frame(rgb: np.ndarray, index: int) -> av.VideoFrame:
    """``uint8 (H, W, 3)`` RGB (even sides) → a yuv420p frame (BT.709 limited range) with pts ``index``."""
    y, u, v = rgb_to_yuv(rgb, MATRIX, RANGE, "420")
    h, w = y.shape
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(h * 3 // 2, w)
    frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
    frame.pts = index
    return frame


def from_av_frame(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame → ``uint8 (H, W, 3)`` RGB (the inverse of :func:`to_av_frame`)."""
    f = frame.reformat(format="yuv420p") if frame.format.name != "yuv420p" else frame
    h, w = f.height, f.width
    planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:, : (w if i == 0 else w // 2)]
              for i, p in enumerate(f.planes)]
    return yuv_to_rgb(planes[0][:h], planes[1][: h // 2], planes[2][: h // 2], MATRIX, RANGE)


def pad_even(frames: np.ndarray, min_side: int = 0) -> np.ndarray:
    """``(T, H, W, 3)`` padded by edge replication (bottom, right) to even ``H`` and ``W`` (4:2:0 needs
    them) of at least ``min_side`` each."""
    h, w = frames.shape[1:3]
    dh, dw = max(h % 2, min_side - h), max(w % 2, min_side - w)
    return np.pad(frames, ((0, 0), (0, dh), (0, dw), (0, 0)), mode="edge") if dh or dw else frames


def rate_points(codec: str, crfs: Sequence[int] | None = None) -> list[int]:
    """The CRFs to code ``codec`` at (``None``/empty: its :attr:`BaselineSpec.default_crfs`), checked
    before any work: a one-line ``ConfigError`` for an unknown codec, a CRF outside its range or a
    repeated one (each CRF is one rate point; a repeat would be coded and counted twice)."""
    if codec not in BASELINES:
        raise ConfigError(f"unknown baseline {codec!r} (known: {', '.join(sorted(BASELINES))})")
    out = [int(c) for c in (crfs or BASELINES[codec].default_crfs)]
    lo, hi = BASELINES[codec].crf_range
    if any(not lo <= c <= hi for c in out):
        raise ConfigError(f"{codec}: CRF values must lie in {lo}..{hi}")
    check_distinct(f"{codec}: CRF", out)
    return out


def encode_decode(frames: np.ndarray, codec: str, crf: int, fps: float = 25.0) -> BaselineResult:
    """Encode ``uint8 (T, H, W, 3)`` RGB with ``codec`` at ``crf`` and decode it back."""
    if codec not in BASELINES:
        raise ConfigError(f"unknown baseline codec {codec!r} (known: {', '.join(BASELINES)})")
    spec = BASELINES[codec]
    lo, hi = spec.crf_range
    if not lo <= crf <= hi:
        raise ConfigError(f"{codec}: crf {crf} outside {lo}..{hi}")
    if frames.ndim != 4 or frames.shape[0] < 1 or frames.dtype != np.uint8:
        raise InputError(f"{codec}: need uint8 (T, H, W, 3) frames, got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    padded = pad_even(frames, spec.min_side)
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only (its banner floods the console)
    try:
        enc = av.CodecContext.create(spec.encoder, "w")
    except (av.error.FFmpegError, ValueError) as e:
        raise ConfigError(f"{codec}: encoder {spec.encoder} not available in this PyAV build ({e})") from None
    enc.width, enc.height = padded.shape[2], padded.shape[1]
    enc.pix_fmt = "yuv420p"
    rate = Fraction(fps).limit_denominator(1001)
    enc.framerate = rate
    enc.time_base = 1 / rate
    enc.gop_size = t
    enc.max_b_frames = 0
    enc.options = spec.options(crf, t)
    packets: list[bytes] = []
    t0 = time.perf_counter()
    try:
        for i, rgb in enumerate(padded):
            packets += [bytes(p) for p in enc.encode(to_av_frame(rgb, i))]
        packets += [bytes(p) for p in enc.encode(None)]
    except av.error.FFmpegError as e:
        raise InputError(f"{codec}: encoding a {w}x{h} clip failed: {e}") from None
    enc_s = time.perf_counter() - t0
    packets = [strip_info_sei(p, spec.decoder) for p in packets]
    dec = av.CodecContext.create(spec.decoder, "r")
    out: list[np.ndarray] = []
    t0 = time.perf_counter()
    for data in packets:
        for f in dec.decode(av.Packet(data)):
            out.append(from_av_frame(f))
    for f in dec.decode(None):
        out.append(from_av_frame(f))
    dec_s = time.perf_counter() - t0
    if len(out) != t:
        raise InputError(f"{codec}: decoded {len(out)} frames, expected {t}")
    decoded = np.stack(out)[:, :h, :w]
    return BaselineResult(bits=8 * sum(len(p) for p in packets), frames=decoded, encode_seconds=enc_s,
                          decode_seconds=dec_s, packets=[len(p) for p in packets])
