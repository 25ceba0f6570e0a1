"""``task: tracking_branch`` — fine-tune the paper decoder's tracking branch (``actdiff fit``).

The model is built from the ``model`` group (builder ``paper``: CogVideoX I2V base + a branch from
a DaS checkpoint, a ``branch`` folder or new), the data by the corpus pipeline with the real codec
(:class:`~actdiff.training.segment_windows.SegmentWindowDataModule`), the trainer by
:func:`~actdiff.training.trainer.build_trainer` (DDP / FSDP / DeepSpeed from ``trainer.strategy``).
``export=DIR`` writes a decodable weights folder when training ends: ``config.json``, ``branch/``,
``scheduler/`` and ``prompt_embeds.safetensors``, the base parts referenced by their folders
(``export_copy_base: true`` copies them); an existing folder is replaced once the new one is
complete. Recipe: ``configs/experiment/finetune_paper_branch.yaml``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("actdiff")


def _full_params(trainer: Any) -> Any:
    """A context gathering FSDP-sharded parameters on rank 0 (a no-op for other strategies)."""
    from lightning.pytorch.strategies import FSDPStrategy

    if not isinstance(trainer.strategy, FSDPStrategy):
        return contextlib.nullcontext()
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    return FSDP.summon_full_params(trainer.strategy.model, writeback=False, rank0_only=True, offload_to_cpu=True)


def check_fsdp_dtype(model: Any, trainer_cfg: Any) -> None:
    """FSDP flattens the parameters of a unit into one tensor of one dtype, and the root unit holds
    frozen base layers and trained branch layers: under FSDP the whole model must be float32 (FSDP
    then computes in bf16 from ``trainer.precision=bf16-mixed``)."""
    from actdiff.errors import ConfigError
    from actdiff.training.strategies import strategy_spec

    if strategy_spec(trainer_cfg)[0] == "fsdp" and str(model.transformer.dtype) != "torch.float32":
        raise ConfigError("trainer.strategy=fsdp shards float32 parameters: set model.dtype=float32 "
                          "(computation stays bf16 with trainer.precision=bf16-mixed)")


def fit_branch(cfg: DictConfig, resume: bool = False, videos: Any = None, segment_source: Any = None) -> Any:
    """Train the tracking branch from a composed config; returns the fitted module."""
    import lightning as L

    from actdiff.training.branch_module import TrackingBranchModule, check_precision
    from actdiff.training.datamodule import local_rank
    from actdiff.training.segment_windows import SegmentWindowDataModule
    from actdiff.training.trainer import build_trainer, prepare_run

    run_dir = prepare_run(cfg, resume, videos)
    L.seed_everything(int(cfg.get("seed", 0)), workers=True, verbose=False)
    optim = OmegaConf.to_container(cfg.get("optim") or {}, resolve=True)
    optim.setdefault("total_steps", int(cfg.trainer.max_steps))
    train = cfg.get("train") or {}
    module = TrackingBranchModule(OmegaConf.to_container(cfg.model, resolve=True), optim,
                                  val_sample_steps=int(train.get("val_sample_steps", 4)),
                                  val_samples=int(train.get("val_samples", 0)))
    check_precision(module.model, cfg.trainer.get("precision", "32"))
    check_fsdp_dtype(module.model, cfg.trainer)
    dm = SegmentWindowDataModule(cfg.data, cfg.codec, module.model.window_spec(), layout="latent", videos=videos,
                                 segment_source=segment_source)
    dm.prepare_data()
    dm.setup("fit")
    if local_rank() == 0:
        from actdiff.config import save_config

        cfg.data.resolved_split = dm.split_record()
        save_config(cfg, run_dir / "config.yaml")
    trainer = build_trainer(cfg, run_dir, has_val=len(dm.val_set) > 0)
    trainer.fit(module, datamodule=dm, ckpt_path=str(run_dir / "checkpoints" / "last.ckpt") if resume else None)
    if cfg.get("export"):
        with _full_params(trainer):
            if trainer.is_global_zero:
                from actdiff.io.files import atomic_output

                with atomic_output(str(cfg.export), overwrite=True, what="export folder") as tmp:  # whole or none
                    module.model.save_pretrained(str(tmp), copy_base=bool(cfg.get("export_copy_base", False)))
                log.warning("exported the paper decoder (trained branch) to %s", cfg.export)
    return module
