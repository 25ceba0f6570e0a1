"""Build a :class:`ControlledDenoiser` from a ``configs/model/*.yaml`` config.

* ``tiny`` / ``small`` / micro configs: base UNet described in ``model.unet`` (diffusers
  kwargs), space-to-depth latent, everything trained.
* ``sd``: base UNet + VAE loaded with diffusers ``from_pretrained`` from ``model.pretrained``
  (a hub id or a local diffusers folder with ``unet/`` and ``vae/``); base frozen, only the
  control branch (and null context) trains. Offline and missing → ``MissingWeightsError``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from actdiff.conditioning.conditions import num_channels
from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.models.denoiser import ControlledDenoiser
from actdiff.registry import MODELS


def _plain(x: Any) -> Any:
    return OmegaConf.to_container(x, resolve=True) if isinstance(x, DictConfig) else x


def _common_kwargs(cfg: DictConfig) -> dict[str, Any]:
    return {
        "conditioning_channels": num_channels(str(cfg.get("residual_base", "blend")) == "pred"),
        "conditioning_embedding_out_channels": tuple(cfg.conditioning_embedding_out_channels),
        "null_tokens": int(cfg.get("null_tokens", 4)),
        "vision_config": _plain(cfg.get("vision")),
        "prediction_type": str(cfg.get("prediction_type", "epsilon")),
        "residual_over_warp": bool(cfg.get("residual_over_warp", False)),
        "residual_base": str(cfg.get("residual_base", "blend")),
        "residual_scale": float(cfg.get("residual_scale", 1.0)),
        "noise_schedule": _plain(cfg.get("noise_schedule")) or {},
        "default_sampler": _plain(cfg.get("sampler")) or {},
    }


def frame_model_reads_prediction(cfg: DictConfig) -> bool:
    """Whether the 2D model of config ``cfg`` (builders ``unet``/``sd``) reads the per-frame
    conditions with the ``pred`` group (``residual_base: pred``); ``False`` for other builders,
    whose conditions have their own layout."""
    return str(cfg.get("builder", "unet")) in ("unet", "sd") and str(cfg.get("residual_base", "blend")) == "pred"


@MODELS.register("unet")
def build_unet_preset(cfg: DictConfig) -> ControlledDenoiser:
    """Space-to-depth preset (``tiny``, ``small``, micro) from ``cfg.unet`` kwargs."""
    if cfg.get("unet") is None:
        raise ConfigError(f"model preset {cfg.get('preset')!r} needs a model.unet section")
    unet = dict(_plain(cfg.unet))
    f = int(cfg.get("latent_factor", 4))
    unet.setdefault("in_channels", 3 * f * f)
    unet.setdefault("out_channels", 3 * f * f)
    return ControlledDenoiser(unet_config=unet, latent="space_to_depth", latent_factor=f,
                              freeze_base=bool(cfg.get("freeze_base", False)), **_common_kwargs(cfg))


def _load_pretrained(cls, source: str, subfolder: str, allow_download: bool):
    local = Path(source).expanduser()
    try:
        if local.is_dir():  # safetensors only: a pickled .bin could run code
            return cls.from_pretrained(str(local), subfolder=subfolder, use_safetensors=True)
        return cls.from_pretrained(source, subfolder=subfolder, local_files_only=not allow_download,
                                   use_safetensors=True)
    except (OSError, ValueError) as e:
        raise MissingWeightsError(
            f"pretrained {subfolder} weights not found at {source!r} ({type(e).__name__}): put a diffusers "
            f"folder with {subfolder}/ there, set model.pretrained=/path/to/folder, or "
            f"model.allow_download=true when the hub is reachable"
        ) from None


@MODELS.register("sd")
def build_sd_preset(cfg: DictConfig) -> ControlledDenoiser:
    """Stable-Diffusion-style base (UNet + VAE from ``cfg.pretrained``), frozen; control trained."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    source = str(cfg.pretrained)
    allow = bool(cfg.get("allow_download", False))
    unet = _load_pretrained(UNet2DConditionModel, source, str(cfg.get("unet_subfolder", "unet")), allow)
    vae = _load_pretrained(AutoencoderKL, source, str(cfg.get("vae_subfolder", "vae")), allow)
    scaling = float(getattr(vae.config, "scaling_factor", 0.18215))
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    model = ControlledDenoiser(
        unet_config=dict(unet.config), latent="vae", latent_factor=factor, vae_config=dict(vae.config),
        vae_scaling_factor=scaling, freeze_base=bool(cfg.get("freeze_base", True)), **_common_kwargs(cfg),
    )
    model.unet.load_state_dict(unet.state_dict())
    model.vae.load_state_dict(vae.state_dict())
    model.copy_base_into_control()
    return model


#: Builders registered by modules imported on first use (they pull in heavier models).
LAZY_BUILDERS = {"video": "actdiff.models.video_presets", "paper": "actdiff.models.paper_presets",
                 "paper-wan": "actdiff.models.wan_generator"}


def build_model(cfg: DictConfig) -> ControlledDenoiser:
    """``cfg`` = the ``model`` group. ``cfg.builder``: ``unet`` (default), ``sd``, ``video``
    (:mod:`actdiff.models.video_presets`), ``paper`` (:mod:`actdiff.models.paper_presets`) or
    ``paper-wan`` (:mod:`actdiff.models.wan_generator`)."""
    builder = str(cfg.get("builder", "sd" if cfg.get("preset") == "sd" else "unet"))
    if builder in LAZY_BUILDERS:
        importlib.import_module(LAZY_BUILDERS[builder])  # registers the builder
    model = MODELS.build(builder, cfg=cfg)
    model.set_gradient_checkpointing(bool(cfg.get("gradient_checkpointing", False)))
    return model
