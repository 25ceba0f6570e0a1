"""``actdiff fit`` with ``task: keyframe_selector | trajectory_selector``: build the samples,
train the selector's LightningModule, export its net."""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import lightning as L
import numpy as np
from omegaconf import DictConfig

from actdiff.errors import ConfigError
from actdiff.training.selectors.datamodules import KeyframeSelectorData, TrajectorySelectorData
from actdiff.training.selectors.export import check_export_folder, export_selector
from actdiff.training.selectors.modules import MODULES, KeyframeSelectorModule, TrajectorySelectorModule
from actdiff.training.selectors.samples import check_label, plain
from actdiff.types import Video

log = logging.getLogger("actdiff.training")

TASKS = ("denoiser", "keyframe_selector", "trajectory_selector")


def fit_selector(cfg: DictConfig, resume: bool = False, videos: Optional[Sequence[Video]] = None) -> L.LightningModule:
    """Train the selector named by ``cfg.task`` (``videos``: in-memory videos instead of
    ``data.sources``); returns the fitted module. With ``cfg.export`` the net is written to that
    folder when training ends (:func:`export_selector`)."""
    from actdiff.training.trainer import build_trainer, prepare_run

    task = str(cfg.get("task"))
    if task not in MODULES:
        raise ConfigError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    export = cfg.get("export")
    if export:
        check_export_folder(str(export))
    if task == "keyframe_selector":
        check_label(cfg.data)  # before the run folder; the samples check it after the first clip's flows
    run_dir = prepare_run(cfg, resume, videos)
    L.seed_everything(int(cfg.get("seed", 0)), workers=True, verbose=False)
    model = plain(cfg.model)
    optim = plain(cfg.get("optim") or {})
    if task == "keyframe_selector":
        dm = KeyframeSelectorData(cfg.data, cfg.codec, tuple(model.get("feature_size", (64, 96))), videos=videos)
        dm.setup("fit")
        pos = dm.positive_fraction()
        log.warning("keyframe selector: %d samples, %.0f%% labelled reconstructible", len(dm.train_set), 100 * pos)
        if pos in (0.0, 1.0):
            log.warning("keyframe selector: every training label is %s, so the classifier can only learn a constant; "
                        "add clips with harder motion or cuts, a longer data.horizon, or data.label=splat_psnr",
                        "reconstructible" if pos else "not reconstructible")
        module = KeyframeSelectorModule(model, optim, pos_weight=float(np.clip((1 - pos) / max(pos, 1e-3), 0.1, 10.0)))
    else:
        dm = TrajectorySelectorData(cfg.data, cfg.codec, int(model.get("work_pixels", 6144)), videos=videos)
        dm.setup("fit")
        module = TrajectorySelectorModule(model, optim)
    trainer = build_trainer(cfg, run_dir, has_val=len(dm.val_set) > 0)
    trainer.fit(module, datamodule=dm, ckpt_path=str(run_dir / "checkpoints" / "last.ckpt") if resume else None,
                weights_only=True)
    if export and trainer.is_global_zero:
        out = export_selector(module, str(export))
        log.warning("exported %s weights to %s", task, out)
    return module


__all__ = ["TASKS", "fit_selector"]
