"""The generative decoder: a trajectory-conditioned ControlNet-style diffusion model.

Every in-between frame ``t`` of a segment is sampled from the ``ControlledDenoiser`` under
``actdiff.conditioning.build_conditions(seg, t)`` — the same function training uses. The
keyframes are returned exactly at both ends. Sampling is deterministic: the initial noise
comes from the stream header's seed and the segment id (see :mod:`actdiff.models.sampling`).

Temporal consistency (both computed from the decoded trajectories only):

- ``noise_mode="warped"`` moves the segment's noise along the decoded motion, so generated
  texture travels with the content (``shared`` keeps it fixed on the screen, ``per_frame``
  draws new noise every frame).
- ``temporal_blend=a`` (in ``[0, 1)``, ``0`` = off) filters what the model adds to the warp
  prediction along the decoded motion (:mod:`actdiff.decoders.residual_filter`).
- ``residual_from="ends"`` runs the model at the first and last inner frames only and carries
  their residuals to the frames between along the decoded motion (same module; two model runs per
  segment instead of ``L - 2``); ``residual_scale`` sets how much of the residual is added.
- ``residual_from="keyframes"`` runs the model once per keyframe and carries that texture to every
  frame along the warp decoder's own maps, keyframes included (:mod:`actdiff.decoders.keyframe_texture`).

What the model's residual is added to (``base``): ``blend``, the time/confidence blend of the two
warped keyframes its conditions carry (what models with ``residual_base: blend`` are trained on, a
cross-fade where the warps disagree), or ``prediction``, the warp decoder's own frame
(:func:`actdiff.motion.prediction.predict_frame`: the ghost-free fusion along the tracks' motion
refined by the keyframes' flow), or ``detail``: the blend plus only the fine band of
``prediction − blend`` (above a Gaussian of ``detail_sigma`` px), so the coarse band keeps the
blend's hedge where the warps disagree and the fine band gets the fused frame's single, sharp
edges. ``detail_mix`` ``β`` in [0, 1] sets how much of that hedge: the image under the residual is
``prediction + β · G(blend − prediction)`` (``G`` the Gaussian), so ``β = 1`` is the blend's coarse
band, ``β = 0`` the prediction's, and values between shrink the fused frame's coarse band toward
the blend's. A stream whose encoder chose ``β`` per segment (``codec.send_detail_mix``,
:mod:`actdiff.codec.detail_mix`, format 3) sets it for each segment unless ``detail_mix`` is given
explicitly. ``detail_mix_of="output"`` mixes the coarse band of the model's own output instead
(``prediction + β · G(output − prediction)`` plus the residual's fine band; measured on validation
files and not the default, docs/video_interface.md). ``residual_band="fine"`` keeps only the fine
band of the model's residual (``r − G(r)``), so the coarse band of the output is mostly the base's
(``G(r) − G²(r)`` leaks; ``coarse_lock`` removes the 8×8 block means of all it adds at the end,
:mod:`actdiff.decoders.coarse_lock`): with the encoder's ``β``, which can be 0 (the warp decoder's frame),
the output's coarse band then stays the base's, at least the warp decoder's. Default base: the weights'
``default_sampler.base``, else the one the model was trained on (``residual_base``); another base
moves the model's residual onto it without retraining. The shipped weights default to ``detail``
(2026-12-01), ``detail_mix`` 0.5 (12-02), ``residual_band="fine"`` (12-03) and ``coarse_lock``
(12-05), all chosen on validation files (docs/video_interface.md).
Models trained with ``residual_base: pred`` read the warp decoder's frame in their conditions
(``pred`` channels) and add their residual to it (their default base is ``prediction``).

Weights folders holding a segment-level video generator (:mod:`actdiff.models.generator`) are
decoded by :class:`actdiff.decoders.video.VideoDiffusionDecoder` instead: the registered
``diffusion`` decoder (:func:`diffusion_decoder`) chooses by the weights' ``config.json``.
"""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actdiff.conditioning import conditions
from actdiff.decoders.base import (
    Decoder,
    check_batch_size,
    check_step_count,
    keyframes_in_place,
    pick_device,
    refuse_fusion_options,
)
from actdiff.decoders.coarse_lock import lock_coarse
from actdiff.decoders.keyframe_texture import ONE_WAY, TextureCache, decode_with_keyframe_texture
from actdiff.decoders.rebase import add_residual, blur, image_under, resolve_options, segment_mix
from actdiff.decoders.residual_filter import filter_residuals, residual_anchors, residual_mode, transport_residuals
from actdiff.errors import ConfigError
from actdiff.models import make_sampler
from actdiff.models.denoiser import ControlledDenoiser
from actdiff.models.loading import DEFAULT_WEIGHTS, check_weights_folder, load_denoiser
from actdiff.models.sampling import check_sampler, check_steps, check_strength, sample, segment_noise, warp_noise
from actdiff.motion.fusion import FusionParams
from actdiff.motion.interpolate import dense_flow_from_tracks
from actdiff.motion.prediction import DETAIL_SIGMA, predict_frame
from actdiff.registry import DECODERS
from actdiff.types import DecodedSegment, StreamHeader

