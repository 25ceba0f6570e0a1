"""Train a model from a composed ``actdiff fit`` config (the library side of the ``fit`` verb).

The run folder (``run_dir``) gets ``config.yaml`` (resolved), ``checkpoints/`` (every
``trainer.checkpoint_every`` steps + ``last.ckpt``) and the logger's files. ``resume`` continues
from ``run_dir/checkpoints/last.ckpt``. ``export=DIR`` writes the final EMA weights with
``save_pretrained`` (safetensors) when training ends. ``init_weights=DIR`` (optional) starts a new
run from ``save_pretrained`` weights (fine-tuning). ``train.rate_curve`` (optional) adds a
:class:`~actdiff.training.callbacks.RateCurveCallback` decoding real bitstreams with the EMA model.
"""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("actdiff")


def rate_curve_callback(cfg: DictConfig) -> Any:
    """The ``train.rate_curve`` section as a callback, or ``None`` when absent/null.

    Keys: ``clips`` (video paths), ``max_frames`` (default 12), ``size`` (``[H, W]``, default the
    data crop), ``every_n_val_epochs`` (default 1), ``rate_points`` (names, default r1 r3),
    ``metrics`` (default psnr niqe).
    """
    rc = (cfg.get("train") or {}).get("rate_curve")
    if not rc:
        return None
    from actdiff.decoders.diffusion import diffusion_decoder
    from actdiff.io import read_video
    from actdiff.training.callbacks import RateCurveCallback

    size = rc.get("size") or cfg.data.get("crop")
    clips = [read_video(str(p), max_frames=int(rc.get("max_frames", 12)), resize_mode="crop",
                        size=tuple(int(v) for v in size) if size else None) for p in rc.get("clips") or []]
    return RateCurveCallback(
        every_n_val_epochs=int(rc.get("every_n_val_epochs", 1)), clips=clips,
        rate_points=list(rc.get("rate_points") or ["r1", "r3"]),
        decoder_factory=lambda module: diffusion_decoder(model=module.ema_model()),
        metrics=list(rc.get("metrics") or ["psnr", "niqe"]))


def check_decoding_defaults(model: Any) -> None:
    """``ConfigError`` now, before any folder is made or data coded, when the decoding defaults the
    weights will store (``model.sampler``: sampler, steps, noise mode, …) are ones the decoder would
    refuse; checked by building that decoder on ``model``. The decoder puts a model it is given in
    eval mode: each module's training mode is put back."""
    from actdiff.decoders.diffusion import diffusion_decoder

    modes = [(m, m.training) for m in model.modules()]
    try:
        diffusion_decoder(model=model)
    finally:
        for m, training in modes:
            m.training = training


def run_fit(cfg: DictConfig, resume: bool = False, videos: Any = None, segment_source: Any = None) -> Any:
    """Train from a composed config; returns the fitted LightningModule.

    ``task: keyframe_selector | trajectory_selector`` trains a learned selector instead
    (:func:`actdiff.training.selectors.fit_selector`), ``task: tracking_branch`` the paper decoder's
    branch (:func:`actdiff.training.branch_fit.fit_branch`); ``task`` absent or ``denoiser``: the decoder.
    ``videos``/``segment_source`` replace the configured data (tests).
    """
    from actdiff.training.checks import check_crop, check_fit_config
    from actdiff.training.trainer import check_run_setup

    check_fit_config(cfg)  # the training numbers, before anything runs
    check_run_setup(cfg)  # the run folder, logger, precision, accelerator and strategy
    task = str(cfg.get("task") or "denoiser")
    if task == "tracking_branch":
        from actdiff.training.branch_fit import fit_branch

        return fit_branch(cfg, resume=resume, videos=videos, segment_source=segment_source)
    if task != "denoiser":
        from actdiff.training.selectors import fit_selector

        return fit_selector(cfg, resume=resume, videos=videos)
    import lightning as L

    from actdiff.models.presets import frame_model_reads_prediction
    from actdiff.models.sampling import check_sampler, check_steps
    from actdiff.training.datamodule import VideoClipDataModule, local_rank
    from actdiff.training.export import export_module
    from actdiff.training.module import ConditionalDenoiser
    from actdiff.training.trainer import build_trainer, check_resume_fits, prepare_run

    L.seed_everything(int(cfg.get("seed", 0)), workers=True, verbose=False)
    # the data settings are checked as the datamodule is made (windows are coded in prepare_data)
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=videos, segment_source=segment_source,
                             prediction=frame_model_reads_prediction(cfg.model))
    optim = OmegaConf.to_container(cfg.get("optim") or {}, resolve=True)
    optim.setdefault("total_steps", int(cfg.trainer.max_steps))
    train = cfg.get("train") or {}
    module = ConditionalDenoiser(
        OmegaConf.to_container(cfg.model, resolve=True), optim, ema_decay=float(train.get("ema_decay", 0.999)),
        val_sample_frames=int(train.get("val_sample_frames", 2)),
        val_sample_steps=check_steps(train.get("val_sample_steps", 8)),
        val_sampler=check_sampler(train.get("val_sampler", "dpmsolver++")),
        shared_noise_prob=float(train.get("shared_noise_prob", 0.0)),
        temporal_loss_weight=float(train.get("temporal_loss_weight", 0.0)),
    )
    check_decoding_defaults(module.model)
    check_crop(cfg.data, module.model.size_multiple)
    run_dir = prepare_run(cfg, resume, videos)
    if resume:
        check_resume_fits(module, run_dir)
    dm.prepare_data()
    dm.setup("fit")
    if local_rank() == 0:
        from actdiff.config import save_config

        cfg.data.resolved_split = dm.split_record()  # the files each side of the split, the cache
        save_config(cfg, run_dir / "config.yaml")
    if cfg.get("init_weights") and not resume:  # fine-tuning; a resumed run has its own weights
        module.load_initial_weights(str(cfg.init_weights))
        log.warning("initialised the model from %s", cfg.init_weights)
    extra = [cb for cb in [rate_curve_callback(cfg)] if cb is not None]
    trainer = build_trainer(cfg, run_dir, has_val=len(dm.val_set) > 0, callbacks=extra)
    trainer.fit(module, datamodule=dm, ckpt_path=str(run_dir / "checkpoints" / "last.ckpt") if resume else None,
                weights_only=True)
    if cfg.get("export") and trainer.is_global_zero:
        out = export_module(module, str(cfg.export), str(cfg.get("export_dtype", "float32")))
        log.warning("exported EMA weights to %s", out)
    return module
