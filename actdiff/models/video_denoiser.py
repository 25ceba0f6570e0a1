"""``VideoControlledDenoiser``: the 2D ControlNet denoiser inflated to denoise a window of frames jointly.

It is a :class:`~actdiff.models.denoiser.ControlledDenoiser` (UNet + ControlNet on a
space-to-depth or VAE latent, residual over the prediction) whose UNet gets temporal layers
(:mod:`actdiff.models.temporal`, zero-initialised, hooked in after the spatial layers) and whose
ControlNet reads the segment conditions :data:`actdiff.conditioning.VIDEO_CHANNELS` (30 channels:
the 20 per-frame ones, the keyframes at their positions, the tracking video, the prediction).
The frames of a window are a batch ``(B·T, …)``; the temporal layers are told ``T``.

:meth:`from_frame_model` copies a trained 2D model in: its weights load unchanged, the ControlNet's
first convolution gets zero weights for the 10 new condition channels, so the inflated model
starts as EXACTLY the 2D model (``tests/test_video_denoiser.py``). With ``residual_base="pred"``
the residual is taken over the ``pred`` channels (the warp decoder's prediction,
:func:`actdiff.motion.prediction.predict_frame`) instead of the blend of the two warps.

It implements :class:`~actdiff.models.generator.SegmentGenerator` (``generate``, ``window_spec``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from diffusers.configuration_utils import register_to_config

from actdiff.conditioning.conditions import warp_blend_from_conditions
from actdiff.conditioning.segment import NUM_VIDEO_CHANNELS, video_channel_slice
from actdiff.errors import ConfigError
from actdiff.models.denoiser import ControlledDenoiser, widen_condition_input
from actdiff.models.generator import SegmentGenerator, WindowSpec
from actdiff.models.sampling import check_sampler, check_steps, check_strength, sample
from actdiff.models.temporal import GROUPS, inflate, set_num_frames

#: Sampling options :meth:`VideoControlledDenoiser.generate` understands.
SAMPLING_KEYS = ("sampler", "name", "steps", "strength", "noise_mode")
#: The video generator's initial noise (:meth:`VideoControlledDenoiser.initial_noise`).
NOISE_MODES = ("shared", "per_frame")


#: Options of the 2D decoder's sampler section that a video preset inherits and the video decoder
#: reads itself (what the residual is added to, :mod:`actdiff.decoders.rebase`): not sampling options.
REBASE_OPTIONS = ("base", "detail_mix", "residual_band", "residual_scale")
#: The 2D frame decoder's options the video decoder does not have (it keeps ``temporal_blend``,
#: ``coarse_lock`` and :data:`REBASE_OPTIONS`, which act on any generator's residual).
FRAME_DECODER_OPTIONS = ("detail_mix_of", "residual_from")


class VideoControlledDenoiser(ControlledDenoiser, SegmentGenerator):
    """Args: those of :class:`ControlledDenoiser` (``conditioning_channels`` defaults to the video
    layout's 30), plus

        temporal_kind: ``attention`` | ``animatediff`` (:mod:`actdiff.models.temporal`).
        temporal_head_dim: channels per temporal attention head.
        temporal_groups: UNet parts with temporal layers (``down``, ``mid``, ``up``).
        temporal_positional: sinusoidal frame positions in the temporal layers.
        max_frames: the longest window (``window_spec().max_frames``).
        residual_base: ``pred`` (the ``pred`` channels) or ``blend`` (blend of the two warps, as
            the 2D model).
        preset: the preset's name (``describe``).
    """

    @register_to_config
    def __init__(
        self,
        unet_config: dict[str, Any],
        conditioning_channels: int = NUM_VIDEO_CHANNELS,
        conditioning_embedding_out_channels: Sequence[int] = (16, 32, 64),
        latent: str = "space_to_depth",
        latent_factor: int = 4,
        vae_config: dict[str, Any] | None = None,
        vae_scaling_factor: float = 0.18215,
        null_tokens: int = 4,
        vision_config: dict[str, Any] | None = None,
        prediction_type: str = "epsilon",
        residual_over_warp: bool = False,
        residual_scale: float = 1.0,
        freeze_base: bool = False,
        noise_schedule: dict[str, Any] | None = None,
        default_sampler: dict[str, Any] | None = None,
        temporal_kind: str = "attention",
        temporal_head_dim: int = 32,
        temporal_groups: Sequence[str] = GROUPS,
        temporal_positional: bool = False,
        max_frames: int = 16,
        residual_base: str = "pred",
        preset: str | None = None,
    ) -> None:
        if conditioning_channels != NUM_VIDEO_CHANNELS:
            raise ConfigError(f"a video denoiser reads the {NUM_VIDEO_CHANNELS} segment condition channels")
        if residual_base not in ("pred", "blend"):
            raise ConfigError(f"unknown residual_base {residual_base!r} (pred | blend)")
        super().__init__(
            unet_config=unet_config, conditioning_channels=conditioning_channels,
            conditioning_embedding_out_channels=conditioning_embedding_out_channels, latent=latent,
            latent_factor=latent_factor, vae_config=vae_config, vae_scaling_factor=vae_scaling_factor,
            null_tokens=null_tokens, vision_config=vision_config, prediction_type=prediction_type,
            residual_over_warp=residual_over_warp, residual_scale=residual_scale, freeze_base=freeze_base,
            noise_schedule=noise_schedule, default_sampler=default_sampler,
            residual_base=residual_base)  # the parent registers its arguments into the config too
        self.temporal = inflate(self.unet, temporal_kind, int(temporal_head_dim), tuple(temporal_groups),
                                int(self.unet.config.norm_num_groups), bool(temporal_positional), int(max_frames))

    @staticmethod
    def _check_conditions(channels: int, residual_base: str, residual_over_warp: bool) -> None:
        """The segment layout is checked in ``__init__`` (its ``pred`` is always there)."""

    @property
    def reads_prediction(self) -> bool:
        """Never the per-frame ``pred`` group: the segment layout has its own."""
        return False

    # -------------------------------------------------------------- the 2D model
    @classmethod
    def from_frame_model(cls, frame: ControlledDenoiser, **video_kwargs: Any) -> "VideoControlledDenoiser":
        """Inflate a trained 2D ``frame`` model: same weights, zero temporal layers and zero weights
        for the extra condition channels, so the result computes what ``frame`` computes. The
        frame layout's 20 channels are the video layout's first 20; a ``residual_base: pred`` frame
        model's ``pred`` input weights go to the video layout's ``pred`` channels."""
        cfg = {k: v for k, v in dict(frame.config).items() if not k.startswith("_")}
        cfg["conditioning_channels"] = NUM_VIDEO_CHANNELS
        model = cls(**{**cfg, **video_kwargs})
        state = widen_condition_input(dict(frame.state_dict()), NUM_VIDEO_CHANNELS, video_channel_slice("pred"))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("temporal.") for k in missing):
            raise ConfigError(f"frame model does not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")
        return model

    # ------------------------------------------------------------ latent space
    def base_latent(self, cond: torch.Tensor) -> torch.Tensor | None:
        """Latent the residual is added to: the ``pred`` channels (or the warp blend)."""
        if not self.config.residual_over_warp:
            return None
        if self.config.residual_base == "blend":
            return super().base_latent(cond)
        return self.encode(cond[:, video_channel_slice("pred")])

    def prediction(self, cond: torch.Tensor) -> torch.Tensor:
        """The image the residual is added to: the ``pred`` channels (or the warp blend)."""
        if self.config.residual_base == "blend":
            return warp_blend_from_conditions(cond)
        return super().prediction(cond)

    # ----------------------------------------------------------------- forward
    def set_num_frames(self, num_frames: int) -> None:
        """Frames per window in the batches that follow (consecutive batch items)."""
        set_num_frames(self.temporal, num_frames)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor,
                num_frames: int | None = None) -> torch.Tensor:
        """As :meth:`ControlledDenoiser.forward` on ``(B·T, …)`` frames of ``B`` windows of ``T``
        (``num_frames``; default: the last :meth:`set_num_frames`); timesteps per frame."""
        if num_frames is not None:
            self.set_num_frames(num_frames)
        return super().forward(sample, timestep, cond)

    # -------------------------------------------------------- SegmentGenerator
    def window_spec(self) -> WindowSpec:
        return WindowSpec(max_frames=int(self.config.max_frames), size_multiple=self.size_multiple)

    def sampling_defaults(self) -> dict[str, Any]:
        d = dict(self.config.get("default_sampler") or {})
        for key in FRAME_DECODER_OPTIONS + REBASE_OPTIONS:  # inherited from the 2D weights' defaults
            d.pop(key, None)
        if "name" in d:
            d["sampler"] = d.pop("name")
        return d

    def sampling_options(self, sampling: dict[str, Any]) -> dict[str, Any]:
        """``sampler``, ``steps``, ``strength``, ``noise_mode`` over the weights' defaults, each checked
        (:meth:`SegmentGenerator.sampling_options`)."""
        unknown = set(sampling) - set(SAMPLING_KEYS)
        if unknown:
            raise ConfigError(f"unknown sampling option(s) {sorted(unknown)} (known: {', '.join(SAMPLING_KEYS)})")
        opts = {**self.sampling_defaults(), **{k: v for k, v in sampling.items() if v is not None}}
        sampler, name = opts.pop("sampler", None), opts.pop("name", None)
        strength = check_strength(opts.get("strength", 1.0))
        mode = str(opts.get("noise_mode", "shared"))
        if mode not in NOISE_MODES:
            raise ConfigError(f"unknown noise mode {mode!r} for a video generator ({' | '.join(NOISE_MODES)})")
        return {**opts, "sampler": check_sampler(sampler or name or "dpmsolver++"),
                "steps": check_steps(opts.get("steps", 8)), "strength": strength, "noise_mode": mode}

    def decoder_defaults(self) -> dict[str, Any]:
        d = dict(self.config.get("default_sampler") or {})
        return {k: d[k] for k in REBASE_OPTIONS if d.get(k) is not None}

    def describe(self) -> str:
        return (f"VideoControlledDenoiser {self.config.preset or ''} (window {self.config.max_frames} frames, "
                f"temporal {self.config.temporal_kind})").replace("  ", " ")

    def initial_noise(self, shape: tuple[int, int, int], seed: int, frame_ids: Sequence[int],
                      mode: str) -> torch.Tensor:
        """Latent noise ``(T, *shape)``: ``shared`` — one draw from ``seed`` for every frame (so
        overlapping windows and all frames of a segment share it); ``per_frame`` — one draw from
        ``seed_for(seed, frame)`` per frame."""
        from actdiff.models.sampling import seed_for

        if mode == "shared":
            one = torch.randn(shape, generator=torch.Generator().manual_seed(int(seed)))
            return one.unsqueeze(0).expand(len(frame_ids), *shape).clone()
        if mode == "per_frame":
            return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(seed_for(seed, t)))
                                for t in frame_ids])
        raise ConfigError(f"unknown noise mode {mode!r} for a video generator ({' | '.join(NOISE_MODES)})")

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, seed: int, frame_ids: Sequence[int], **sampling: Any) -> torch.Tensor:
        """Sample one window: ``cond (T, 30, H, W)`` → frames ``(T, 3, H, W)`` in [-1, 1] (see
        :meth:`SegmentGenerator.generate`). Options: ``sampler`` (``ddim`` | ``dpmsolver++`` |
        ``unipc``), ``steps``, ``strength`` (SDEdit from the noised prediction), ``noise_mode``."""
        opts = self.sampling_options(sampling)
        t, _, h, w = cond.shape
        if t != len(frame_ids):
            raise ValueError(f"{t} condition frames but {len(frame_ids)} frame ids")
        f = int(self.config.latent_factor)
        shape = (int(self.unet.config.in_channels), h // f, w // f)
        noise = self.initial_noise(shape, seed, frame_ids, opts["noise_mode"])
        self.set_num_frames(t)
        return sample(self, cond, noise.to(cond.device, cond.dtype), opts["steps"], opts["sampler"], opts["strength"])


def freeze_for_inflation(model: VideoControlledDenoiser, train: str) -> None:
    """Which parameters train: ``all``; ``temporal`` (temporal layers only, as AnimateDiff trains
    its motion modules); ``temporal+control`` (also the ControlNet, where the new channels enter)."""
    if train not in ("all", "temporal", "temporal+control"):
        raise ConfigError(f"unknown train_parts {train!r} (all | temporal | temporal+control)")
    if train == "all":
        return
    model.requires_grad_(False)
    model.temporal.requires_grad_(True)
    if train == "temporal+control":
        model.controlnet.requires_grad_(True)
    if model.vae is not None:
        model.vae.requires_grad_(False)
