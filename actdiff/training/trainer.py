"""Build the Lightning ``Trainer``, loggers and checkpointing from the ``trainer``/``logger`` config."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig

from actdiff.errors import ConfigError

log = logging.getLogger("actdiff.training")

STRATEGIES = ("auto", "ddp", "ddp_spawn", "fsdp")
LOGGERS = ("csv", "wandb", "none")


def prepare_run(cfg: DictConfig, resume: bool) -> Path:
    """Check ``cfg`` has what a fit needs and its run folder suits ``resume``; save the config.

    A run folder that already holds checkpoints is never reused without ``--resume`` (its
    checkpoints would be overwritten), and ``--resume`` needs ``run_dir/checkpoints/last.ckpt``.
    Returns the run folder, with the resolved config written to ``run_dir/config.yaml``. On resume
    the CSV metrics so far are kept as ``logs/metrics.partN.csv`` (N = 1, 2, … in order).
    """
    from actdiff.config import save_config
    from actdiff.errors import InputError, OutputError

    for key in ("run_dir", "model", "trainer", "data", "codec"):
        if key not in cfg:
            raise ConfigError(f"fit config lacks the {key!r} section")
    run_dir = Path(str(cfg.run_dir)).expanduser()
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume and not last.is_file():
        raise InputError(f"--resume: no checkpoint at {last}")
    if not resume and last.is_file():
        raise OutputError(f"{run_dir} already holds checkpoints: pass --resume or choose another run_dir=")
    save_config(cfg, run_dir / "config.yaml")
    old = run_dir / "logs" / "metrics.csv"
    if resume and old.is_file() and os.environ.get("LOCAL_RANK", "0") in ("", "0"):
        # Lightning's CSV logger deletes an existing metrics.csv: keep the history as metrics.partN.csv
        old.rename(old.with_name(f"metrics.part{len(list(old.parent.glob('metrics.part*.csv'))) + 1}.csv"))
    return run_dir


def build_loggers(cfg: DictConfig, run_dir: Path) -> list:
    """``logger.name``: csv (default) | wandb (``logger.mode`` online|offline|disabled;
    ``WANDB_MODE`` wins when set) | none."""
    lc = cfg.get("logger") or {}
    name = str(lc.get("name", "csv"))
    if name not in LOGGERS:
        raise ConfigError(f"unknown logger {name!r} (known: {', '.join(LOGGERS)})")
    if name == "none":
        return []
    if name == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return [CSVLogger(save_dir=str(run_dir), name="logs", version=lc.get("version", ""))]
    from lightning.pytorch.loggers import WandbLogger

    mode = os.environ.get("WANDB_MODE") or str(lc.get("mode", "offline"))
    if mode not in ("online", "offline", "disabled"):
        raise ConfigError(f"unknown wandb mode {mode!r} (online | offline | disabled)")
    return [WandbLogger(project=str(lc.get("project", "actdiff")), name=str(cfg.get("name", "run")),
                        save_dir=str(run_dir), mode=mode)]


def build_trainer(cfg: DictConfig, run_dir: Path, has_val: bool = True, callbacks: Sequence[Any] = ()) -> L.Trainer:
    """The ``Trainer`` of a fit: strategy, precision, checkpoints every ``trainer.checkpoint_every``
    steps (+ ``last.ckpt``), loggers, and ``callbacks`` (e.g. the rate curve) after the built-in ones."""
    t = cfg.trainer
    strategy = str(t.get("strategy", "auto"))
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown trainer.strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    if strategy == "fsdp" and str(t.get("accelerator", "cpu")) == "cpu":
        raise ConfigError("trainer.strategy=fsdp needs GPUs (Lightning has no FSDP on CPU); "
                          "use trainer.strategy=ddp on CPU")
    if strategy == "ddp" and str(t.get("accelerator", "cpu")) == "cpu":
        from lightning.pytorch.strategies import DDPStrategy

        strategy = DDPStrategy(process_group_backend="gloo")
    ckpt = ModelCheckpoint(dirpath=str(run_dir / "checkpoints"),
                           every_n_train_steps=int(t.get("checkpoint_every", 100)),
                           save_last=True, save_top_k=-1 if t.get("keep_all_checkpoints") else 1,
                           monitor=None, filename="step{step:07d}", auto_insert_metric_name=False)
    loggers = build_loggers(cfg, run_dir)
    callbacks = [ckpt] + ([LearningRateMonitor("step")] if loggers else []) + list(callbacks)
    return L.Trainer(
        accelerator=str(t.get("accelerator", "cpu")),
        devices=t.get("devices", 1),
        num_nodes=int(t.get("num_nodes", 1)),
        strategy=strategy,
        max_steps=int(t.max_steps),
        val_check_interval=t.get("val_check_interval") if has_val else None,
        check_val_every_n_epoch=None if has_val and t.get("val_check_interval") else 1,
        limit_val_batches=t.get("limit_val_batches", 1.0) if has_val else 0,
        precision=t.get("precision", "32"),
        gradient_clip_val=t.get("gradient_clip_val"),
        accumulate_grad_batches=int(t.get("accumulate_grad_batches", 1)),
        log_every_n_steps=int(t.get("log_every_n_steps", 10)),
        logger=loggers if loggers else False,
        callbacks=callbacks,
        default_root_dir=str(run_dir),
        enable_progress_bar=bool(t.get("progress_bar", True)),
        enable_model_summary=False,
        num_sanity_val_steps=int(t.get("num_sanity_val_steps", 0)),
        deterministic=bool(t.get("deterministic", False)),
    )
