"""Latent spaces of the denoiser: cheap space-to-depth (``tiny``/``small``) or a VAE (``sd``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def space_to_depth(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``(B, 3, H, W)`` → ``(B, 3 f², H/f, W/f)`` (``torch.pixel_unshuffle``; H, W multiples of f)."""
    return F.pixel_unshuffle(x, factor)


def depth_to_space(z: torch.Tensor, factor: int) -> torch.Tensor:
    """Inverse of :func:`space_to_depth`: ``(B, 3 f², h, w)`` → ``(B, 3, h f, w f)``."""
    return F.pixel_shuffle(z, factor)
