"""Decoder-side refinement of the segment's motion with dense flow between its two keyframes.

The decoded trajectories describe the motion of a few points; interpolated (normalised
convolution, :mod:`actdiff.motion.interpolate`) they give a smooth field that blurs motion
boundaries — an object's motion leaks into the background around it and its outline is
misplaced in every in-between frame. The decoder has more than the points: it holds BOTH decoded
keyframes, so it can measure the dense motion between them itself (no bits, the same at the
encoder's decoder-in-the-loop and at training). Here:

1. ``f01`` = the tracks' map of the start keyframe ``K0`` into the end keyframe ``K1``
   (:func:`dense_flow_from_tracks` from 0 to ``L-1``), ``f10`` the other way;
2. ``g01`` = OpenCV DIS flow from ``K0`` to ``K1`` *initialised with* ``f01`` (so large motions
   come from the tracks and DIS adds the detail), ``g10`` likewise;
3. the correction ``c0 = w0 · (g01 − f01)`` on ``K0``'s grid is trusted (``w0`` near 1) only where
   the DIS flows are forward–backward consistent (error ≲ ``fb_sigma`` px) and the DIS flow
   matches the keyframes better than the tracks' field (blurred absolute RGB error of ``K1``
   warped onto ``K0``, mean over channels: DIS sees only luma, so an object that differs from its
   background in colour but hardly in luma is not pulled off its tracks), ``c1`` likewise on
   ``K1``'s grid; both are clipped to ``max_correction`` px;
4. frame ``t`` backward-warps ``K0`` with ``B0'(p) = B0(p) − s0·c0(B0(p))`` and ``K1`` with
   ``B1'(p) = B1(p) − s1·c1(B1(p))``, where ``s0`` is the share of the tracks' own motion from
   ``K0`` to ``K1`` that is done at ``t`` (per pixel: the motion ``K0 → t`` projected on the motion
   ``K0 → K1``, :func:`progress`; ``τ = t/(L-1)`` where the tracks hardly move) and ``s1`` the share
   of ``K1 → K0`` done. The tracks' field errs where it moves (an object's motion leaking into the
   background beside it), so its error, and the correction, grow with that motion, not with time:
   an object that rests, then moves, keeps the background beside it still while it rests (spreading
   linearly in ``τ``, the first version, ``spread="time"``, dragged it along).

Only the sampling positions change: the fusion's weights (confidence, forward–backward test)
still come from the tracks' maps (:func:`actdiff.motion.fusion.warp_keyframe`). Everything is
computed from decoded data (two DIS flows per segment, cached while its frames are predicted) and
is deterministic. On by default (``FusionParams.keyflow``; the warp decoder's
``prediction_params={"keyflow": false}`` turns it off); measured in docs/benchmarks.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Tuple, Union

import cv2
import numpy as np

from actdiff.motion.edge_field import EdgeParams, segment_displacement
from actdiff.motion.interpolate import dense_flow_from_tracks
from actdiff.motion.keyed_lock import SegmentCache
from actdiff.motion.warp import backward_warp, pixel_grid, vector_length
from actdiff.types import DecodedSegment

SPREADS = ("progress", "shared", "time")


@dataclass(frozen=True)
class KeyflowParams:
    """Knobs of :func:`keyframe_corrections` (pixels at the coded size, grey levels in [0, 255]).

    Attributes:
        fb_sigma: DIS forward–backward error (px) at which the trust drops by ``e^-1/2``.
        photo_blur: Gaussian sigma (px) of the absolute RGB errors (mean over channels) compared.
        photo_margin: grey levels by which the DIS error must beat the tracks' error to count
            as better (trust ``sigmoid((e_tracks − e_dis − margin) / photo_scale)``).
        photo_scale: grey levels over which that trust goes from 0 to 1.
        max_correction: largest correction (px) applied.
        smooth: Gaussian sigma (px) of the trusted correction (removes DIS's block noise).
        spread: how the correction grows from its keyframe to the other: ``progress`` (with the
            tracks' motion, :func:`progress`, each keyframe along its own map) | ``shared`` (the
            end keyframe's share is 1 − the start keyframe's at the same pixel, so the two always
            sum to 1 as in ``time``) | ``time`` (linearly in ``τ``).
        progress_eps: px; where the tracks' end-to-end motion is below about this, the share
            falls back to ``τ``.
    """

    fb_sigma: float = 1.5
    photo_blur: float = 2.0
    photo_margin: float = 1.0
    photo_scale: float = 2.0
    max_correction: float = 32.0
    smooth: float = 1.0
    spread: str = "progress"
    progress_eps: float = 2.0

    def __post_init__(self) -> None:
        if self.spread not in SPREADS:
            raise ValueError(f"unknown keyflow spread {self.spread!r} (known: {', '.join(SPREADS)})")


class Corrections(NamedTuple):
    """What :func:`keyframe_corrections` computes once per segment, each ``float32 (H, W, 2)`` px."""

    c0: np.ndarray  # trusted correction on the start keyframe's grid
    c1: np.ndarray  # ... on the end keyframe's grid
    f01: np.ndarray  # the tracks' motion start → end keyframe, on the start keyframe's grid
    f10: np.ndarray  # ... end → start, on the end keyframe's grid


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(img, dtype=np.uint8), cv2.COLOR_RGB2GRAY)


def _dis_flow(a: np.ndarray, b: np.ndarray, init: np.ndarray) -> np.ndarray:
    """DIS flow ``float32 (H, W, 2)`` from grey ``a`` to grey ``b`` starting from ``init``."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setUseSpatialPropagation(True)
    return dis.calc(a, b, np.array(init, np.float32, copy=True))  # calc writes into its 3rd argument


def _photo_error(src: np.ndarray, dst: np.ndarray, coords: np.ndarray, blur: float) -> np.ndarray:
    """Blurred ``|src − dst(coords)|`` of RGB images ``(H, W, 3)``, mean over channels, ``float32 (H, W)``."""
    warped = backward_warp(dst.astype(np.float32), coords)
    err = np.abs(src.astype(np.float32) - warped).mean(-1)
    return cv2.GaussianBlur(err, (0, 0), blur) if blur > 0 else err


def _one_side(ka: np.ndarray, kb: np.ndarray, track_ab: np.ndarray, dis_ab: np.ndarray,
              dis_ba: np.ndarray, grid: np.ndarray, p: KeyflowParams) -> np.ndarray:
    """Trusted correction ``(H, W, 2)`` px on keyframe ``ka``'s grid (``ka``, ``kb``: RGB ``(H, W, 3)``)."""
    fb = vector_length(dis_ab + backward_warp(dis_ba, grid + dis_ab))
    trust_fb = np.exp(-(fb ** 2) / (2.0 * p.fb_sigma ** 2))
    e_track = _photo_error(ka, kb, grid + track_ab, p.photo_blur)
    e_dis = _photo_error(ka, kb, grid + dis_ab, p.photo_blur)
    z = np.clip((e_track - e_dis - p.photo_margin) / p.photo_scale, -30, 30)
    trust = (trust_fb / (1.0 + np.exp(-z))).astype(np.float32)
    corr = (dis_ab - track_ab) * trust[..., None]
    if p.smooth > 0:
        corr = cv2.GaussianBlur(corr, (0, 0), p.smooth)
    norm = vector_length(corr)[..., None]
    return (corr * np.minimum(1.0, p.max_correction / np.maximum(norm, 1e-6))).astype(np.float32)


def keyframe_corrections(seg: DecodedSegment, bandwidth: float,
                         params: KeyflowParams | None = None, edge: EdgeParams | None = None) -> Corrections:
    """Corrections on the start / end keyframe's grid and the tracks' end-to-end motions.

    ``edge``: the end-to-end motions are each keyframe's edge-aware field
    (:func:`actdiff.motion.edge_field.guided_field`, guided by that keyframe) instead of the
    tracks' Gaussian maps. Zeros for segments of fewer than 3 frames (no in-between frame).
    """
    p = params or KeyflowParams()
    h, w = seg.key_start.shape[:2]
    length = seg.segment.length
    if length < 3:
        zero = np.zeros((h, w, 2), np.float32)
        return Corrections(zero, zero, zero, zero)
    grid = pixel_grid(h, w)
    if edge is not None and seg.tracks.num_points:
        f01, f10 = _edge_motions(seg, bandwidth, edge)
    else:
        f01, f10 = tracks_motions(seg, bandwidth)
    g0, g1 = _gray(seg.key_start), _gray(seg.key_end)
    d01 = _dis_flow(g0, g1, f01)
    d10 = _dis_flow(g1, g0, f10)
    c0 = _one_side(seg.key_start, seg.key_end, f01, d01, d10, grid, p)
    c1 = _one_side(seg.key_end, seg.key_start, f10, d10, d01, grid, p)
    return Corrections(c0, c1, f01.astype(np.float32), f10.astype(np.float32))


def tracks_motions(seg: DecodedSegment, bandwidth: float) -> Tuple[np.ndarray, np.ndarray]:
    """The tracks' Gaussian motion from the start keyframe to the end keyframe on the start's grid,
    and back on the end's, each ``float32 (H, W, 2)`` px."""
    h, w = seg.key_start.shape[:2]
    last, grid = seg.segment.length - 1, pixel_grid(h, w)
    m01, _ = dense_flow_from_tracks(seg.tracks, 0, last, h, w, bandwidth)
    m10, _ = dense_flow_from_tracks(seg.tracks, last, 0, h, w, bandwidth)
    return m01 - grid, m10 - grid


def _edge_motions(seg: DecodedSegment, bandwidth: float, edge: EdgeParams) -> Tuple[np.ndarray, np.ndarray]:
    """Each keyframe's edge-aware motion to the other, on its own grid, ``float32 (H, W, 2)`` px."""
    last = seg.segment.length - 1
    return segment_displacement(seg, last, 0, bandwidth, edge), segment_displacement(seg, 0, last, bandwidth, edge)


_CACHE = SegmentCache(4)


def cached_corrections(seg: DecodedSegment, bandwidth: float,
                       params: KeyflowParams | None = None, edge: EdgeParams | None = None) -> Corrections:
    """:func:`keyframe_corrections`, computed once per segment object (the frames of a segment
    are predicted one by one and share them), also when several threads ask at once."""
    p = params or KeyflowParams()
    return _CACHE.get(seg, (float(bandwidth), p, edge), lambda: keyframe_corrections(seg, bandwidth, p, edge))


def progress(back: np.ndarray, motion: np.ndarray, tau: float, eps: float) -> np.ndarray:
    """Share in [0, 1], ``float32 (H, W)``, of the tracks' motion from a keyframe to the other
    that is done at frame ``t``: for the keyframe point ``q = B(p)`` that lands on ``p``,
    ``((p − q)·m + eps²·τ) / (|m|² + eps²)`` clipped, with ``m = motion(q)``; where ``|m| ≪ eps``
    that is ``τ``.

    Args:
        back: backward map ``(H, W, 2)`` of frame ``t`` into the keyframe, px.
        motion: the tracks' motion from this keyframe to the other, on its grid, ``(H, W, 2)`` px.
        tau: the share of the segment's time from this keyframe to ``t``, [0, 1].
        eps: px.
    """
    total = backward_warp(motion, back)
    moved = pixel_grid(*back.shape[:2]) - back
    done = (moved[..., 0] * total[..., 0] + moved[..., 1] * total[..., 1]) + eps * eps * tau
    squared = total[..., 0] * total[..., 0] + total[..., 1] * total[..., 1]
    return np.clip(done / (squared + eps * eps), 0.0, 1.0).astype(np.float32)


def refine_map(back: np.ndarray, correction: np.ndarray, fraction: Union[float, np.ndarray]) -> np.ndarray:
    """``B'(p) = B(p) − fraction · c(B(p))``: backward map ``(H, W, 2)`` of frame ``t`` into a
    keyframe refined by that keyframe's correction (``fraction`` of it, a number or ``(H, W)``
    per pixel, has happened by ``t``)."""
    share = np.asarray(fraction, np.float32)
    if share.ndim == 0 and share == 0.0:
        return back
    return (back - share[..., None] * backward_warp(correction, back)).astype(np.float32)
