"""``TrackingBranchModule``: Lightning training of the paper decoder's tracking branch, the base frozen.

Batches are :class:`~actdiff.training.segment_windows.SegmentWindowDataset` items
``{"target": (B, T, 3, H, W), "cond": (B, T, 30, H, W), …}`` (or their ``uint8`` latent layout:
7 condition channels, converted here on the device). Per window (no gradients through the
frozen VAE): the target frames' latent ``z0`` and the conditions' latents
(:meth:`~actdiff.models.paper_generator.PaperVideoGenerator.condition_latents`), all at the model's
resolution. The loss is CogVideoX's fine-tuning loss: one timestep per window,
``z_t = add_noise(z0, eps, t)``, the v-prediction turned into a clean-latent prediction
(``scheduler.get_velocity(v, z_t, t)``) and ``mean(w_t (ẑ0 - z0)²)`` with ``w_t = 1 / (1 - ᾱ_t)``.
Only the branch has gradients and optimiser state; it trains in float32 (the base stays in its
dtype, bfloat16 for the real model, under ``precision: bf16-mixed``). Checkpoints hold the branch
only (the base is reloaded from its folder), so they stay small.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from omegaconf import OmegaConf

from actdiff.errors import ConfigError
from actdiff.models.presets import build_model
from actdiff.training.module import _cosine_with_warmup, log_images


class TrackingBranchModule(L.LightningModule):
    """Args: ``model_cfg`` (the ``model`` group, builder ``paper``), ``optim_cfg`` (lr, weight_decay,
    betas, warmup_steps, min_lr_ratio, total_steps), ``val_sample_steps`` and ``val_samples`` (windows
    sampled and logged as images per validation; 0: none), ``model`` (an already built model instead of
    ``model_cfg``: benchmarks)."""

    def __init__(self, model_cfg: dict[str, Any], optim_cfg: dict[str, Any], val_sample_steps: int = 4,
                 val_samples: int = 0, model: Any = None) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model if model is not None else build_model(OmegaConf.create(model_cfg))
        if getattr(self.model, "branch", None) is None:
            raise ConfigError("the tracking-branch trainer needs a model with a tracking branch (builder paper)")
        self.model.freeze_base()
        self.model.branch.float()                       # float32 master weights; the base keeps its dtype
        from diffusers import CogVideoXDDIMScheduler

        self.noise_scheduler = CogVideoXDDIMScheduler.from_config(self.model.scheduler.config)
        self.strict_loading = False                     # checkpoints hold the branch only

    def on_train_epoch_start(self) -> None:
        """The frozen base in eval mode, the branch in train mode: the model is loaded in eval mode
        and Lightning keeps the modes it finds (it restores them after each validation)."""
        self.model.eval()
        self.model.branch.train()

    # -------------------------------------------------------------------- loss
    @torch.no_grad()
    def latents(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z0, image latents, tracking input)``, each ``(B, F, C, h, w)``, at the model's resolution."""
        from actdiff.models.latent_video import dequantize_compact, resize_frames

        m = self.model
        size = tuple(m.config.resolution) if m.config.resolution else tuple(batch["target"].shape[-2:])
        z0, image, track = [], [], []
        for target, cond in zip(batch["target"], batch["cond"]):
            if target.dtype == torch.uint8:      # latent-layout items (segment_windows.LAYOUTS)
                target, cond = target.float() / 127.5 - 1.0, dequantize_compact(cond)
            z0.append(m.encode_video(resize_frames(target, size)))
            i, t = m.condition_latents(cond)
            image.append(i)
            track.append(t)
        dtype = m.transformer.dtype
        return torch.stack(z0).to(dtype), torch.stack(image).to(dtype), torch.stack(track).to(dtype)

    def diffusion_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        z0, image, tracking = self.latents(batch)
        b = z0.shape[0]
        sched = self.noise_scheduler
        dev = "cpu" if generator is not None else z0.device
        noise = torch.randn(z0.shape, generator=generator, device=dev).to(z0.device, z0.dtype)
        t = torch.randint(0, sched.config.num_train_timesteps, (b,), generator=generator, device=dev).to(z0.device)
        zt = sched.add_noise(z0, noise, t)
        prompt = self.model.prompt_embeds[1:2].expand(b, -1, -1).to(z0.device)
        v = self.model.predict(zt, t, image, tracking, prompt)
        x0 = sched.get_velocity(v.float(), zt.float(), t)
        w = (1.0 / (1.0 - sched.alphas_cumprod.to(z0.device)[t])).view(b, 1, 1, 1, 1)
        return (w * (x0 - z0.float()) ** 2).reshape(b, -1).mean(1).mean()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.diffusion_loss(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, batch_size=batch["target"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.diffusion_loss(batch, generator=torch.Generator().manual_seed(1234 + batch_idx))
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=batch["target"].shape[0])
        if batch_idx == 0 and self.hparams.val_samples > 0 and self.trainer.is_global_zero:
            self._log_samples(batch)
        return loss

    @torch.no_grad()
    def _log_samples(self, batch: dict[str, torch.Tensor]) -> None:
        rows = []
        for k in range(min(self.hparams.val_samples, batch["target"].shape[0])):
            frames = batch["frames"][k].tolist()
            x = self.model.generate(batch["cond"][k], 0, frames, steps=self.hparams.val_sample_steps)
            pick = [0, len(frames) // 2, len(frames) - 1]
            rows.append(torch.cat([batch["target"][k][pick], x[pick].to(batch["target"].dtype)], dim=-1))
        grid = torch.cat(rows)  # first, middle, last frame: target | sample
        images = ((grid.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        log_images(self.loggers, images, self.global_step)

    # --------------------------------------------------------------- optimiser
    def configure_optimizers(self) -> dict[str, Any]:
        o = self.hparams.optim_cfg
        params = [p for p in self.model.branch.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=float(o.get("lr", 1e-5)), weight_decay=float(o.get("weight_decay", 0.0)),
                                betas=tuple(o.get("betas", (0.9, 0.999))))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _cosine_with_warmup(
            int(o.get("warmup_steps", 0)), int(o.get("total_steps") or 1000), float(o.get("min_lr_ratio", 0.1))))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("state_dict")
        if isinstance(state, dict):  # (FSDP's sharded checkpoints are written per rank by the strategy)
            checkpoint["state_dict"] = {k: v for k, v in state.items() if k.startswith("model.branch.")}


#: Trainer precision a base of this dtype needs (the float32 branch meets the base under autocast).
PRECISION_FOR = {"bfloat16": "bf16-mixed", "float16": "16-mixed"}


def check_precision(model: Any, precision: Any) -> None:
    """``ConfigError`` when ``trainer.precision`` cannot run a base of ``model.transformer.dtype``."""
    dtype = str(model.transformer.dtype).removeprefix("torch.")
    need = PRECISION_FOR.get(dtype)
    if need is not None and str(precision) != need:
        raise ConfigError(f"the base is {dtype}: set trainer.precision={need} (got {precision})")
