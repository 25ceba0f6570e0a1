"""Build a :class:`VideoControlledDenoiser` from a ``configs/model/*_video.yaml`` config (builder ``video``).

The config is a 2D preset's (``defaults: [tiny]`` …) plus:

* ``frame_builder``: the 2D builder of the model that is inflated (``unet``, default, or ``sd``);
* ``init_from``: a trained 2D model's ``save_pretrained`` folder, or the name of a folder under
  ``actdiff/assets/weights/`` (``tiny``: the shipped model); its weights and config (UNet, noise
  schedule, sampler defaults) are used instead of the config's; ``null``: the 2D model is built
  from the config (random weights);
* ``temporal``: ``kind`` (attention | animatediff), ``head_dim``, ``groups`` (down/mid/up),
  ``positional``;
* ``window.max_frames``: the longest window;
* ``residual_base``: ``pred`` | ``blend``;
* ``train_parts``: ``all`` | ``temporal`` | ``temporal+control``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from actdiff.errors import MissingWeightsError
from actdiff.models.denoiser import ControlledDenoiser
from actdiff.models.loading import readable_weights
from actdiff.models.video_denoiser import VideoControlledDenoiser, freeze_for_inflation
from actdiff.registry import MODELS

#: Folder of the weights shipped with the package.
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "weights"


def resolve_weights(name: str) -> Path:
    """A weights folder from a path or a name under :data:`ASSETS`; one-line error when absent."""
    for folder in (Path(name).expanduser(), ASSETS / name):
        if (folder / "config.json").is_file():
            return folder
    raise MissingWeightsError(f"2D weights to inflate not found: {name!r} is neither a save_pretrained folder "
                              f"nor one of {ASSETS} (set model.init_from=DIR or null for random weights)")


@MODELS.register("video")
def build_video_preset(cfg: DictConfig) -> VideoControlledDenoiser:
    """Inflate the 2D model described by ``cfg`` (or loaded from ``cfg.init_from``); the decoding
    defaults it stores (``default_sampler``) are the frame model's with ``cfg.sampler`` over them."""
    t = cfg.get("temporal") or {}
    video_kwargs = {
        "temporal_kind": str(t.get("kind", "attention")),
        "temporal_head_dim": int(t.get("head_dim", 32)),
        "temporal_groups": list(t.get("groups", ["down", "mid", "up"])),
        "temporal_positional": bool(t.get("positional", False)),
        "max_frames": int((cfg.get("window") or {}).get("max_frames", 16)),
        "residual_base": str(cfg.get("residual_base", "pred")),
        "preset": str(cfg.get("preset")) if cfg.get("preset") else None,
    }
    if cfg.get("init_from"):
        folder = resolve_weights(str(cfg.init_from))
        with readable_weights(folder):  # a damaged folder: one line, not a traceback
            frame = ControlledDenoiser.from_pretrained(str(folder), use_safetensors=True,
                                                       low_cpu_mem_usage=False).float()
    else:
        # the frame model of the per-frame layout (20 channels); the video model's residual_base is its own
        plain = OmegaConf.merge(cfg, {"builder": str(cfg.get("frame_builder", "unet")), "residual_base": "blend"})
        frame = MODELS.build(str(plain.builder), cfg=plain)
    # the decoding defaults stored with the weights: the frame model's, under the config's model.sampler
    given = OmegaConf.to_container(cfg.sampler, resolve=True) if cfg.get("sampler") else {}
    sampler = {k: v for k, v in given.items() if v is not None}
    video_kwargs["default_sampler"] = {**dict(frame.config.get("default_sampler") or {}), **sampler}
    model = VideoControlledDenoiser.from_frame_model(frame, **video_kwargs)
    freeze_for_inflation(model, str(cfg.get("train_parts", "all")))
    return model
