"""``ConditionalDenoiser``: the Lightning module that trains a ``ControlledDenoiser``.

Batches are dicts ``{"target": (B, 3, H, W) in [-1, 1], "cond": (B, C, H, W)}`` from
:class:`actdiff.training.datamodule.VideoClipDataModule`, or windows ``{"target": (B, T, 3, H, W),
"cond": (B, T, C, H, W)}`` for a video generator (``data.item: windows``): the ``B·T`` frames go
through the model as one batch with ``num_frames=T``, one diffusion timestep per window, and the
noise of a window is shared by its frames with probability ``shared_noise_prob`` (the decoders'
default ``shared`` noise), else drawn per frame. Loss: MSE between the model output and
eps (``prediction_type: epsilon``) or v (``v_prediction``) for DDPM-noised latents; with
``residual_over_warp`` the clean latent is ``z(target) - z(warp_blend(cond))``. For windows,
``temporal_loss_weight`` adds the mean squared change between consecutive frames of the error of
the clean-latent estimate (see :func:`temporal_error_loss`): errors that stay put from frame to
frame cost less than errors that flicker.
EMA weights (diffusers ``EMAModel``) are updated after every optimiser step and saved in
checkpoints under ``"ema"``.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel
from omegaconf import OmegaConf

from actdiff.errors import ConfigError
from actdiff.models.denoiser import ControlledDenoiser, widen_condition_input
from actdiff.models.presets import build_model
from actdiff.models.sampling import make_train_scheduler, sample, segment_noise

log = logging.getLogger(__name__)


def _cosine_with_warmup(warmup: int, total: int, min_ratio: float):
    def fn(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        p = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p))

    return fn


def temporal_error_loss(pred: torch.Tensor, goal: torch.Tensor, sigma: torch.Tensor, frames: int) -> torch.Tensor:
    """Mean squared frame-to-frame change of the clean-latent estimate's error.

    For v-prediction the error of ``x0 = alpha·z_t - sigma·v`` is ``-sigma·(v̂ - v)``; for epsilon
    prediction, ``-(sigma / alpha)·(ε̂ - ε)``, weighted by ``alpha²`` to stay bounded at high noise:
    both give ``sigma² · |Δ_t (pred - goal)|²``.

    Args:
        pred, goal: ``(W·T, C, h, w)`` model output and its target, windows of ``frames`` frames.
        sigma: ``(W·T,)`` the noise level ``sqrt(1 - alpha_bar_t)`` of each frame.
        frames: ``T >= 2``.
    """
    err = (pred.float() - goal.float()).unflatten(0, (-1, frames))
    step = (err[:, 1:] - err[:, :-1]) * sigma.float().view(-1, frames, *([1] * (err.ndim - 2)))[:, 1:]
    return step.pow(2).mean()


def param_groups(model: torch.nn.Module, lr: float, scales: dict[str, float] | None) -> list[dict[str, Any]]:
    """Optimiser groups of ``model``'s trainable parameters: those under a submodule named by a key of
    ``scales`` (``{"temporal": 10}``: the video model's temporal layers) train at ``lr × scale``, the
    rest at ``lr``. A key matching no trainable parameter, or a scale ≤ 0, is a one-line ``ConfigError``."""
    scales = {str(k): float(v) for k, v in (scales or {}).items()}
    bad = [k for k, v in scales.items() if not v > 0]
    if bad:
        raise ConfigError(f"optim.lr_scale must be > 0, got {', '.join(f'{k}: {scales[k]}' for k in bad)}")
    groups: dict[str, list] = {k: [] for k in scales}
    rest = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            key = next((k for k in scales if name == k or name.startswith(k + ".")), None)
            (groups[key] if key is not None else rest).append(p)
    empty = [k for k, ps in groups.items() if not ps]
    if empty:
        tops = sorted({n.split(".")[0] for n, _ in model.named_parameters()})
        raise ConfigError(f"optim.lr_scale: no trainable parameters under {', '.join(empty)} "
                          f"(top-level submodules: {', '.join(tops)})")
    return ([{"params": rest, "lr": lr}] if rest else []) + \
        [{"params": ps, "lr": lr * scales[k], "name": k} for k, ps in groups.items()]


class ConditionalDenoiser(L.LightningModule):
    """Args: ``model_cfg`` (``model`` group), ``optim_cfg`` (``optim``: lr, weight_decay, betas,
    warmup_steps, min_lr_ratio, total_steps, ``lr_scale`` per submodule: :func:`param_groups`),
    ``ema_decay``, ``val_sample_frames`` (frames sampled
    and logged as images per validation), ``val_sample_steps``, ``shared_noise_prob``,
    ``temporal_loss_weight`` (windows only, ``>= 0``; 0 = plain diffusion loss)."""

    def __init__(
        self,
        model_cfg: dict[str, Any],
        optim_cfg: dict[str, Any],
        ema_decay: float = 0.999,
        val_sample_frames: int = 2,
        val_sample_steps: int = 8,
        val_sampler: str = "dpmsolver++",
        shared_noise_prob: float = 0.0,
        temporal_loss_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if temporal_loss_weight < 0:
            raise ValueError(f"temporal_loss_weight must be >= 0, got {temporal_loss_weight}")
        self.save_hyperparameters()
        self.model: ControlledDenoiser = build_model(OmegaConf.create(model_cfg))
        param_groups(self.model, 1.0, optim_cfg.get("lr_scale"))  # a bad key fails here, not after the data
        self.noise_scheduler = make_train_scheduler(self.model)
        self.ema = EMAModel(self.model.trainable_parameters(), decay=ema_decay)

    # -------------------------------------------------------------------- loss
    def _clean_latent(self, target: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model.to_diffusion_space(target, cond)

    def _frames(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(target (N, 3, H, W), cond (N, C, H, W), T)``: windows flattened to frames (``T = 1``
        for frame pairs)."""
        target, cond = batch["target"], batch["cond"]
        if target.ndim == 4:
            return target, cond, 1
        return target.flatten(0, 1), cond.flatten(0, 1), int(target.shape[1])

    def _forward(self, zt: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, frames: int) -> torch.Tensor:
        if hasattr(self.model, "set_num_frames"):
            return self.model(zt, t, cond, num_frames=frames)
        if frames != 1:
            raise ValueError(f"{type(self.model).__name__} denoises frames, not {frames}-frame windows "
                             "(data.item: pairs, or a video model preset)")
        return self.model(zt, t, cond)

    def diffusion_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None):
        target, cond, frames = self._frames(batch)
        z0 = self._clean_latent(target, cond)
        windows = z0.shape[0] // frames
        dev = "cpu" if generator else z0.device
        n_t = self.noise_scheduler.config.num_train_timesteps
        noise = torch.randn(z0.shape, generator=generator, device=dev).to(z0.device, z0.dtype)
        if frames > 1 and self.hparams.shared_noise_prob > 0:
            shared = torch.rand(windows, generator=generator, device=dev) < self.hparams.shared_noise_prob
            first = noise.view(windows, frames, *z0.shape[1:])[:, :1].expand(-1, frames, *z0.shape[1:])
            mask = shared.to(z0.device).view(windows, 1, *([1] * (z0.ndim - 1)))
            noise = torch.where(mask, first, noise.view(windows, frames, *z0.shape[1:])).reshape(z0.shape)
        t = torch.randint(0, n_t, (windows,), generator=generator, device=dev).to(z0.device)
        t = t.repeat_interleave(frames)
        zt = self.noise_scheduler.add_noise(z0, noise, t)
        goal = noise if self.model.config.prediction_type == "epsilon" else \
            self.noise_scheduler.get_velocity(z0, noise, t)
        pred = self._forward(zt, t, cond, frames)
        loss = F.mse_loss(pred.float(), goal.float())
        if frames > 1 and self.hparams.temporal_loss_weight > 0:
            acp = self.noise_scheduler.alphas_cumprod.to(z0.device)[t]
            sigma = (1.0 - acp).clamp(min=0).sqrt()
            loss = loss + self.hparams.temporal_loss_weight * temporal_error_loss(pred, goal, sigma, frames)
        return loss

    def training_step(self, batch, batch_idx):
        loss = self.diffusion_loss(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, batch_size=batch["target"].shape[0])
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.ema.step(self.model.trainable_parameters())

    def on_fit_start(self) -> None:
        self.ema.to(self.device)

    # -------------------------------------------------------------- validation
    def validation_step(self, batch, batch_idx):
        g = torch.Generator().manual_seed(1234 + batch_idx)
        loss = self.diffusion_loss(batch, generator=g)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=batch["target"].shape[0])
        if batch_idx == 0 and self.hparams.val_sample_frames > 0 and self.trainer.is_global_zero:
            self._log_samples(batch)
        return loss

    @torch.no_grad()
    def _log_samples(self, batch) -> None:
        """Sample ``val_sample_frames`` frames (windows: the first window, all its frames)."""
        target, cond, frames = self._frames(batch)
        n = frames if frames > 1 else min(self.hparams.val_sample_frames, target.shape[0])
        cond, target = cond[:n], target[:n]
        z = self.model.encode(target)
        noise = segment_noise(tuple(z.shape[1:]), range(n), 0, self.global_step, "per_frame")
        if hasattr(self.model, "set_num_frames"):
            self.model.set_num_frames(n if frames > 1 else 1)
        x = sample(self.model, cond, noise.to(z), self.hparams.val_sample_steps, self.hparams.val_sampler)
        grid = torch.cat([target, x], dim=-1)  # target | sample, side by side
        images = ((grid.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        log_images(self.loggers, images, self.global_step)

    # --------------------------------------------------------------- optimiser
    def configure_optimizers(self):
        o = self.hparams.optim_cfg
        params = param_groups(self.model, float(o.get("lr", 2e-4)), o.get("lr_scale"))
        opt = torch.optim.AdamW(params, lr=float(o.get("lr", 2e-4)), weight_decay=float(o.get("weight_decay", 0.0)),
                                betas=tuple(o.get("betas", (0.9, 0.999))))
        total = int(o.get("total_steps") or 1000)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, _cosine_with_warmup(int(o.get("warmup_steps", 0)), total, float(o.get("min_lr_ratio", 0.1))))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ema"] = self.ema.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "ema" in checkpoint:
            self.ema.load_state_dict(checkpoint["ema"])

    def load_initial_weights(self, folder: str | Path) -> None:
        """Start training from ``save_pretrained`` weights (fine-tuning); the EMA restarts from them.

        The folder's architecture must be the configured ``model``'s (else a one-line ``ConfigError``).
        """
        from actdiff.errors import ConfigError
        from actdiff.models.loading import load_denoiser

        src = load_denoiser(folder)
        state = src.state_dict()
        have, want = src.config.conditioning_channels, self.model.config.conditioning_channels
        if have < want:  # e.g. a residual_base: pred model from 20-channel weights
            state = widen_condition_input(state, want)
            log.warning("init_weights %s: condition input widened from %d to %d channels (zero weights)",
                        folder, have, want)
        try:
            self.model.load_state_dict(state)
        except (RuntimeError, ValueError) as e:
            raise ConfigError(f"init_weights {folder}: not the configured model's architecture "
                              f"({str(e).splitlines()[0]})") from None
        self.ema = EMAModel(self.model.trainable_parameters(), decay=self.hparams.ema_decay)

    def ema_model(self) -> ControlledDenoiser:
        """A copy of the model holding the EMA weights (for export)."""
        model = copy.deepcopy(self.model).cpu()
        self.ema.copy_to(model.trainable_parameters())
        return model


def log_images(loggers, images: np.ndarray, step: int) -> None:
    """``uint8 (N, H, W, 3)`` → PNGs in a CSV/TensorBoard logger's ``log_dir/images`` or ``wandb.Image``."""
    from PIL import Image

    for logger in loggers:
        name = type(logger).__name__
        if name == "WandbLogger":
            import wandb

            logger.experiment.log({"val/samples": [wandb.Image(im) for im in images]}, step=step)
        elif getattr(logger, "log_dir", None):
            folder = Path(logger.log_dir) / "images"
            folder.mkdir(parents=True, exist_ok=True)
            for i, im in enumerate(images):
                Image.fromarray(im).save(folder / f"step{step:07d}_{i}.png")
