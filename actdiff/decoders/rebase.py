"""What a diffusion model's residual is added to: the decoders' ``base``, ``detail_mix`` and ``residual_band``.

A model refines an image it reads from its conditions, its *native* base (the warp decoder's frame
``pred``, or the blend of the two warped keyframes), and its output ``x`` is that base plus a residual
``r = x − native``. Both diffusion decoders (frame by frame, :mod:`actdiff.decoders.diffusion`, and
segment-level, :mod:`actdiff.decoders.video`) can move ``r`` onto another image, the *target*:

* ``blend``: the blend of the two warps; ``prediction``: the warp decoder's frame;
* ``detail``: ``pred + β · G(blend − pred)``, ``G`` a Gaussian of ``detail_sigma`` px and ``β`` the
  ``detail_mix`` in [0, 1] (the encoder's per-segment choice where the stream carries one), so the
  coarse band is a mix of the two and the fine band the prediction's sharp edges;

and add ``s · r`` (``residual_scale`` ``s``), or with ``residual_band="fine"`` only the fine band
``s · (r − G(r))``, so the output's coarse band stays the target's. All images ``(B, 3, H, W)`` torch
tensors in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from actdiff.errors import ConfigError
from actdiff.motion.prediction import coarse_band

#: What the model's residual is added to.
BASES = ("blend", "prediction", "detail")
#: How much of the model's residual goes on the base.
BANDS = ("all", "fine")


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of ``(B, C, H, W)`` by ``sigma`` pixels (:func:`actdiff.motion.prediction.coarse_band`)."""
    arr = x.detach().cpu().numpy().transpose(0, 2, 3, 1)
    out = np.stack([coarse_band(img, sigma) for img in arr]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(out)).to(x.device, x.dtype)


def image_under(base: str, pred: torch.Tensor, blend: torch.Tensor, mix: float, sigma: float) -> torch.Tensor:
    """The target of ``base`` (module docstring) from the warp decoder's frame ``pred`` and the blend."""
    if base == "detail":
        return pred + mix * blur(blend - pred, sigma)
    return pred if base == "prediction" else blend


def add_residual(target: torch.Tensor, residual: torch.Tensor, band: str, scale: float,
                 sigma: float) -> torch.Tensor:
    """``target + scale · residual`` (its fine band only with ``band="fine"``), clamped to [-1, 1]."""
    if band == "fine":
        residual = residual - blur(residual, sigma)
    return (target + scale * residual).clamp(-1, 1)


@dataclass(frozen=True)
class RebaseOptions:
    """Where a decoder puts its model's residual (module docstring); ``base=None``: the model's own."""

    base: str | None
    detail_mix: float
    stream_mix: bool  # no detail_mix given: the stream's per-segment β wins where sent
    residual_band: str
    residual_scale: float


def resolve_options(stored: dict, base: str | None = None, detail_mix: float | None = None,
                    residual_band: str | None = None, residual_scale: float | None = None,
                    own_base: str | None = None) -> RebaseOptions:
    """The options of a decoder: each given value, else the weights' ``stored`` choice, else the
    default (``own_base``, β 1, ``all``, 1). One-line ``ConfigError`` for a value outside
    :data:`BASES`, [0, 1] or :data:`BANDS`, and for a ``detail_mix`` given with a base other than ``detail``."""
    options = RebaseOptions(
        base=base or stored.get("base") or own_base,
        detail_mix=float(detail_mix if detail_mix is not None else stored.get("detail_mix", 1.0)),
        stream_mix=detail_mix is None,
        residual_band=residual_band or stored.get("residual_band", "all"),
        residual_scale=float(residual_scale if residual_scale is not None else stored.get("residual_scale", 1.0)))
    if options.base is not None and options.base not in BASES:
        raise ConfigError(f"unknown diffusion base {options.base!r} ({' | '.join(BASES)})")
    if not 0.0 <= options.detail_mix <= 1.0:
        raise ConfigError(f"detail_mix must be in [0, 1], got {options.detail_mix}")
    if detail_mix is not None and options.base != "detail":  # refused, not ignored
        here = options.base or "the model's own"
        raise ConfigError(f"detail_mix acts on the 'detail' base only (here: {here})")
    if options.residual_band not in BANDS:
        raise ConfigError(f"unknown residual_band {options.residual_band!r} ({' | '.join(BANDS)})")
    if not 0.0 <= options.residual_scale <= 1.0:
        raise ConfigError(f"residual_scale must be in [0, 1], got {options.residual_scale}")
    return options


def segment_mix(seg_mix: float | None, mix: float, from_stream: bool) -> float:
    """The ``detail_mix`` of a segment: the stream's ``seg_mix`` where sent and ``from_stream``
    (no ``detail_mix`` was given), else ``mix``."""
    return float(seg_mix) if from_stream and seg_mix is not None else float(mix)
