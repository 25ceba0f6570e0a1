"""Ghost-free fusion of the two keyframe warps of a segment into the prediction of frame ``t``.

The plain blend (``a0 = (1-τ)(c0+ε)``, ``a1 = τ(c1+ε)``) averages the start keyframe K0 and the
end keyframe K1, each backward-warped to ``t`` along the motion interpolated from the decoded
trajectories. Where an object moves a lot the warps disagree — K0 still shows it where it *was*,
K1 where it *will be* — and the average is a half-transparent double image. Here each warp gets
a per-pixel log-weight from what the decoded motion supports, and the weights are sharpened
wherever the warps disagree, so that those pixels come from ONE keyframe; where the warps agree
the plain blend is kept. For keyframe ``k`` (at segment-relative frame ``r_k`` = 0 or ``L-1``)
and pixel ``p`` of frame ``t``, ``τ = t / (L-1)``:

* ``B_k`` = backward map ``t → r_k`` with confidence ``c_k`` (``dense_flow_from_tracks``) and
  ``F_k`` = forward map ``r_k → t`` (the same interpolation, the other way);
* forward–backward error ``e_k(p) = ‖F_k(B_k(p)) − p‖`` (px): ~0 where the keyframe content
  sampled for ``p`` does move to ``p``; large where it moves elsewhere — the object has left
  ``p`` (K0) or has not arrived yet (K1) — or where the map folds. This is the coverage test of
  a forward splat of the keyframe, read at the pixel the backward warp samples;
* log-weight ``ℓ_k = log(time_k) + log(c_k + ε) − min(e_k² / (2 s_k²), cap)``, ``time_0 = 1-τ``,
  ``time_1 = τ``, tolerance ``s_k² = fb_sigma² + (fb_rel · ‖B_k(p) − p‖)²`` (the two maps are
  interpolated independently and are only near-inverses);
* agreement ``α = exp(−(D/κ)²)``, ``D`` the luma difference of the two warps after a Gaussian
  blur of ``agree_blur`` px (a sub-pixel misregistration of texture is not a double image), grown
  by ``agree_grow`` px so that a ghost's halo counts too;
* temperature ``T = t_select + (1 − t_select)·α``; ``Δ = G_logit_blur * (ℓ1 − ℓ0)``;
  ``a1 = G_weight_blur * sigmoid(Δ / T)``, ``a0 = 1 − a1`` (a two-way softmax of ``ℓ / T``);
* prediction ``a0·w0 + a1·w1``.

With ``α = 1`` and ``e_k = 0`` this is the plain blend; where ``α → 0`` it picks the warp with the
larger ``ℓ_k``: the motion-consistent one, else the nearer in time. It reads only what the
bitstream carries (decoded keyframes, decoded tracks, bandwidth) and is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import cv2
import numpy as np

from actdiff.motion.edge_field import EdgeParams, invert_displacement, segment_displacement
from actdiff.motion.interpolate import dense_flow_from_tracks, interpolate_sparse
from actdiff.motion.keyflow import Corrections, KeyflowParams, cached_corrections, progress, refine_map
from actdiff.motion.sprites import SpriteParams, draw_sprites, segment_sprites
from actdiff.motion.warp import backward_warp, pixel_grid, vector_length
from actdiff.types import DecodedSegment, Tracks

#: ``FusionParams.edge_sigma_r``: the edge-aware motion's default, chosen on training clips
#: (``experiments/prediction_eval.py``, docs/benchmarks.md); 0 turns it off.
EDGE_SIGMA_R = 120.0
#: Confidence floor ε of the plain blend (:func:`actdiff.motion.prediction.blend_warps`): a time
#: cross-fade where both confidences are 0.
BLEND_FLOOR = 1e-3
#: ``FusionParams.edge_check``'s choices.
EDGE_CHECKS = ("residual", "tracks", "both")


@dataclass(frozen=True)
class FusionParams:
    """Knobs of :func:`fusion_weights` (pixels at the coded size, grey levels in [0, 255]).

    Defaults were chosen on TRAINING clips (``experiments/prediction_eval.py``).

    Attributes:
        fb_sigma: forward–backward error (px) at which a warp's weight drops by ``e^-1/2``.
        fb_rel: extra tolerance per pixel of motion.
        fb_cap: largest log-weight the forward–backward term can take away (0: no cap).
        fb_step: grid reduction on which the forward map of the check is interpolated
            (at most ``bandwidth / 2``; the maps are smooth at that scale).
        agree_kappa: luma difference (grey levels) at which the warps count as disagreeing.
        agree_blur: Gaussian sigma (px) of both warps' luma before differencing.
        agree_grow: radius (px) by which the disagreement is grown.
        t_select: temperature where the warps disagree (small: sharp choice; 1: plain blend).
        ref_length: segments longer than ``ref_length + 1`` frames get ``t_select`` scaled by
            ``ref_length / (L-1)``, so that a choice made on time alone switches over about the
            same number of frames whatever the segment length (0: no scaling).
        logit_blur: Gaussian sigma (px) of ``ℓ1 − ℓ0`` before sharpening (thin streaks of the
            maps do not flip the choice).
        weight_blur: Gaussian sigma (px) feathering the weight map (no hard seams).
        use_fb: include the forward–backward term (off: time and confidence only; ablation).
        keyflow: sample each keyframe along its map refined by the dense flow between the two
            decoded keyframes (:mod:`actdiff.motion.keyflow`; the weights still come from the
            tracks' maps). On by default since it gained on training clips (docs/benchmarks.md);
            ``False`` is the ablation (the tracks' maps alone).
        keyflow_params: overrides of :class:`actdiff.motion.keyflow.KeyflowParams` (``None``: its
            defaults).
        edge_sigma_r: > 0: each keyframe's motion is interpolated on its own grid, edge-aware,
            guided by it (:mod:`actdiff.motion.edge_field`; an edge of this many grey levels
            counts as a bandwidth of distance) and inverted; the inversion's residual replaces the
            forward–backward error, and keyflow starts from the same fields. 0: the tracks' maps
            of :func:`dense_flow_from_tracks` (Gaussian interpolation at frame ``t``).
        edge_iterations: fixed-point updates of that inversion.
        edge_guide_blur: Gaussian sigma (px) of the keyframe before it guides the field.
        edge_fallback: weight of the Gaussian field where the edges leave a region without points.
        edge_step: grid reduction on which the edge-aware field is filtered.
        edge_scale: the edge-aware filter's spatial sigma in bandwidths (> 1: the motion of an
            object's few points fills more of the region its outline encloses; 1: the default).
        edge_median: median filter size (px, 0/1: none; at most 5) applied to the inverted map:
            removes isolated pixels sampled from the wrong side of an edge.
        edge_outside: the inversion's residual includes how far its sample lies outside the
            keyframe (``False``: the clamped border counts as support; ablation).
        sprites: draw small moving objects the stream has no motion for once, moved between
            where the two keyframes show them (:mod:`actdiff.motion.sprites`; off by default).
        sprite_params: overrides of :class:`actdiff.motion.sprites.SpriteParams`.
        edge_check: the error the fusion reads with the edge-aware field: ``residual`` (the
            inversion's), ``tracks`` (:func:`fb_error` of the tracks' Gaussian maps, which are
            interpolated independently at ``t`` and at the keyframe and so disagree where the
            motion is unreliable: a wrong but smooth field inverts with no residual) or ``both``
            (the larger of the two per pixel).
    """

    fb_sigma: float = 2.0
    fb_rel: float = 0.1
    fb_cap: float = 10.0
    fb_step: int = 4
    agree_kappa: float = 20.0
    agree_blur: float = 3.0
    agree_grow: int = 3
    t_select: float = 0.3
    ref_length: float = 16.0
    logit_blur: float = 3.0
    weight_blur: float = 2.0
    use_fb: bool = True
    keyflow: bool = True
    keyflow_params: Optional[Dict[str, float]] = None
    edge_sigma_r: float = EDGE_SIGMA_R
    edge_iterations: int = 3
    edge_guide_blur: float = 2.0
    edge_fallback: float = 0.1
    edge_step: int = 2
    edge_scale: float = 1.0
    edge_median: int = 5
    edge_outside: bool = True
    edge_check: str = "residual"
    sprites: bool = False
    sprite_params: Optional[Dict[str, float]] = None

    def __post_init__(self) -> None:
        KeyflowParams(**(self.keyflow_params or {}))  # unknown keys: TypeError here, not mid-decode
        SpriteParams(**(self.sprite_params or {}))
        if self.edge_check not in EDGE_CHECKS:
            raise ValueError(f"edge_check must be one of {EDGE_CHECKS}, got {self.edge_check!r}")
        edge = (self.edge_sigma_r, self.edge_guide_blur, self.edge_fallback, self.edge_iterations)
        if min(edge) < 0 or self.edge_step < 1 or self.edge_scale <= 0 or self.edge_median not in (0, 1, 3, 5):
            raise ValueError("edge_sigma_r, edge_guide_blur, edge_fallback and edge_iterations must be >= 0, "
                             f"edge_step >= 1, edge_scale > 0 and edge_median 0, 1, 3 or 5; got {self.edge_sigma_r}, "
                             f"{self.edge_guide_blur}, {self.edge_fallback}, {self.edge_iterations}, "
                             f"{self.edge_step}, {self.edge_scale}, {self.edge_median}")

    def edge(self) -> Optional[EdgeParams]:
        """The edge-aware interpolation's settings, ``None`` when it is off."""
        if self.edge_sigma_r <= 0:
            return None
        return EdgeParams(self.edge_sigma_r, self.edge_guide_blur, self.edge_fallback, self.edge_step, self.edge_scale)


@dataclass
class KeyWarp:
    """One keyframe warped to frame ``t``.

    Attributes:
        image: ``float32 (H, W, 3)`` in [0, 255].
        confidence: ``float32 (H, W)`` in [0, 1] (:func:`dense_flow_from_tracks`).
        fb_error: ``float32 (H, W)``, forward–backward error in pixels.
        motion: ``float32 (H, W)``, ``‖B(p) − p‖`` in pixels.
        plain: when asked for, the keyframe warped along the tracks' Gaussian map alone (no
            edge-aware field, no keyflow refinement), ``float32 (H, W, 3)`` in [0, 255]: the warp
            the plain blend uses (:func:`actdiff.motion.prediction.warp_keyframes`, the
            conditions' ``w0``/``w1``).
        coords: the backward map ``float32 (H, W, 2)`` px the keyframe was sampled along (``None``
            at the keyframe itself): anything drawn on the keyframe moves to ``t`` along it.
    """

    image: np.ndarray
    confidence: np.ndarray
    fb_error: np.ndarray
    motion: np.ndarray
    plain: Optional[np.ndarray] = None
    coords: Optional[np.ndarray] = None


def _coarse_map(tracks: Tracks, t: int, ref: int, height: int, width: int, bandwidth: float,
                step: int) -> np.ndarray:
    """Backward map ``t → ref`` on a grid reduced by ``step``, ``float32 (ceil(H/step), ceil(W/step), 2)``
    in coarse pixels, interpolated as in :func:`dense_flow_from_tracks` (points and bandwidth scaled)."""
    hc, wc = -(-height // step), -(-width // step)
    ok = tracks.visible[t] & tracks.visible[ref]
    pos = tracks.positions[t][ok]
    disp = (tracks.positions[ref][ok] - pos) / step
    dense, _ = interpolate_sparse((pos + 0.5) / step - 0.5, disp, hc, wc, bandwidth / step)
    return pixel_grid(hc, wc) + dense


def fb_error(tracks: Tracks, t: int, ref: int, back: np.ndarray, bandwidth: float, step: int = 4) -> np.ndarray:
    """Forward–backward error ``‖F(B(p)) − p‖`` in pixels, ``float32 (H, W)``.

    Args:
        tracks: the segment's decoded tracks.
        t, ref: segment-relative frames (``back`` maps ``t`` into ``ref``).
        back: full-resolution backward map ``float32 (H, W, 2)`` (``dense_flow_from_tracks``).
        bandwidth: interpolation bandwidth in pixels.
        step: the forward map ``ref → t`` is interpolated on a grid reduced by
            ``min(step, bandwidth // 2)`` and the error is upsampled bilinearly.
    """
    h, w = back.shape[:2]
    step = int(max(1, min(step, bandwidth // 2)))
    fwd = _coarse_map(tracks, ref, t, h, w, bandwidth, step)
    hc, wc = fwd.shape[:2]
    back_c = back if step == 1 else (cv2.resize(back, (wc, hc), interpolation=cv2.INTER_AREA) + 0.5) / step - 0.5
    err = vector_length(backward_warp(fwd, back_c) - pixel_grid(hc, wc)) * step
    if step > 1:
        err = cv2.resize(err, (wc * step, hc * step), interpolation=cv2.INTER_LINEAR)[:h, :w]
    return err.astype(np.float32)


def edge_back_map(seg: DecodedSegment, t: int, ref: int, init: np.ndarray, bandwidth: float,
                  params: FusionParams) -> Tuple[np.ndarray, np.ndarray]:
    """Backward map ``float32 (H, W, 2)`` of frame ``t`` into keyframe ``ref`` through the
    keyframe's edge-aware field (:func:`actdiff.motion.edge_field.edge_aware_field`, guided by the
    decoded keyframe, inverted from ``init``), and the inversion's residual ``float32 (H, W)`` px."""
    disp = segment_displacement(seg, t, ref, bandwidth, params.edge())
    return invert_displacement(disp, init, params.edge_iterations, params.edge_median, params.edge_outside)


def _keyflow_share(seg: DecodedSegment, t: int, ref: int, back: np.ndarray, corr: Corrections,
                   kp: KeyflowParams, bandwidth: float) -> Union[float, np.ndarray]:
    """The share of keyframe ``ref``'s keyflow correction applied at frame ``t`` (a number, or
    ``float32 (H, W)`` per pixel; :class:`actdiff.motion.keyflow.KeyflowParams` ``spread``)."""
    tau = t / (seg.segment.length - 1)
    if kp.spread == "time":
        return tau if ref == 0 else 1.0 - tau
    if ref == 0:
        return progress(back, corr.f01, tau, kp.progress_eps)
    if kp.spread == "progress":
        return progress(back, corr.f10, 1.0 - tau, kp.progress_eps)
    h, w = back.shape[:2]  # shared: 1 − the start keyframe's share at the same pixel
    back0, _ = dense_flow_from_tracks(seg.tracks, t, 0, h, w, bandwidth)
    return 1.0 - progress(back0, corr.f01, tau, kp.progress_eps)


def warp_keyframe(seg: DecodedSegment, t: int, ref: int, bandwidth: float, params: FusionParams,
                  plain: bool = False) -> KeyWarp:
    """Backward-warp the keyframe at segment-relative frame ``ref`` (0 or ``L-1``) to ``t``,
    with its confidence and forward–backward error (the keyframe itself, error 0, at ``t == ref``);
    ``plain``: also the warp along the tracks' motion alone (:attr:`KeyWarp.plain`)."""
    key = seg.key_start if ref == 0 else seg.key_end
    h, w = key.shape[:2]
    zeros = np.zeros((h, w), np.float32)
    if t == ref:
        return KeyWarp(np.asarray(key, np.float32), np.ones((h, w), np.float32), zeros, zeros)
    back, conf = dense_flow_from_tracks(seg.tracks, t, ref, h, w, bandwidth)
    gauss, edge_fb = back, None
    if params.edge_sigma_r > 0 and seg.tracks.num_points:
        back, edge_fb = edge_back_map(seg, t, ref, back, bandwidth, params)
    sample = back
    if params.keyflow:
        kp = KeyflowParams(**(params.keyflow_params or {}))
        corr = cached_corrections(seg, bandwidth, kp, params.edge())
        share = _keyflow_share(seg, t, ref, back, corr, kp, bandwidth)
        sample = refine_map(back, corr.c0 if ref == 0 else corr.c1, share)
    image = np.clip(backward_warp(key, sample), 0, 255)
    # the plain blend's warp (warp_keyframes) follows the Gaussian map, whatever map ``sample`` is
    plain_warp = (np.clip(backward_warp(key, gauss), 0, 255) if sample is not gauss else image) if plain else None
    motion = vector_length(back - pixel_grid(h, w))
    if not params.use_fb or seg.tracks.num_points == 0:
        return KeyWarp(image, conf, zeros, motion, plain_warp, sample)
    if edge_fb is not None and params.edge_check == "residual":
        return KeyWarp(image, conf, edge_fb, motion, plain_warp, sample)
    err = fb_error(seg.tracks, t, ref, gauss, bandwidth, params.fb_step)
    if edge_fb is not None and params.edge_check == "both":
        err = np.maximum(err, edge_fb)
    return KeyWarp(image, conf, err, motion, plain_warp, sample)


def _luma(img: np.ndarray) -> np.ndarray:
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def agreement(w0: np.ndarray, w1: np.ndarray, params: FusionParams) -> np.ndarray:
    """``α = exp(−(D/κ)²)``, ``float32 (H, W)`` in [0, 1] (1 where the warps agree), from two
    ``(H, W, 3)`` images in [0, 255]."""
    y0, y1 = _luma(w0), _luma(w1)
    if params.agree_blur > 0:
        y0 = cv2.GaussianBlur(y0, (0, 0), params.agree_blur)
        y1 = cv2.GaussianBlur(y1, (0, 0), params.agree_blur)
    d = np.abs(y0 - y1)
    r = int(params.agree_grow)
    if r > 0:
        d = cv2.dilate(d, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        d = cv2.GaussianBlur(d, (0, 0), r / 2.0)
    return np.exp(-((d / params.agree_kappa) ** 2)).astype(np.float32)


def log_weight(kw: KeyWarp, time_weight: float, params: FusionParams) -> np.ndarray:
    """``ℓ = log(time) + log(c + ε) − min(e² / (2 s²), cap)``, ``float32 (H, W)`` (finite)."""
    ell = np.log(np.asarray(kw.confidence, np.float32) + BLEND_FLOOR) + np.float32(np.log(max(time_weight, 1e-6)))
    if params.use_fb:
        pen = kw.fb_error ** 2 / (2.0 * (params.fb_sigma ** 2 + (params.fb_rel * kw.motion) ** 2))
        ell = ell - (np.minimum(pen, params.fb_cap) if params.fb_cap > 0 else pen)
    return ell.astype(np.float32)


def fusion_weights(k0: KeyWarp, k1: KeyWarp, tau: float, params: FusionParams,
                   length: int = 0) -> Tuple[np.ndarray, np.ndarray, Dict[str, np.ndarray]]:
    """Per-pixel weights ``(a0, a1)``, ``float32 (H, W)`` in [0, 1] with ``a0 + a1 = 1``.

    ``tau = t / (L-1)`` in [0, 1]; ``length`` = ``L`` (frames, for ``params.ref_length``; 0:
    unknown, no scaling). Diagnostics: ``alpha`` (agreement), ``temperature``, ``ell0``/``ell1``.
    """
    ell0 = log_weight(k0, 1.0 - tau, params)
    ell1 = log_weight(k1, tau, params)
    alpha = agreement(k0.image, k1.image, params)
    t_sel = params.t_select
    if params.ref_length > 0 and length > 1:
        t_sel *= min(1.0, params.ref_length / (length - 1))
    temp = t_sel + (1.0 - t_sel) * alpha
    dl = ell1 - ell0
    if params.logit_blur > 0:
        dl = cv2.GaussianBlur(dl, (0, 0), params.logit_blur)
    a1 = (1.0 / (1.0 + np.exp(-np.clip(dl / temp, -60, 60)))).astype(np.float32)
    if params.weight_blur > 0:
        a1 = np.clip(cv2.GaussianBlur(a1, (0, 0), params.weight_blur), 0, 1)
    return 1.0 - a1, a1, {"alpha": alpha, "temperature": temp, "ell0": ell0, "ell1": ell1}


def fuse_frame(seg: DecodedSegment, t: int, params: Optional[FusionParams] = None,
               bandwidth: Optional[float] = None, plain: bool = False) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Prediction of segment-relative frame ``t`` from the decoded keyframes and tracks.

    Args:
        seg: decoded segment (keyframes ``uint8 (H, W, 3)``, tracks, bandwidth).
        t: ``0 <= t < L``; the keyframes themselves at ``0`` and ``L-1``.
        params: :class:`FusionParams` (defaults when ``None``).
        bandwidth: interpolation bandwidth in pixels (default ``seg.bandwidth``).
        plain: between the keyframes, also ``plain0``/``plain1`` in the diagnostics: the
            keyframes warped along the tracks' motion alone (:attr:`KeyWarp.plain`).

    Returns:
        ``(image float32 (H, W, 3) in [0, 255], diagnostics)``: the weights ``a0``/``a1``
        ``(H, W)``, and between the keyframes also ``w0``/``w1``, ``c0``/``c1``, ``fb0``/``fb1``,
        the backward maps ``map0``/``map1`` ``(H, W, 2)`` the keyframes were sampled along, and
        those of :func:`fusion_weights`.
    """
    params = params or FusionParams()
    length = seg.segment.length
    if not 0 <= t < length:
        raise ValueError(f"frame {t} outside segment of {length} frames")
    if seg.tracks.num_points and seg.tracks.num_frames != length:
        raise ValueError(f"tracks have {seg.tracks.num_frames} frames, segment has {length}")
    bw = float(seg.bandwidth if bandwidth is None else bandwidth)
    if t == 0 or t == length - 1:
        key = seg.key_start if t == 0 else seg.key_end
        one, zero = np.ones(key.shape[:2], np.float32), np.zeros(key.shape[:2], np.float32)
        return np.asarray(key, np.float32), {"a0": one if t == 0 else zero, "a1": zero if t == 0 else one}
    k0 = warp_keyframe(seg, t, 0, bw, params, plain)
    k1 = warp_keyframe(seg, t, length - 1, bw, params, plain)
    a0, a1, diag = fusion_weights(k0, k1, t / (length - 1), params, length)
    image = a0[..., None] * k0.image + a1[..., None] * k1.image
    if params.sprites:
        kp = KeyflowParams(**(params.keyflow_params or {})) if params.keyflow else None
        found = segment_sprites(seg, bw, SpriteParams(**(params.sprite_params or {})), kp, params.edge())
        image = draw_sprites(image, k0.image, k1.image, k0.coords, k1.coords, t / (length - 1), found)
    diag.update(a0=a0, a1=a1, w0=k0.image, w1=k1.image, c0=k0.confidence, c1=k1.confidence,
                fb0=k0.fb_error, fb1=k1.fb_error, map0=k0.coords, map1=k1.coords)
    if plain:
        diag.update(plain0=k0.plain, plain1=k1.plain)
    return image.astype(np.float32), diag


def effective_confidences(a0: np.ndarray, a1: np.ndarray, tau: float) -> Tuple[np.ndarray, np.ndarray]:
    """Confidences ``(c0', c1')`` in [0, 1] for which the plain blend reproduces the fusion.

    Solves ``(1-τ)(c0' + ε) : τ(c1' + ε) = a0 : a1`` with the larger side at 1:
    ``c_k' = (u_k / max(u0, u1))(1 + ε) − ε`` (clipped at 0), ``u0 = a0/(1-τ)``, ``u1 = a1/τ``.
    Written into the diffusion decoder's ``c0``/``c1`` condition channels, they make
    ``warp_blend_from_conditions`` (the plain blend) return this prediction without changing the
    channel layout. ``a0``, ``a1``: ``(H, W)`` weights summing to 1; ``0 < τ < 1``.
    """
    if not 0.0 < tau < 1.0:
        raise ValueError(f"tau must be strictly between 0 and 1, got {tau}")
    u0 = np.asarray(a0, np.float64) / (1.0 - tau)
    u1 = np.asarray(a1, np.float64) / tau
    m = np.maximum(np.maximum(u0, u1), 1e-12)
    c0 = np.clip(u0 / m * (1.0 + BLEND_FLOOR) - BLEND_FLOOR, 0.0, 1.0)
    c1 = np.clip(u1 / m * (1.0 + BLEND_FLOOR) - BLEND_FLOOR, 0.0, 1.0)
    return c0.astype(np.float32), c1.astype(np.float32)
