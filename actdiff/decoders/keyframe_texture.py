"""Texture drawn once per keyframe and carried with the content (``residual_from="keyframes"``).

The frame-by-frame diffusion decoder draws its texture anew at every in-between frame and filters it
along the decoded motion (:mod:`actdiff.decoders.residual_filter`); since the keyframes carry none,
the filtered texture fades in from one keyframe and out towards the next, and that envelope is
frame-to-frame change the warping error counts (``experiments/steady_texture.py``). Here the 2D model
instead runs once per KEYFRAME, and the in-between frames get that texture through the very maps the
warp decoder samples the keyframes along, with its fusion weights:

    out_t = U_t + a0_t · T0(B0_t) + a1_t · T1(B1_t),   out_k = K + T(K) at the keyframes,

``a0``/``a1`` the warp decoder's fusion weights (:func:`actdiff.motion.fusion.fuse_frame`), ``B0``/``B1``
its backward maps into the keyframes, ``T0``/``T1`` the keyframes' textures and ``U_t`` the image under
them as the decoder's ``base`` says (:func:`image_under`): with ``detail`` (the shipped weights')
the warp decoder's frame ``P_t`` with ``β`` of the plain blend's coarse band, ``P_t + β · G(blend_t −
P_t)`` (``β`` the stream's per-segment ``detail_mix`` where sent), with ``prediction`` ``P_t``.
The texture moves exactly with the content it was drawn on, keyframes included, and where the
fusion takes a keyframe's pixels it takes that keyframe's texture.

A keyframe's texture ``T(K)`` depends on the keyframe alone, so both segments that share it agree:
the model is sampled at the middle frame of a still three-frame segment whose both ends are ``K``
(a grid of motionless trajectories, bandwidth :data:`STILL_BANDWIDTH`), with the decoder's
sampler, base, band, ``residual_scale`` and coarse lock, no residual filter, and ONE initial noise
for every keyframe of the stream (the header's seed, segment id :data:`KEYFRAME_NOISE_ID`), so a
region that stays still through several keyframes gets nearly the same texture from each. The model
runs once per keyframe instead of once per in-between frame (the last texture is kept for the next
segment). Deterministic: the noise comes from the stream.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, Tuple

import numpy as np

from actdiff.decoders.coarse_lock import lock_coarse
from actdiff.errors import ConfigError
from actdiff.motion.edge_field import planned_frames
from actdiff.motion.fusion import fuse_frame
from actdiff.motion.prediction import blend_warps, coarse_band, warp_keyframes
from actdiff.motion.warp import backward_warp
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks


class TextureDecoder(Protocol):
    """What this module uses of :class:`actdiff.decoders.diffusion.DiffusionDecoder` (which imports it)."""

    base: str
    detail_sigma: float
    coarse_lock: bool
    keyframe_textures: "TextureCache"

    def generate(self, header: StreamHeader, seg: DecodedSegment, frames: list, out: np.ndarray,
                 keep_base: bool = False, noise_id: int | None = None, report: bool = True) -> np.ndarray | None: ...

    def segment_mix(self, seg: DecodedSegment) -> float: ...

    def bidirectional_for(self, header: StreamHeader) -> bool: ...

    def report_frames(self, n: int) -> None: ...


#: The refusal of a one-way decode (``bidirectional`` off): the texture needs both keyframes.
ONE_WAY = "residual_from keyframes needs both keyframes of a segment (bidirectional decoding)"
#: Segment id of the one initial noise every keyframe's texture is sampled from.
KEYFRAME_NOISE_ID = 0
#: Interpolation bandwidth (px) of the still segment's motionless trajectories.
STILL_BANDWIDTH = 16.0
#: Rows and columns of the still segment's grid of motionless trajectories.
STILL_GRID = (4, 6)


def still_segment(key: np.ndarray) -> DecodedSegment:
    """Three frames that do not move, both ends ``key`` ``uint8 (H, W, 3)``: the model's conditions
    at its middle frame are those of a frame between two copies of the keyframe."""
    h, w = key.shape[:2]
    rows, cols = STILL_GRID
    ys, xs = np.meshgrid((np.arange(rows) + 0.5) * h / rows, (np.arange(cols) + 0.5) * w / cols, indexing="ij")
    points = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32)
    n = len(points)
    tracks = Tracks(np.repeat(points[None], 3, 0), np.ones((3, n), bool), np.ones((3, n), np.float32))
    return DecodedSegment(Segment(0, 2), key, key, tracks, STILL_BANDWIDTH, None)


def keyframe_texture(decoder: TextureDecoder, header: StreamHeader, key: np.ndarray) -> np.ndarray:
    """``T(K)``: what the decoder adds to keyframe ``key`` (module docstring), ``float32 (H, W, 3)``
    in grey levels (the keyframe plus it, rounded, is ``uint8``)."""
    seg = still_segment(key)
    out = np.stack([key, key, key])
    base = decoder.generate(header, seg, [1], out, keep_base=True, noise_id=KEYFRAME_NOISE_ID, report=False)
    base[[0, 2]] = key
    if decoder.coarse_lock:
        lock_coarse(out, base, [1])
    return out[1].astype(np.float32) - base[1].astype(np.float32)


class TextureCache:
    """The textures of the last two keyframes, by content (a segment's end keyframe is the next one's start)."""

    def __init__(self) -> None:
        self.entries: list[Tuple[bytes, np.ndarray]] = []

    def get(self, decoder: TextureDecoder, header: StreamHeader, key: np.ndarray) -> np.ndarray:
        digest = hashlib.sha256(np.ascontiguousarray(key).tobytes()).digest() + str(header.seed).encode()
        for d, tex in self.entries:
            if d == digest:
                return tex
        tex = keyframe_texture(decoder, header, key)
        self.entries = (self.entries + [(digest, tex)])[-2:]
        return tex


def image_under(decoder: TextureDecoder, seg: DecodedSegment, t: int, pred: np.ndarray,
                fusion: dict | None = None) -> np.ndarray:
    """``U_t`` (module docstring), ``float32 (H, W, 3)`` in [0, 255], from the warp decoder's frame
    ``pred`` of segment-relative frame ``t``: itself, or with the ``detail`` base the plain blend's
    coarse band mixed in by the segment's ``detail_mix`` (``blend`` counts as ``detail`` with β = 1;
    the formula of :func:`actdiff.decoders.rebase.image_under`, on arrays). ``fusion``: the diagnostics
    of ``fuse_frame(seg, t, plain=True)``, whose plain warps and confidences are the blend's (else they
    are computed here)."""
    mix = needs_blend(decoder, seg)
    if not mix:
        return pred
    if fusion is not None and fusion.get("plain0") is not None:
        w0, c0, w1, c1 = fusion["plain0"], fusion["c0"], fusion["plain1"], fusion["c1"]
    else:
        w0, c0, w1, c1 = warp_keyframes(seg, t, float(seg.bandwidth))
    blend = blend_warps(w0, c0[..., None], w1, c1[..., None], t / (seg.segment.length - 1))
    return pred + mix * coarse_band(blend - pred, decoder.detail_sigma)


def needs_blend(decoder: TextureDecoder, seg: DecodedSegment) -> float:
    """The share ``β`` of the plain blend's coarse band in :func:`image_under` (0: the warp decoder's frame)."""
    if decoder.base == "prediction":
        return 0.0
    return 1.0 if decoder.base == "blend" else decoder.segment_mix(seg)


def carried_texture(fusion: dict, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """``a0 · T0(B0) + a1 · T1(B1)``, ``float32 (H, W, 3)``: the keyframes' textures ``t0``/``t1`` moved
    along the maps of :func:`fuse_frame`'s diagnostics ``fusion`` and mixed by its weights."""
    return (fusion["a0"][..., None] * backward_warp(t0, fusion["map0"])
            + fusion["a1"][..., None] * backward_warp(t1, fusion["map1"]))


def _with(image: np.ndarray, texture: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(image, np.float32) + texture), 0, 255).astype(np.uint8)


def decode_with_keyframe_texture(decoder: TextureDecoder, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
    """Frames ``uint8 (L, H, W, 3)`` of ``seg`` with the keyframes' textures (module docstring)."""
    if not decoder.bidirectional_for(header):
        raise ConfigError(ONE_WAY)
    t0 = decoder.keyframe_textures.get(decoder, header, seg.key_start)
    t1 = decoder.keyframe_textures.get(decoder, header, seg.key_end)
    length = seg.segment.length
    out = np.empty((length,) + seg.key_start.shape, np.uint8)
    out[0] = _with(seg.key_start, t0)
    if length > 1:
        out[-1] = _with(seg.key_end, t1)
    inner = list(range(1, length - 1))
    plain = bool(needs_blend(decoder, seg))  # the fusion's plain warps are the blend's: not warped twice
    with planned_frames(seg, inner):
        for t in inner:
            pred, d = fuse_frame(seg, t, plain=plain)
            out[t] = _with(image_under(decoder, seg, t, pred, d), carried_texture(d, t0, t1))
    decoder.report_frames(len(inner))
    return out
