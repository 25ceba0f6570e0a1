"""Deterministic sampling of the ``ControlledDenoiser`` with diffusers schedulers.

Samplers: ``ddim`` (eta 0), ``dpmsolver++`` (``DPMSolverMultistepScheduler``,
``algorithm_type="dpmsolver++"``), ``unipc`` (``UniPCMultistepScheduler``); all
deterministic given the initial noise.

Noise: ``noise_mode="shared"`` (default) draws ONE latent noise tensor per segment from a
``torch.Generator`` seeded with ``(header seed, segment id)`` and uses it for every frame of
the segment, so that frames sharing content denoise the same way and do not flicker.
``noise_mode="per_frame"`` seeds one generator per ``(seed, segment id, frame)`` instead.
``noise_mode="warped"`` moves the shared noise along the decoded motion: frame ``t`` takes the
segment's noise at the position its pixels had in the start keyframe (:func:`warp_noise`,
nearest neighbour so the noise stays white and unit-variance), and fresh per-frame noise where
that position is outside the frame; generated texture then moves with the content instead of
staying fixed on the screen.
The segment id is the segment's absolute start frame (unique within a stream).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch

from actdiff.errors import ConfigError
from actdiff.models.denoiser import ControlledDenoiser

SAMPLERS = ("ddim", "dpmsolver++", "unipc")


def schedule_kwargs(model: ControlledDenoiser) -> dict[str, Any]:
    ns = dict(model.config.noise_schedule or {})
    ns.setdefault("num_train_timesteps", 1000)
    ns.setdefault("beta_schedule", "squaredcos_cap_v2")
    ns["prediction_type"] = model.config.prediction_type
    return ns


def make_train_scheduler(model: ControlledDenoiser):
    """``DDPMScheduler`` with the model's noise schedule (training: ``add_noise``/``get_velocity``)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(**schedule_kwargs(model))


def make_sampler(model: ControlledDenoiser, name: str = "dpmsolver++"):
    """Inference scheduler ``name`` with the model's noise schedule."""
    from diffusers import (
        DDIMScheduler,
        DPMSolverMultistepScheduler,
        UniPCMultistepScheduler,
    )

    kw = schedule_kwargs(model)
    if check_sampler(name) == "ddim":
        return DDIMScheduler(**kw, clip_sample=False, set_alpha_to_one=False)
    if name == "dpmsolver++":
        return DPMSolverMultistepScheduler(**kw, algorithm_type="dpmsolver++")
    return UniPCMultistepScheduler(**kw)


def check_sampler(name: Any) -> str:
    """``name`` when it is one of :data:`SAMPLERS`, else a one-line ``ConfigError``."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r} (known: {', '.join(SAMPLERS)})")
    return str(name)


def seed_for(*parts: int) -> int:
    """Stable 63-bit seed from integers (platform independent)."""
    digest = hashlib.sha256(",".join(str(int(p)) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def segment_noise(
    shape: tuple[int, int, int], frames: Sequence[int], seed: int, segment_id: int, mode: str = "shared"
) -> torch.Tensor:
    """Initial latent noise ``(len(frames), *shape)`` (float32, CPU), see module docstring.

    ``mode="warped"`` is built by the caller from ``segment_noise(..., "shared")`` (the
    reference) and ``segment_noise(..., "per_frame")`` (the fresh noise) with :func:`warp_noise`,
    because it needs the decoded motion.
    """
    if mode == "shared":
        g = torch.Generator().manual_seed(seed_for(seed, segment_id))
        one = torch.randn(shape, generator=g)
        return one.unsqueeze(0).expand(len(frames), *shape).clone()
    if mode == "per_frame":
        out = []
        for t in frames:
            g = torch.Generator().manual_seed(seed_for(seed, segment_id, t))
            out.append(torch.randn(shape, generator=g))
        return torch.stack(out)
    raise ConfigError(f"unknown noise mode {mode!r} (shared | per_frame | warped)")


def warp_noise(base: torch.Tensor, coords: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """Noise ``base`` moved along a backward map, nearest neighbour.

    Args:
        base: ``(C, H, W)`` noise of the reference frame.
        coords: ``(T, H, W, 2)`` for every pixel of frame ``t`` its position ``(x, y)`` in the
            reference frame, in pixels of ``base``'s grid.
        fresh: ``(T, C, H, W)`` noise used where the position falls outside the grid.

    Returns:
        ``(T, C, H, W)``: ``base`` sampled at the rounded positions (so values stay draws of the
        same distribution; no interpolation that would shrink their variance).
    """
    _, h, w = base.shape
    xi = coords[..., 0].round().long()
    yi = coords[..., 1].round().long()
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    idx = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).flatten(1)  # (T, H*W)
    moved = base.flatten(1)[:, idx].permute(1, 0, 2).reshape(fresh.shape)
    return torch.where(inside[:, None], moved, fresh)


def check_strength(strength: Any) -> float:
    """``strength`` as a float in ``(0, 1]`` (the share of the schedule run), or a one-line ``ConfigError``."""
    if not 0.0 < float(strength) <= 1.0:
        raise ConfigError(f"sampling strength must be in (0, 1], got {strength}")
    return float(strength)


def check_steps(steps: Any) -> int:
    """``steps`` as an int, or a one-line ``ConfigError`` unless it is a whole number ≥ 1."""
    try:
        ok = not isinstance(steps, bool) and float(steps).is_integer() and int(steps) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"sampling steps must be a whole number >= 1, got {steps}")
    return int(steps)


@torch.no_grad()
def sample(
    model: ControlledDenoiser,
    cond: torch.Tensor,
    noise: torch.Tensor,
    steps: int = 8,
    sampler: str = "dpmsolver++",
    strength: float = 1.0,
) -> torch.Tensor:
    """Denoise ``noise`` under ``cond``.

    Args:
        cond: ``(B, C, H, W)`` conditions (float, model device/dtype).
        noise: ``(B, c, H/f, W/f)`` initial latent noise.
        steps: sampling steps of the full schedule.
        strength: fraction of the schedule that is run, in ``(0, 1]``. Below 1 sampling starts
            part-way (SDEdit-style) from the noised *zero* latent, which for a residual-over-warp
            model is the warp decoder's prediction: less is invented, frames flicker less.

    Returns:
        Images ``(B, 3, H, W)`` in [-1, 1] (clamped).
    """
    check_strength(strength)
    check_steps(steps)
    sched = make_sampler(model, sampler)
    sched.set_timesteps(int(steps), device=cond.device)
    timesteps = sched.timesteps
    noise = noise.to(cond.device, cond.dtype)
    if strength < 1.0:
        first = min(len(timesteps) - 1, int(round(len(timesteps) * (1.0 - strength))))
        timesteps = timesteps[first:]
        if hasattr(sched, "set_begin_index"):
            sched.set_begin_index(first)
        z = sched.add_noise(torch.zeros_like(noise), noise, timesteps[:1])
    else:
        z = noise * sched.init_noise_sigma
    for t in timesteps:
        inp = sched.scale_model_input(z, t)
        pred = model(inp, t.expand(z.shape[0]) if t.ndim == 0 else t, cond)
        z = sched.step(pred, t, z, return_dict=False)[0]
    return model.from_diffusion_space(z, cond).clamp(-1, 1)
