"""``actdiff fit``: train the diffusion decoder with Lightning.

    actdiff fit --config configs/experiment/train_tiny_cpu.yaml [key=value ...] [--resume] [--print-config]

The run folder (``run_dir``) gets ``config.yaml`` (resolved), ``checkpoints/`` (every
``trainer.checkpoint_every`` steps + ``last.ckpt``) and the logger's files. ``--resume``
continues from ``run_dir/checkpoints/last.ckpt``. ``export=DIR`` writes the final EMA
weights with ``save_pretrained`` (safetensors) when training ends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from actdiff.commands.common import (
    ArgumentParser,
    add_config_args,
    cli_entry,
    load_cfg,
    maybe_print_config,
)

DEFAULT = "experiment/train_tiny_cpu"
log = logging.getLogger("actdiff")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff fit", description="Train the diffusion decoder or a learned selector (Lightning).")
    add_config_args(p, DEFAULT)
    p.add_argument("--resume", action="store_true", help="resume from run_dir/checkpoints/last.ckpt")
    return p


def run(cfg, resume: bool = False, videos=None, segment_source=None):
    """Train from a composed config; returns the fitted ``ConditionalDenoiser`` (tests call this).

    ``task: keyframe_selector | trajectory_selector`` trains a learned selector instead
    (:func:`actdiff.training.selectors.fit_selector`); ``task`` absent or ``denoiser``: the decoder.
    """
    task = str(cfg.get("task") or "denoiser")
    if task != "denoiser":
        from actdiff.training.selectors import fit_selector

        return fit_selector(cfg, resume=resume, videos=videos)
    import lightning as L
    from omegaconf import OmegaConf

    from actdiff.training.data import VideoClipDataModule
    from actdiff.training.export import export_module
    from actdiff.training.module import ConditionalDenoiser
    from actdiff.training.trainer import build_trainer, prepare_run

    run_dir = prepare_run(cfg, resume)
    L.seed_everything(int(cfg.get("seed", 0)), workers=True, verbose=False)
    dm = VideoClipDataModule(cfg.data, cfg.codec, cfg.get("protocol"), videos=videos, segment_source=segment_source)
    dm.prepare_data()
    dm.setup("fit")
    optim = OmegaConf.to_container(cfg.get("optim") or {}, resolve=True)
    optim.setdefault("total_steps", int(cfg.trainer.max_steps))
    train = cfg.get("train") or {}
    module = ConditionalDenoiser(
        OmegaConf.to_container(cfg.model, resolve=True), optim, ema_decay=float(train.get("ema_decay", 0.999)),
        val_sample_frames=int(train.get("val_sample_frames", 2)),
        val_sample_steps=int(train.get("val_sample_steps", 8)),
        val_sampler=str(train.get("val_sampler", "dpmsolver++")),
    )
    trainer = build_trainer(cfg, run_dir, has_val=len(dm.val_set) > 0)
    trainer.fit(module, datamodule=dm, ckpt_path=str(run_dir / "checkpoints" / "last.ckpt") if resume else None)
    if cfg.get("export") and trainer.is_global_zero:
        out = export_module(module, str(cfg.export), str(cfg.get("export_dtype", "float32")))
        log.warning("exported EMA weights to %s", out)
    return module


@cli_entry
def main(argv: Sequence[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    cfg = load_cfg(args, extra, DEFAULT)
    if maybe_print_config(args, cfg):
        return 0
    run(cfg, resume=args.resume)
    return 0
