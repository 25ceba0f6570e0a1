"""Build the Lightning ``Trainer``, loggers and checkpointing from the ``trainer``/``logger`` config."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig

from actdiff.errors import ConfigError
from actdiff.training.strategies import (  # noqa: F401  (STRATEGIES: re-exported)
    STRATEGIES,
    build_strategy,
    check_strategy_machine,
)

log = logging.getLogger("actdiff.training")

LOGGERS = ("csv", "wandb", "none")
WANDB_MODES = ("online", "offline", "disabled")
#: What ``trainer.accelerator`` names besides Lightning's registry (cpu, cuda, mps, tpu …), and the
#: devices ``auto``/``gpu`` stand for, in Lightning's order of preference.
ACCELERATOR_ALIASES = {"auto": ("tpu", "mps", "cuda"), "gpu": ("mps", "cuda")}
SECTIONS = ("run_dir", "model", "trainer", "data", "codec")


def check_sections(cfg: DictConfig) -> None:
    """``ConfigError`` when ``cfg`` lacks a section every fit reads (:data:`SECTIONS`)."""
    for key in SECTIONS:
        if key not in cfg:
            raise ConfigError(f"fit config lacks the {key!r} section")


def check_run_dir(run_dir: Path) -> None:
    """``OutputError`` when ``run_dir`` cannot be (or become) a writable folder: it, or the nearest
    existing path above it, is a file, or that folder is not writable."""
    from actdiff.errors import OutputError

    base = run_dir
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        what = f"run_dir={run_dir} is a file" if base == run_dir else f"{base} (in run_dir={run_dir}) is a file"
        raise OutputError(f"{what}, not a folder: choose another run_dir=")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"run_dir={run_dir}: {base} is not writable: choose another run_dir=")


def check_precision_value(precision: Any) -> None:
    """``ConfigError`` unless ``trainer.precision`` is one Lightning accepts (32, "32-true",
    "bf16-mixed", "16-mixed", 64 …; null: Lightning's default), read by Lightning's own parser."""
    from lightning.fabric.connector import _convert_precision_to_unified_args as unified

    if precision is None:
        return
    ok = isinstance(precision, (int, str)) and not isinstance(precision, bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy aliases' "discouraged": Lightning says it when it runs
        try:
            ok = ok and unified(precision) is not None
        except ValueError:
            ok = False
    if not ok:
        raise ConfigError(f"unknown trainer.precision {precision!r} (e.g. 32, 32-true, 16-mixed, bf16-mixed, "
                          "bf16-true, 16-true, 64)")


def _available(name: str) -> bool:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return bool(AcceleratorRegistry[name]["accelerator"].is_available())


def accelerator_kind(trainer_cfg: Any) -> str:
    """The device kind ``trainer.accelerator`` trains on here (``cpu``, ``cuda``, ``mps``, ``tpu``;
    ``auto``/``gpu`` resolved as Lightning does); ``ConfigError`` when the name is unknown or this
    machine has no such device."""
    from lightning.pytorch.accelerators import AcceleratorRegistry

    name = str(trainer_cfg.get("accelerator", "cpu"))
    known = sorted({*ACCELERATOR_ALIASES, *AcceleratorRegistry.available_accelerators()})
    if name not in known:
        raise ConfigError(f"unknown trainer.accelerator {name!r} (known: {', '.join(known)})")
    if name in ACCELERATOR_ALIASES:
        found = [kind for kind in ACCELERATOR_ALIASES[name] if _available(kind)]
        if found or name == "auto":
            return (found or ["cpu"])[0]
    elif _available(name):
        return name
    raise ConfigError(f"trainer.accelerator={name}: this machine has no {'GPU' if name == 'gpu' else name} "
                      "device; use trainer.accelerator=cpu (or auto)")


def check_run_setup(cfg: DictConfig) -> None:
    """What a fit needs of ``cfg`` and this machine, before any folder is made or data coded: its
    sections, the run folder (:func:`check_run_dir`), the logger and its W&B mode, ``trainer.precision``,
    ``trainer.accelerator`` (a device this machine has) and ``trainer.strategy`` (one it can run)."""
    check_sections(cfg)
    check_run_dir(Path(str(cfg.run_dir)).expanduser())
    logger_spec(cfg)
    check_precision_value(cfg.trainer.get("precision", "32"))
    check_strategy_machine(cfg.trainer, accelerator_kind(cfg.trainer) == "cpu")


def prepare_run(cfg: DictConfig, resume: bool, videos: Any = None) -> Path:
    """Check ``cfg`` has what a fit needs and its run folder suits ``resume``; save the config.

    A run folder that already holds checkpoints is never reused without ``--resume`` (its
    checkpoints would be overwritten), and ``--resume`` needs a readable
    ``run_dir/checkpoints/last.ckpt`` (:func:`check_resume`), checked before anything in the run
    folder is written; so are ``data.sources`` (listed after the run folder's checks; skipped when
    the fit trains on in-memory ``videos``). Returns the run folder; the resolved config is written
    to ``run_dir/config.yaml`` now for a new run, when training starts for a resumed one.
    """
    from actdiff.config import save_config
    from actdiff.errors import OutputError

    check_sections(cfg)
    run_dir = Path(str(cfg.run_dir)).expanduser()
    check_run_dir(run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume:
        check_resume(run_dir)
    elif last.is_file():
        raise OutputError(f"{run_dir} already holds checkpoints: pass --resume or choose another run_dir=")
    if videos is None:
        from actdiff.training.corpus import list_clips

        list_clips(cfg.data)  # a missing or unreadable source: one line, before any file is written
    export = cfg.get("export")
    if export and not resume and Path(str(export)).expanduser().exists():
        log.warning("export=%s exists: it is replaced when training ends", export)
    if not resume:
        save_config(cfg, run_dir / "config.yaml")
    return run_dir


def check_resume(run_dir: Path) -> None:
    """``InputError`` unless ``run_dir/checkpoints/last.ckpt`` reads as a checkpoint (tensors and
    plain containers only); a damaged one names the newest readable checkpoint beside it."""
    from actdiff.errors import InputError
    from actdiff.training.checkpoints import load_checkpoint

    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise InputError(f"--resume: no checkpoint at {last}")
    try:
        load_checkpoint(last)
    except InputError as e:
        others = sorted((p for p in last.parent.glob("*.ckpt") if p.name != last.name),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        good = None
        for p in others:
            try:
                good = (p, load_checkpoint(p).get("global_step"))
                break
            except InputError:
                continue
        hint = (f"the previous good checkpoint is {good[0]} (step {good[1]}): copy it to {last} to resume from it"
                if good else f"no other readable checkpoint in {last.parent}")
        raise InputError(f"--resume: {e}; {hint} (nothing in {run_dir} was changed)") from None


def check_resume_fits(module: Any, run_dir: Path) -> None:
    """``ConfigError`` when ``run_dir/checkpoints/last.ckpt`` holds another model than ``module``
    (other parameters or shapes: the config's model changed since the run began); read with its
    tensors memory-mapped, before Lightning loads it."""
    from actdiff.training.checkpoints import load_checkpoint

    last = run_dir / "checkpoints" / "last.ckpt"
    saved, own = load_checkpoint(last).get("state_dict") or {}, module.state_dict()
    differ = sorted(set(saved) ^ set(own)) + sorted(
        k for k in set(saved) & set(own) if tuple(getattr(saved[k], "shape", ())) != tuple(own[k].shape))
    if differ:
        raise ConfigError(f"--resume: {last} holds another model than the config's ({len(differ)} parameter(s) "
                          f"differ, e.g. {differ[0]}): resume with the config the run began with, "
                          f"{run_dir / 'config.yaml'}")


def logger_spec(cfg: DictConfig) -> tuple[str, str | None]:
    """``(logger.name, W&B mode)``: csv (default) | wandb (``logger.mode`` online|offline|disabled;
    ``WANDB_MODE`` wins when set) | none; the mode is ``None`` but for wandb. ``ConfigError`` when
    either is unknown."""
    lc = cfg.get("logger") or {}
    name = str(lc.get("name", "csv"))
    if name not in LOGGERS:
        raise ConfigError(f"unknown logger {name!r} (known: {', '.join(LOGGERS)})")
    if name != "wandb":
        return name, None
    mode = os.environ.get("WANDB_MODE") or str(lc.get("mode", "offline"))
    if mode not in WANDB_MODES:
        where = "WANDB_MODE" if os.environ.get("WANDB_MODE") else "logger.mode"
        raise ConfigError(f"unknown wandb mode {mode!r} in {where} ({' | '.join(WANDB_MODES)})")
    return name, mode


def build_loggers(cfg: DictConfig, run_dir: Path) -> list:
    """The loggers of :func:`logger_spec`."""
    lc = cfg.get("logger") or {}
    name, mode = logger_spec(cfg)
    if name == "none":
        return []
    if name == "csv":
        from actdiff.training.checkpoints import KeepingCSVLogger

        return [KeepingCSVLogger(save_dir=str(run_dir), name="logs", version=lc.get("version", ""))]
    from lightning.pytorch.loggers import WandbLogger

    return [WandbLogger(project=str(lc.get("project", "actdiff")), name=str(cfg.get("name", "run")),
                        save_dir=str(run_dir), mode=mode)]


def build_trainer(cfg: DictConfig, run_dir: Path, has_val: bool = True, callbacks: Sequence[Any] = ()) -> L.Trainer:
    """The ``Trainer`` of a fit: strategy (:func:`~actdiff.training.strategies.build_strategy`), precision,
    checkpoints every ``trainer.checkpoint_every``
    steps (+ ``last.ckpt``), loggers, and ``callbacks`` (e.g. the rate curve) after the built-in ones."""
    t = cfg.trainer
    strategy = build_strategy(t)
    ckpt = ModelCheckpoint(dirpath=str(run_dir / "checkpoints"),
                           every_n_train_steps=int(t.get("checkpoint_every", 100)),
                           save_last=True, save_top_k=-1 if t.get("keep_all_checkpoints") else 1,
                           monitor=None, filename="step{step:07d}", auto_insert_metric_name=False,
                           enable_version_counter=False)  # a moved run folder still resumes into last.ckpt
    loggers = build_loggers(cfg, run_dir)
    from actdiff.training.checkpoints import SaveConfig

    callbacks = [ckpt, SaveConfig(cfg, run_dir / "config.yaml")] + ([LearningRateMonitor("step")] if loggers else []) \
        + list(callbacks)
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