#: What ``detail_mix`` mixes with the prediction's coarse band (module docstring).
MIX_OF = ("blend", "output")


def _pad(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


class DiffusionDecoder(Decoder):
    """Diffusion decoder.

    Args:
        weights: folder written by ``save_pretrained``/``actdiff export`` (default: shipped tiny).
        model: an already built model (tests, training validation); overrides ``weights``.
        sampler: ``ddim`` | ``dpmsolver++`` | ``unipc`` (default: the weights' ``default_sampler``,
            else ``dpmsolver++``).
        steps: sampling steps, at most the noise schedule's training timesteps (default: the weights'
            ``default_sampler``, else 8).
        strength: fraction of the schedule run from the noised warp prediction (default: the
            weights' ``default_sampler``, else 1.0 = from pure noise); see ``models.sample``.
        noise_mode: ``shared`` | ``per_frame`` | ``warped`` (default: the weights', else ``shared``).
        temporal_blend: weight in ``[0, 1)`` of the motion-filtered previous residual (default:
            the weights' ``default_sampler``, else 0 = off); see the module docstring.
        batch_size: frames denoised together, a whole number in [1, 65536].
        bidirectional: use K1 conditions (default: ``header.params['bidirectional']``, else True).
        base: ``blend`` | ``prediction`` | ``detail``: what the residual is added to (module
            docstring; default: the weights' ``default_sampler``, else the model's ``residual_base``).
        detail_sigma: Gaussian sigma (px) splitting coarse from fine band for ``base=detail``.
        detail_mix: share ``β`` in [0, 1] of the blend in the coarse band for ``base=detail``
            (module docstring). Given, it holds for every segment; ``None``: the stream's
            per-segment ``β`` where the encoder sent one, else the weights' ``default_sampler``'s,
            else 1.
        detail_mix_of: ``blend`` | ``output``: what ``detail_mix`` mixes with the prediction's
            coarse band, the blend's under the model's whole residual, or the model's own output's
            (module docstring; default: the weights' ``default_sampler``, else ``blend``).
        residual_band: ``all`` | ``fine``: the whole residual, or only its fine band above the
            Gaussian of ``detail_sigma`` (module docstring; default: the weights' ``default_sampler``,
            else ``all``).
        residual_from: ``frames`` (the model at every inner frame) | ``ends`` (only at the first and
            last, their residuals carried along the decoded motion; ``temporal_blend`` unused),
            see :mod:`actdiff.decoders.residual_filter` | ``keyframes`` (only at the keyframes, their
            textures carried by the warp decoder's own maps and weights, keyframes included;
            ``temporal_blend`` unused), see :mod:`actdiff.decoders.keyframe_texture` (default: the
            weights' ``default_sampler``, else ``frames``).
        residual_scale: share in [0, 1] of the model's residual (after ``residual_band``) that is
            added (0: the base alone; default: the weights' ``default_sampler``, else 1).
        coarse_lock: at the end, remove the 8×8 block means of what the model added, so that the
            frames' coarse scale is the base's (:mod:`actdiff.decoders.coarse_lock`; default: the
            weights' ``default_sampler``, else off).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, one this machine has (default: a given model's,
            else ``cuda`` when available, else ``cpu``); checked before the weights load.
    """

    name = "diffusion"

    def __init__(
        self,
        weights: str | None = None,
        model: ControlledDenoiser | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        strength: float | None = None,
        noise_mode: str | None = None,
        temporal_blend: float | None = None,
        batch_size: int = 4,
        bidirectional: bool | None = None,
        base: str | None = None,
        detail_sigma: float = DETAIL_SIGMA,
        detail_mix: float | None = None,
        detail_mix_of: str | None = None,
        residual_band: str | None = None,
        residual_from: str | None = None,
        residual_scale: float | None = None,
        coarse_lock: bool | None = None,
        device: str | None = None,
        prediction: str | None = None,
        prediction_params: dict | None = None,
        **unknown: object,
    ) -> None:
        refuse_fusion_options("diffusion", prediction, prediction_params)
        if names := ', '.join(sorted(unknown)):  # refused, not ignored: a typo, or a video decoder option
            raise ConfigError(f"unknown option(s) of the frame-by-frame diffusion decoder: {names}")
        device = pick_device(device, model)  # checked before the weights load; default: the model's, else GPU if any
        self.model = model.eval() if model is not None else load_denoiser(weights, device)
        self.weights = "given model" if model is not None else str(Path(weights).expanduser() if weights
                                                                    else DEFAULT_WEIGHTS)
        defaults = dict(self.model.config.get("default_sampler") or {})
        self.sampler = check_sampler(sampler or defaults.get("name", "dpmsolver++"))
        self.steps = check_steps(steps if steps is not None else defaults.get("steps", 8))
        check_step_count(self.steps, _train_timesteps(self.model, self.sampler, self.weights), self.weights)
        self.strength = check_strength(strength if strength is not None else defaults.get("strength", 1.0))
        self.noise_mode = noise_mode or defaults.get("noise_mode", "shared")
        if self.noise_mode not in ("shared", "per_frame", "warped"):
            raise ConfigError(f"unknown noise mode {self.noise_mode!r} (shared | per_frame | warped)")
        blend = temporal_blend if temporal_blend is not None else defaults.get("temporal_blend", 0.0)
        self.temporal_blend = float(blend)
        if not 0.0 <= self.temporal_blend < 1.0:
            raise ConfigError(f"temporal_blend must be in [0, 1), got {self.temporal_blend}")
        self.native_base = "prediction" if self.model.reads_prediction else "blend"
        options = resolve_options(defaults, base, detail_mix, residual_band, residual_scale, own_base=self.native_base)
        self.base, self.detail_mix, self.stream_mix, self.residual_band, self.residual_scale = astuple(options)
        self.detail_sigma = float(detail_sigma)
        self.detail_mix_of = detail_mix_of or defaults.get("detail_mix_of", "blend")
        if self.detail_mix_of not in MIX_OF:
            raise ConfigError(f"unknown detail_mix_of {self.detail_mix_of!r} ({' | '.join(MIX_OF)})")
        mode = residual_from or defaults.get("residual_from", "frames")
        self.residual_from = residual_mode(mode, temporal_blend, noise_mode)
        self.coarse_lock = bool(coarse_lock if coarse_lock is not None else defaults.get("coarse_lock", False))
        self.batch_size = check_batch_size(batch_size)
        self.keyframe_textures = TextureCache()  # residual_from="keyframes": the last keyframes' textures
        self.bidirectional = bidirectional
        if self.residual_from == "keyframes" and bidirectional is False:  # refused before any model runs
            raise ConfigError(ONE_WAY)
        self.device = device

    def settings(self) -> dict:
        """The effective sampling settings (recorded in results JSONs; ``detail_sigma`` and
        ``detail_mix`` with the ``detail`` base only, ``detail_mix_of`` when it is ``output``,
        ``temporal_blend`` only with ``residual_from`` ``frames``, the one mode that filters)."""
        extra = {"detail_sigma": self.detail_sigma, "detail_mix": self.detail_mix} if self.base == "detail" else {}
        if self.residual_band != "all":  # recorded when not the default
            extra["residual_band"] = self.residual_band
        if self.residual_from != "frames":  # recorded when not the default
            extra["residual_from"] = self.residual_from
        if self.residual_scale != 1.0:
            extra["residual_scale"] = self.residual_scale
        if self.coarse_lock:
            extra["coarse_lock"] = True
        if self.base == "detail" and self.stream_mix:
            extra["detail_mix_per_segment"] = "from the stream where sent"
        if self.base == "detail" and self.detail_mix_of != "blend":  # recorded when not the default
            extra["detail_mix_of"] = self.detail_mix_of
        model = f"ControlledDenoiser (frame by frame, residual over its {self.native_base}) from {self.weights}"
        return {**extra, "name": self.name, "model": model, "edge_sigma_r": FusionParams().edge_sigma_r,
                "sampler": self.sampler, "steps": self.steps, "strength": self.strength,
                "noise_mode": self.noise_mode, "base": self.base, "bidirectional": self.bidirectional,
                **({} if self.residual_from != "frames" else {"temporal_blend": self.temporal_blend})}

    def bidirectional_for(self, header: StreamHeader) -> bool:
        """Whether segments of this stream are decoded from both keyframes (the option, else the header's)."""
        if self.bidirectional is not None:
            return bool(self.bidirectional)
        return bool(header.params.get("bidirectional", True))

    def _noise(self, header: StreamHeader, seg: DecodedSegment, inner: list[int], hp: int, wp: int,
               noise_id: int | None = None) -> torch.Tensor:
        """Initial latent noise ``(len(inner), c, hp/f, wp/f)`` for the inner frames (segment id
        ``noise_id``, default the segment's first frame)."""
        f = int(self.model.config.latent_factor)
        c = int(self.model.unet.config.in_channels)
        start = seg.segment.start if noise_id is None else int(noise_id)
        if self.noise_mode != "warped":
            return segment_noise((c, hp // f, wp // f), inner, header.seed, start, self.noise_mode)
        pixel = self.model.vae is None  # space-to-depth: warp white noise at pixel level, then pack
        shape = (c // (f * f), hp, wp) if pixel else (c, hp // f, wp // f)
        base = segment_noise(shape, [0], header.seed, start, "shared")[0]
        fresh = segment_noise(shape, inner, header.seed, start, "per_frame")
        coords = torch.from_numpy(np.stack([self._noise_coords(seg, t, hp, wp, 1 if pixel else f) for t in inner]))
        noise = warp_noise(base, coords, fresh)
        return F.pixel_unshuffle(noise, f) if pixel else noise

    @staticmethod
    def _noise_coords(seg: DecodedSegment, t: int, hp: int, wp: int, f: int) -> np.ndarray:
        """Backward map of frame ``t`` into frame 0 on the ``f``-times coarser padded grid ``(hp/f, wp/f, 2)``."""
        h, w = seg.key_start.shape[:2]
        gy, gx = np.mgrid[0:hp, 0:wp].astype(np.float32)
        full = np.stack([gx, gy], -1)  # identity in the padding
        full[:h, :w] = dense_flow_from_tracks(seg.tracks, t, 0, h, w, float(seg.bandwidth))[0]
        if f == 1:
            return full
        centre = (f - 1) / 2.0
        return (full[f // 2::f, f // 2::f] - centre) / f

    @torch.no_grad()
    def decode_segment(self, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
        """Frames ``uint8 (L, H, W, 3)``; frame 0 = K0 and frame L-1 = K1 exactly (but with
        ``residual_from="keyframes"``, which adds its texture to them too)."""
        if self.residual_from == "keyframes":
            return decode_with_keyframe_texture(self, header, seg)
        length = seg.segment.length
        out = keyframes_in_place(seg)
        if length <= 2:
            return out
        inner = list(range(1, length - 1))
        sampled = inner if self.residual_from == "frames" else residual_anchors(length)
        ends = self.residual_from == "ends"  # the residual filter is not used then
        keep_base = self.temporal_blend > 0.0 or ends or self.coarse_lock
        base = self.generate(header, seg, sampled, out, keep_base)
        if ends:
            self._fill_bases(seg, [t for t in inner if t not in sampled], self.bidirectional_for(header), base)
            transport_residuals(seg, out, base)
        elif base is not None:
            filter_residuals(seg, out, base, self.temporal_blend)
        if self.coarse_lock:
            lock_coarse(out, base, inner)
        return out

    def generate(self, header: StreamHeader, seg: DecodedSegment, frames: list[int], out: np.ndarray,
                 keep_base: bool = False, noise_id: int | None = None, report: bool = True) -> np.ndarray | None:
        """Sample the model at the segment-relative ``frames`` into ``out`` ``uint8 (L, H, W, 3)``, in
        place; returns the images under the residuals (``uint8 (L, H, W, 3)``, written at ``frames``)
        when ``keep_base``, else ``None``. ``noise_id``: the segment id of the initial noise (default:
        the segment's first frame, :func:`actdiff.models.sampling.segment_noise`); ``report``: tell
        :attr:`progress_hook` of the frames done."""
        h, w = seg.key_start.shape[:2]
        bidir = self.bidirectional_for(header)
        mult = self.model.size_multiple
        hp, wp = h + (-h) % mult, w + (-w) % mult
        noise = self._noise(header, seg, frames, hp, wp, noise_id)
        dtype = next(self.model.parameters()).dtype
        base = np.empty_like(out) if keep_base else None
        for i in range(0, len(frames), self.batch_size):
            batch = frames[i:i + self.batch_size]
            cond = np.stack([conditions.build_conditions(seg, t, bidir, self.model.reads_prediction) for t in batch])
            c = _pad(torch.from_numpy(cond).to(self.device, dtype), mult)
            x = sample(self.model, c, noise[i:i + len(batch)].to(self.device, dtype), self.steps, self.sampler,
                       self.strength)[..., :h, :w].float()
            if base is not None or self.base != self.native_base or self.residual_band != "all":  # needs the base
                x, under = self._rebase(seg, batch, bidir, x, c[..., :h, :w].float(), self.segment_mix(seg))
            out[batch] = _to_uint8(x.permute(0, 2, 3, 1).cpu().numpy())
            if base is not None:
                base[batch] = _to_uint8(under.permute(0, 2, 3, 1).cpu().numpy())
            if report:
                self.report_frames(len(batch))
        return base

    def _fill_bases(self, seg: DecodedSegment, frames: list[int], bidir: bool, base: np.ndarray) -> None:
        """Write the image under the residual (:meth:`_under`) of ``frames`` into ``base``, in place."""
        for i in range(0, len(frames), self.batch_size):
            batch = frames[i:i + self.batch_size]
            cond = np.stack([conditions.build_conditions(seg, t, bidir, self.model.reads_prediction) for t in batch])
            under = self._under(seg, batch, bidir, torch.from_numpy(cond).float(), self.segment_mix(seg))[2]
            for t, img in zip(batch, _to_uint8(under.permute(0, 2, 3, 1).cpu().numpy())):
                base[t] = img
            self.report_frames(len(batch))

    def segment_mix(self, seg: DecodedSegment) -> float:
        """The ``detail_mix`` ``β`` of ``seg``: the stream's where sent and none was given, else :attr:`detail_mix`."""
        return segment_mix(seg.detail_mix, self.detail_mix, self.stream_mix)

    def _under(self, seg: DecodedSegment, frames: list[int], bidir: bool, cond: torch.Tensor,
               mix: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(native, pred, target)``: the image the model's residual is over (its ``residual_base``,
        :attr:`native_base`), the warp decoder's frame and the image the residual goes on
        (:attr:`base`); ``(B, 3, H, W)`` in [-1, 1] (``cond``: the frames' conditions, ``mix``: the
        segment's ``detail_mix``)."""
        blend = conditions.warp_blend_from_conditions(cond)
        if self.model.reads_prediction:
            pred = conditions.prediction_from_conditions(cond)
        elif self.base == "blend":
            pred = blend  # not needed (returned as ``pred``)
        else:
            pred = torch.from_numpy(np.stack([conditions.to_signed(predict_frame(seg, t, bidir))
                                              for t in frames])).to(cond.device)
        native = pred if self.native_base == "prediction" else blend
        return native, pred, image_under(self.base, pred, blend, mix, self.detail_sigma)

    def _rebase(self, seg: DecodedSegment, frames: list[int], bidir: bool, x: torch.Tensor,
                cond: torch.Tensor, mix: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, image under it)`` with the model's output ``x`` moved from :attr:`native_base`
        onto :attr:`base` (:meth:`_under`); all ``(B, 3, H, W)`` in [-1, 1]."""
        native, pred, target = self._under(seg, frames, bidir, cond, mix)
        if self.base == "detail" and self.detail_mix_of == "output":  # β of the output's coarse band
            r = x - native
            fine = self.residual_scale * (r - blur(r, self.detail_sigma))
            out = pred + mix * blur(x - pred, self.detail_sigma) + fine
            return out.clamp(-1, 1), target
        return add_residual(target, x - native, self.residual_band, self.residual_scale, self.detail_sigma), target


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] → ``uint8`` [0, 255] (rounded, clamped)."""
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _train_timesteps(model: ControlledDenoiser, sampler: str, weights: str) -> int:
    """The training timesteps of ``model``'s noise schedule, its ``sampler`` built once now: a schedule
    the sampler cannot be built from (a bad ``noise_schedule`` in ``weights``) is a one-line ``ConfigError``."""
    try:
        return int(make_sampler(model, sampler).config.num_train_timesteps)
    except (ValueError, TypeError, KeyError, IndexError, NotImplementedError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"the noise schedule of {weights} cannot drive the {sampler} sampler: {first}") from None


@DECODERS.register("diffusion")
def diffusion_decoder(weights: str | None = None, model: object | None = None, **options: object) -> Decoder:
    """The ``diffusion`` decoder for ``model`` or the weights folder ``weights`` (default: the shipped
    :data:`DEFAULT_WEIGHTS`): a :class:`~actdiff.decoders.video.VideoDiffusionDecoder` when it is a
    segment-level video generator (``config.json``'s ``_class_name`` is one of
    :data:`actdiff.models.generator.GENERATOR_CLASSES`), else the frame-by-frame
    :class:`DiffusionDecoder`. ``options`` go to the chosen decoder. The weights' ``config.json`` is
    checked first (:func:`actdiff.models.loading.read_weights_config`): it must name one of these models."""
    from actdiff.models.generator import GENERATOR_CLASSES, is_generator

    if model is None:  # before is_generator reads it
        check_weights_folder(weights or DEFAULT_WEIGHTS, {ControlledDenoiser.__name__, *GENERATOR_CLASSES})
    if is_generator(model if model is not None else (weights or DEFAULT_WEIGHTS)):
        from actdiff.decoders.video import VideoDiffusionDecoder

        return VideoDiffusionDecoder(weights=weights or str(DEFAULT_WEIGHTS) if model is None else None,
                                     model=model, **options)
    return DiffusionDecoder(weights=weights, model=model, **options)
