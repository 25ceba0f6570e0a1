"""A keyframe predicted from the previous decoded keyframe: one HEVC P-frame (x265 through PyAV).

Both sides hold the reference, the previous keyframe as decoded. The encoder codes the two-frame
sequence ``[reference, keyframe]`` with x265 at constant QP, the reference as an I-frame at
``qp − 36`` (``ipratio=64``: near-lossless) and the keyframe as a P-frame at ``qp``, and sends only
the P-frame's packet. The decoder codes the reference it holds with the same settings, which gives
the same I-frame (x265 is deterministic for a given build, parameters and input; threads are
pinned), and decodes ``[its I-frame, the P packet]``. A different x265 build may code that I-frame
differently; the caller stores a checksum of the decoded keyframe to notice it
(:mod:`actdiff.codec.keyframe_inter`).

Images are ``uint8 (H, W, 3)`` RGB in, ``uint8 (H, W, 3)`` out, any size of at least 8×8 (odd
sides are padded by edge replication and cropped back); BT.709 limited range 4:2:0, as the x265
baseline (:mod:`actdiff.baselines.pyav_codec`).
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from actdiff.baselines.pyav_codec import from_av_frame, nal_units, pad_even, strip_info_sei, to_av_frame
from actdiff.errors import BitstreamError, ConfigError

#: The P-frame's quantiser range (HEVC's) and the I-frame's offset below it (6·log2(ipratio)).
QP_RANGE = (0, 51)
REFERENCE_OFFSET = 36
X265_PARAMS = ("qp={qp}:ipratio=64:bframes=0:keyint=1000:min-keyint=1000:scenecut=0:rc-lookahead=0:"
               "frame-threads=1:pools=1:log-level=error")
PRESET = "medium"


#: Smallest side (px) libx265 opens an encoder for (12 px is refused, 16 px works: tests/test_keyframe_inter.py).
MIN_SIDE = 16


def check_qp(qp: int) -> int:
    lo, hi = QP_RANGE
    if isinstance(qp, bool) or not isinstance(qp, (int, np.integer)) or not lo <= int(qp) <= hi:
        raise ConfigError(f"inter keyframe qp must be an integer in {lo}..{hi}, got {qp!r}")
    return int(qp)


def check_available() -> None:
    """``ConfigError`` when this PyAV build has no libx265 encoder or HEVC decoder."""
    for name, mode in (("libx265", "w"), ("hevc", "r")):
        try:
            av.codec.Codec(name, mode)
        except Exception as e:  # noqa: BLE001  (PyAV raises UnknownCodecError or ValueError by version)
            raise ConfigError(f"inter keyframes need {name}, which this PyAV build lacks ({e})") from None


def _encoder(width: int, height: int, qp: int) -> av.CodecContext:
    try:
        enc = av.CodecContext.create("libx265", "w")
    except (av.error.FFmpegError, ValueError) as e:
        raise ConfigError(f"inter keyframes need libx265, which this PyAV build lacks ({e})") from None
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.framerate, enc.time_base = Fraction(25), Fraction(1, 25)
    enc.options = {"preset": PRESET, "x265-params": X265_PARAMS.format(qp=qp)}
    return enc


def _packets(images: list[np.ndarray], qp: int) -> list[bytes]:
    """x265's packets of ``images`` (even-sized), one per frame, informational SEI stripped."""
    h, w = images[0].shape[:2]
    enc = _encoder(w, h, qp)
    packets: list[bytes] = []
    for i, img in enumerate(images):
        packets += [bytes(p) for p in enc.encode(to_av_frame(img, i))]
    packets += [bytes(p) for p in enc.encode(None)]
    if len(packets) != len(images):
        raise RuntimeError(f"x265 gave {len(packets)} packets for {len(images)} frames")
    return [strip_info_sei(p, "hevc") for p in packets]


def _decode(packets: list[bytes]) -> list[np.ndarray]:
    dec = av.CodecContext.create("hevc", "r")
    try:
        out = [from_av_frame(f) for p in packets for f in dec.decode(av.Packet(p))]
        return out + [from_av_frame(f) for f in dec.decode(None)]
    except av.error.FFmpegError as e:
        raise BitstreamError(f"corrupt inter keyframe: {e}") from None


def _check_pair(ref: np.ndarray, img: np.ndarray) -> None:
    if ref.dtype != np.uint8 or ref.ndim != 3 or ref.shape[2] != 3 or min(ref.shape[:2]) < MIN_SIDE:
        raise ValueError(f"reference must be uint8 (H, W, 3) of at least {MIN_SIDE}x{MIN_SIDE}, "
                         f"got {ref.dtype} {ref.shape}")
    if img.shape != ref.shape or img.dtype != np.uint8:
        raise ValueError(f"keyframe {img.dtype} {img.shape} does not match its reference {ref.shape}")


def encode_inter(ref: np.ndarray, img: np.ndarray, qp: int) -> tuple[bytes, np.ndarray]:
    """The P-frame packet of ``img`` predicted from ``ref`` at ``qp``, and ``img`` as decoded."""
    _check_pair(ref, img)
    qp = check_qp(qp)
    h, w = img.shape[:2]
    packets = _packets([pad_even(ref[None])[0], pad_even(img[None])[0]], qp)
    check_packet(packets[1])
    frames = _decode(packets)
    if len(frames) != 2:
        raise RuntimeError(f"decoding the inter keyframe gave {len(frames)} frames")
    return packets[1], np.ascontiguousarray(frames[1][:h, :w])


#: NAL unit types a sent P-frame may hold: non-IRAP slices only (no parameter sets, which could
#: declare another picture size, and no intra refresh).
SLICE_TYPES = range(0, 10)


def check_packet(packet: bytes) -> None:
    """``BitstreamError`` unless ``packet`` is Annex-B NAL units of non-IRAP slices only."""
    if not packet.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        raise BitstreamError("corrupt inter keyframe: the packet does not start with a NAL start code")
    for nal in nal_units(packet):
        body = nal[nal.index(b"\x00\x00\x01") + 3:]
        kind = (body[0] >> 1) & 0x3F if body else -1
        if kind not in SLICE_TYPES:
            raise BitstreamError(f"corrupt inter keyframe: NAL unit of type {kind}, only P/B slices (0-9) may be sent")


def decode_inter(ref: np.ndarray, packet: bytes, qp: int) -> np.ndarray:
    """The keyframe of the P-frame ``packet`` predicted from ``ref`` at ``qp`` (:func:`encode_inter`'s)."""
    qp = check_qp(qp)
    check_packet(bytes(packet))
    h, w = ref.shape[:2]
    padded = pad_even(ref[None])[0]
    intra = _packets([padded], qp)[0]   # the reference as the encoder coded it
    frames = _decode([intra, bytes(packet)])
    if len(frames) != 2:
        raise BitstreamError(f"corrupt inter keyframe: decoded {len(frames)} frames, expected 2")
    out = frames[1]
    if out.shape[:2] != padded.shape[:2]:
        raise BitstreamError(f"corrupt inter keyframe: decoded {out.shape[1]}x{out.shape[0]}, "
                             f"expected {padded.shape[1]}x{padded.shape[0]}")
    return np.ascontiguousarray(out[:h, :w])


__all__ = ["QP_RANGE", "REFERENCE_OFFSET", "SLICE_TYPES", "check_available", "check_packet", "check_qp",
           "decode_inter", "encode_inter"]
