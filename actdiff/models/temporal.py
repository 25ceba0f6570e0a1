"""Temporal layers that inflate a 2D UNet into a video UNet, starting as the identity.

A 2D UNet processes the ``T`` frames of a window as a batch ``(B·T, C, H, W)``. :func:`inflate`
attaches one temporal layer after each spatial layer of the UNet (each down/up block's attention
when it has one, else its ResNet; the whole mid block) with a forward hook, so the 2D modules and
their state-dict keys stay as they are (2D weights load unchanged) and the temporal layers live
in their own ``ModuleList``. A temporal layer mixes each pixel's features across the ``T`` frames
and adds the result; its output projection is zero-initialised, so at initialisation the
inflated UNet computes exactly what the 2D UNet computes.

Kinds:

* ``attention`` (light, the CPU default): GroupNorm → multi-head self-attention over time
  (diffusers ``Attention``; optional sinusoidal frame positions) → zero-initialised output
  projection; ``4 C²`` parameters per layer.
* ``animatediff``: diffusers' AnimateDiff motion module ``AnimateDiffTransformer3D`` (two temporal
  self-attentions + GEGLU feed-forward, sinusoidal positions), whose ``proj_out`` diffusers
  initialises randomly and :func:`inflate` zeroes; about ``22 C²`` parameters per layer.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import SinusoidalPositionalEmbedding
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from torch import nn

KINDS = ("attention", "animatediff")
GROUPS = ("down", "mid", "up")


class TemporalLayer(nn.Module):
    """Base: ``num_frames`` is set by the owning model before each forward; :meth:`hook` is the
    forward hook that applies the layer to the output of the spatial module it follows."""

    num_frames: int = 1

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def hook(self, module: nn.Module, args: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (self.mix(output[0]),) + tuple(output[1:])
        if hasattr(output, "sample"):  # a diffusers output dataclass
            output.sample = self.mix(output.sample)
            return output
        return self.mix(output)


class TemporalAttention(TemporalLayer):
    """``x + W_o · Attn_t(GroupNorm(x))`` over the frame axis; ``W_o`` zero-initialised.

    Args:
        channels: ``C`` of the features ``(B·T, C, H, W)``.
        heads: attention heads (``C`` must be a multiple).
        groups: GroupNorm groups.
        positional: add sinusoidal frame positions (``max_frames`` long) before the attention.
    """

    def __init__(self, channels: int, heads: int, groups: int = 32, positional: bool = False,
                 max_frames: int = 64) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, channels), channels, eps=1e-6)
        self.pos = SinusoidalPositionalEmbedding(channels, max_frames) if positional else None
        self.attn = Attention(query_dim=channels, heads=heads, dim_head=channels // heads, bias=False,
                              out_bias=True)
        nn.init.zeros_(self.attn.to_out[0].weight)
        nn.init.zeros_(self.attn.to_out[0].bias)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        bt, c, h, w = x.shape
        t = self.num_frames
        if bt % t:
            raise ValueError(f"batch of {bt} frames is not a whole number of {t}-frame windows")
        y = self.norm(x).reshape(bt // t, t, c, h, w).permute(0, 3, 4, 1, 2).reshape(-1, t, c)
        if self.pos is not None:
            y = self.pos(y)
        y = self.attn(y)
        y = y.reshape(bt // t, h, w, t, c).permute(0, 3, 4, 1, 2).reshape(bt, c, h, w)
        return x + y


class AnimateDiffLayer(TemporalLayer):
    """diffusers' ``AnimateDiffTransformer3D`` (residual inside) with ``proj_out`` zeroed."""

    def __init__(self, channels: int, heads: int, groups: int = 32, positional: bool = True,
                 max_frames: int = 64) -> None:
        super().__init__()
        self.block = AnimateDiffTransformer3D(
            num_attention_heads=heads, attention_head_dim=channels // heads, in_channels=channels,
            norm_num_groups=min(groups, channels), positional_embeddings="sinusoidal" if positional else None,
            num_positional_embeddings=max_frames)
        nn.init.zeros_(self.block.proj_out.weight)
        nn.init.zeros_(self.block.proj_out.bias)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, num_frames=self.num_frames)


def _targets(unet: nn.Module, groups: tuple[str, ...]) -> list[tuple[nn.Module, int]]:
    """``(module, channels)`` after which a temporal layer goes, in a fixed order."""
    out: list[tuple[nn.Module, int]] = []

    def block_targets(block: nn.Module) -> None:
        attns = getattr(block, "attentions", None)
        for j, resnet in enumerate(block.resnets):
            mod = attns[j] if attns is not None and j < len(attns) else resnet
            out.append((mod, int(resnet.out_channels)))

    if "down" in groups:
        for block in unet.down_blocks:
            block_targets(block)
    if "mid" in groups and unet.mid_block is not None:
        out.append((unet.mid_block, int(unet.mid_block.resnets[-1].out_channels)))
    if "up" in groups:
        for block in unet.up_blocks:
            block_targets(block)
    return out


def inflate(unet: nn.Module, kind: str = "attention", head_dim: int = 32, groups: tuple[str, ...] = GROUPS,
            norm_groups: int = 32, positional: bool = False, max_frames: int = 64) -> nn.ModuleList:
    """Build the temporal layers of ``unet`` and hook them in; returns them (owned by the caller).

    Args:
        kind: one of :data:`KINDS`.
        head_dim: channels per attention head (heads = ``max(1, C // head_dim)``).
        groups: which parts get temporal layers, a subset of :data:`GROUPS`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown temporal layer kind {kind!r} (known: {', '.join(KINDS)})")
    bad = set(groups) - set(GROUPS)
    if bad:
        raise ValueError(f"unknown temporal groups {sorted(bad)} (known: {', '.join(GROUPS)})")
    cls = TemporalAttention if kind == "attention" else AnimateDiffLayer
    layers = nn.ModuleList()
    for module, channels in _targets(unet, tuple(groups)):
        heads = max(1, channels // head_dim)
        while channels % heads:
            heads -= 1
        layer = cls(channels, heads, norm_groups, positional, max_frames)
        module.register_forward_hook(layer.hook)
        layers.append(layer)
    return layers


def set_num_frames(layers: nn.ModuleList, num_frames: int) -> None:
    """Tell every temporal layer how many consecutive batch items form one window."""
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    for layer in layers:
        layer.num_frames = int(num_frames)
