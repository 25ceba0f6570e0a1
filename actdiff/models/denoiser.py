"""``ControlledDenoiser``: a UNet plus a ControlNet branch driven by the ActDiff conditions.

Wiring (the simplest correct one): the conditions stay at IMAGE resolution ``(B, C, H, W)``
and go straight into ControlNet's conditioning embedding, whose strided convs
(``conditioning_embedding_out_channels``, ``len = log2(latent_factor) + 1``) bring them down
to the latent grid ``(H/f, W/f)``. The latent is ``pixel_unshuffle(x, 4)`` (``tiny``/``small``,
``f = 4``: ``256×384×3 → 48×64×96``) or a frozen ``AutoencoderKL`` (``sd``, ``f = 8``).
ControlNet's zero-initialised residuals are added to the base UNet's skip connections and
mid block, so at initialisation the control branch changes nothing.

There is no text: the cross-attention (coarse levels only) attends to a learned null
context ``(1, null_tokens, cross_attention_dim)``, optionally followed by tokens from a
``transformers`` vision encoder (CLIP vision) run on the two keyframes in the conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from actdiff.conditioning.conditions import (
    NUM_CHANNELS,
    channel_slice,
    num_channels,
    prediction_from_conditions,
    warp_blend_from_conditions,
)
from actdiff.models.latent import depth_to_space, space_to_depth

#: What the residual of a ``residual_over_warp`` model is added to (``residual_base``).
RESIDUAL_BASES = ("blend", "pred")


class ControlledDenoiser(ModelMixin, ConfigMixin):
    """Predicts eps or v for a noisy latent given the condition tensor.

    Args:
        unet_config: kwargs of ``diffusers.UNet2DConditionModel`` (the base).
        conditioning_channels: ``C`` of the conditions (``actdiff.conditioning.NUM_CHANNELS``).
        conditioning_embedding_out_channels: ControlNet conditioning-embedding widths; its
            ``len - 1`` stride-2 convs must equal the latent downsampling ``log2(factor)``.
        latent: ``"space_to_depth"`` or ``"vae"``.
        latent_factor: pixels per latent cell along each side (4 for space-to-depth, 8 for SD).
        vae_config: kwargs of ``AutoencoderKL`` when ``latent == "vae"``.
        vae_scaling_factor: latent scale of the VAE.
        null_tokens: number of learned null-context tokens.
        vision_config: kwargs of ``transformers.CLIPVisionConfig`` to add keyframe context
            tokens (``None``: null context only).
        prediction_type: ``"epsilon"`` or ``"v_prediction"``.
        residual_over_warp: the latent the diffusion runs on is ``z(x) - z(base)``, i.e.
            ``x0 = base + residual`` in latent space (``base`` set by ``residual_base``).
        residual_base: ``blend`` — the time/confidence blend of the two warped keyframes of the
            conditions (a cross-fade where they disagree); ``pred`` — the warp decoder's own
            frame, which the conditions then carry (``pred`` channels,
            ``conditioning_channels = 23``, :func:`actdiff.conditioning.num_channels`; needs
            ``residual_over_warp``).
        residual_scale: the diffusion runs on ``residual_scale × residual``, so that the data it
            models has about unit variance (the residual over the warp is small, std ≈ 0.1 in
            [-1, 1] units; unscaled, the noise schedule spends most steps where the noise
            drowns it). Like the VAE scaling factor of latent diffusion.
        freeze_base: freeze the base UNet (``sd``: only the control branch trains).
        noise_schedule: kwargs of the diffusers schedulers (``num_train_timesteps``,
            ``beta_schedule``, ``beta_start``, ``beta_end``) shared by training and sampling.
        default_sampler: decoding defaults stored with the weights (``name``, ``steps``,
            ``noise_mode``, ``strength``, ``temporal_blend``); the diffusion decoder's arguments override them.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        unet_config: dict[str, Any],
        conditioning_channels: int = NUM_CHANNELS,
        conditioning_embedding_out_channels: Sequence[int] = (16, 32, 64),
        latent: str = "space_to_depth",
        latent_factor: int = 4,
        vae_config: dict[str, Any] | None = None,
        vae_scaling_factor: float = 0.18215,
        null_tokens: int = 4,
        vision_config: dict[str, Any] | None = None,
        prediction_type: str = "epsilon",
        residual_over_warp: bool = False,
        residual_base: str = "blend",
        residual_scale: float = 1.0,
        freeze_base: bool = False,
        noise_schedule: dict[str, Any] | None = None,
        default_sampler: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if latent not in ("space_to_depth", "vae"):
            raise ValueError(f"unknown latent {latent!r}")
        if 2 ** (len(conditioning_embedding_out_channels) - 1) != latent_factor:
            raise ValueError("conditioning_embedding_out_channels must downsample by latent_factor")
        if prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"unknown prediction_type {prediction_type!r}")
        self._check_conditions(conditioning_channels, residual_base, residual_over_warp)
        self.unet = UNet2DConditionModel(**dict(unet_config))
        self.controlnet = ControlNetModel.from_unet(
            self.unet,
            conditioning_channels=conditioning_channels,
            conditioning_embedding_out_channels=tuple(conditioning_embedding_out_channels),
        )
        self.vae = AutoencoderKL(**dict(vae_config)) if latent == "vae" else None
        if self.vae is not None:
            self.vae.requires_grad_(False)
        dim = self.unet.config.cross_attention_dim
        self.null_context = nn.Parameter(torch.randn(1, null_tokens, dim) * 0.02)
        self.vision = self.vision_proj = None
        if vision_config:
            from transformers import CLIPVisionConfig, CLIPVisionModel

            self.vision = CLIPVisionModel(CLIPVisionConfig(**dict(vision_config)))
            self.vision_proj = nn.Linear(self.vision.config.hidden_size, dim)
        if freeze_base:
            self.unet.requires_grad_(False)

    @staticmethod
    def _check_conditions(channels: int, residual_base: str, residual_over_warp: bool) -> None:
        """``ValueError`` unless the per-frame layout fits ``residual_base`` (subclasses with
        another layout override this)."""
        if residual_base not in RESIDUAL_BASES:
            raise ValueError(f"unknown residual_base {residual_base!r} ({' | '.join(RESIDUAL_BASES)})")
        if residual_base == "pred" and not residual_over_warp:
            raise ValueError("residual_base 'pred' needs residual_over_warp: true")
        if channels != num_channels(residual_base == "pred"):
            raise ValueError(f"residual_base {residual_base!r} reads {num_channels(residual_base == 'pred')} "
                             f"condition channels, got conditioning_channels={channels}")

    # ----------------------------------------------------------------- latent space
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image ``(B, 3, H, W)`` in [-1, 1] → latent ``(B, c, H/f, W/f)`` (deterministic)."""
        f = self.config.latent_factor
        if self.vae is None:
            return space_to_depth(x, f)
        return self.vae.encode(x).latent_dist.mode() * self.config.vae_scaling_factor

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent → image ``(B, 3, H, W)`` (about [-1, 1]; not clamped)."""
        if self.vae is None:
            return depth_to_space(z, self.config.latent_factor)
        return self.vae.decode(z / self.config.vae_scaling_factor).sample

    @property
    def reads_prediction(self) -> bool:
        """Whether its per-frame conditions must carry the ``pred`` group
        (``build_conditions(prediction=True)``)."""
        return self.config.get("residual_base", "blend") == "pred"

    def base_image(self, cond: torch.Tensor) -> torch.Tensor:
        """The image ``(B, 3, H, W)`` in [-1, 1] the residual is added to (``residual_base``)."""
        if self.reads_prediction:
            return prediction_from_conditions(cond)
        return warp_blend_from_conditions(cond)

    def base_latent(self, cond: torch.Tensor) -> torch.Tensor | None:
        """Latent the residual is added to (``residual_over_warp``), else ``None``."""
        if not self.config.residual_over_warp:
            return None
        return self.encode(self.base_image(cond))

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this (latent factor × UNet downsampling)."""
        levels = len(self.unet.config.block_out_channels) - 1
        return int(self.config.latent_factor * 2 ** levels)

    def to_diffusion_space(self, target: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Clean image ``(B, 3, H, W)`` in [-1, 1] → the latent ``z0`` the diffusion models."""
        z = self.encode(target)
        base = self.base_latent(cond)
        return z if base is None else (z - base) * float(self.config.residual_scale)

    def from_diffusion_space(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_diffusion_space`: sampled latent → image (not clamped)."""
        base = self.base_latent(cond)
        if base is not None:
            z = base + z / float(self.config.residual_scale)
        return self.decode(z)

    # ------------------------------------------------------------------- context
    def context(self, cond: torch.Tensor) -> torch.Tensor:
        """Cross-attention context ``(B, tokens, cross_attention_dim)``."""
        b = cond.shape[0]
        ctx = self.null_context.to(cond.dtype).expand(b, -1, -1)
        if self.vision is None:
            return ctx
        size = self.vision.config.image_size
        tokens: list[torch.Tensor] = []
        for name in ("k0", "k1"):
            img = F.interpolate(cond[:, channel_slice(name)], size=(size, size), mode="bilinear",
                                align_corners=False)
            tokens.append(self.vision_proj(self.vision(pixel_values=img).last_hidden_state))
        return torch.cat([ctx] + tokens, dim=1)

    # ------------------------------------------------------------------- forward
    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Prediction (eps or v) ``(B, c, h, w)`` for the noisy latent ``sample`` at ``timestep``.

        Args:
            sample: ``(B, c, h, w)`` noisy latent.
            timestep: ``(B,)`` or scalar integer timesteps.
            cond: ``(B, C, h f, w f)`` conditions at image resolution (``C = conditioning_channels``).
        """
        ctx = self.context(cond)
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states=ctx, controlnet_cond=cond,
                                    return_dict=False)
        return self.unet(sample, timestep, encoder_hidden_states=ctx,
                         down_block_additional_residuals=down, mid_block_additional_residual=mid,
                         return_dict=False)[0]

    def copy_base_into_control(self) -> None:
        """Re-initialise the control branch's encoder from the base UNet (after loading a base)."""
        c, u = self.controlnet, self.unet
        c.conv_in.load_state_dict(u.conv_in.state_dict())
        c.time_proj.load_state_dict(u.time_proj.state_dict())
        c.time_embedding.load_state_dict(u.time_embedding.state_dict())
        c.down_blocks.load_state_dict(u.down_blocks.state_dict())
        c.mid_block.load_state_dict(u.mid_block.state_dict())

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def num_parameters_total(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def set_gradient_checkpointing(self, on: bool) -> None:
        for m in (self.unet, self.controlnet):
            if on:
                m.enable_gradient_checkpointing()
            else:
                m.disable_gradient_checkpointing()


#: The one weight that reads the conditions (ControlNet's conditioning embedding, first conv).
COND_INPUT_WEIGHT = "controlnet.controlnet_cond_embedding.conv_in.weight"


def widen_condition_input(state: dict[str, torch.Tensor], channels: int,
                          pred_at: slice | None = None) -> dict[str, torch.Tensor]:
    """``state`` (a :class:`ControlledDenoiser` state dict) whose condition input reads ``channels``
    channels: the per-frame layout's 20 keep their weights, a ``pred`` model's ``pred`` weights go to
    ``pred_at`` (default: channels 20–22), every other input channel gets zero weights, so the
    widened model computes exactly what the given one did with the conditions it knew (as
    ControlNet's ``zero_module``). Used to start a ``residual_base: pred`` model (23 channels) from
    20-channel weights and to inflate a frame model to the video layout."""
    w = state[COND_INPUT_WEIGHT]
    if w.shape[1] > channels:
        raise ValueError(f"cannot narrow the condition input from {w.shape[1]} to {channels} channels")
    grown = w.new_zeros(w.shape[0], channels, *w.shape[2:])
    grown[:, :NUM_CHANNELS] = w[:, :NUM_CHANNELS]
    if w.shape[1] > NUM_CHANNELS:
        grown[:, pred_at or channel_slice("pred")] = w[:, NUM_CHANNELS:]
    return {**state, COND_INPUT_WEIGHT: grown}


def latent_channels(model: ControlledDenoiser) -> int:
    return int(model.unet.config.in_channels)


