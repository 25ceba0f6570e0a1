"""Load and save the parts of :class:`~actdiff.models.paper_generator.PaperVideoGenerator`.

* :func:`load_parts` — the parts named by a weights folder's ``config.json`` (see the generator's
  module doc); a missing part is a one-line :class:`~actdiff.errors.MissingWeightsError` naming the
  folder and what goes in it. Never downloads.
* :func:`save_parts` — ``save_pretrained``: every part in its subfolder, or (``copy_base=False``)
  only the branch, scheduler and prompt embeddings, the config pointing at the base's folders.

Building the model from a ``configs/model/paper*.yaml`` config: :mod:`actdiff.models.paper_presets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from actdiff.errors import MissingWeightsError
from actdiff.models.prompt_embeds import PROMPT_FILE, load_prompt_embeds, save_prompt_embeds
from actdiff.models.tracking_branch import TrackingBranch, from_das_checkpoint, is_das_checkpoint

PARTS = ("transformer", "vae", "branch", "scheduler")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: What each part folder holds (for the error messages).
WHAT = {"transformer": "a CogVideoX image-to-video transformer (diffusers: config.json + *.safetensors) or the "
                       "Diffusion-as-Shader transformer",
        "vae": "AutoencoderKLCogVideoX (config.json + *.safetensors)",
        "branch": "a TrackingBranch save_pretrained folder",
        "scheduler": "scheduler_config.json of CogVideoX"}
#: CogVideoX-5B-I2V's scheduler (used for random models and when a config gives none).
COGVIDEOX_SCHEDULER = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
                       "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "v_prediction",
                       "rescale_betas_zero_snr": True, "set_alpha_to_one": True, "snr_shift_scale": 1.0,
                       "steps_offset": 0, "timestep_spacing": "trailing"}


def _part_folder(folder: Path, parts: dict[str, str] | None, name: str) -> Path:
    rel = (parts or {}).get(name, name)
    p = Path(rel).expanduser()
    return p if p.is_absolute() else folder / p


def _need(path: Path, name: str, file: str = "config.json") -> Path:
    if not (path / file).is_file():
        raise MissingWeightsError(f"paper decoder: {name} not found at {path} (needs {file}: {WHAT[name]}); "
                                  "see docs/paper_decoder.md")
    return path


def load_scheduler(path: Path | None) -> Any:
    """``CogVideoXDPMScheduler`` from ``path/scheduler_config.json`` (``None``: CogVideoX-5B's)."""
    from diffusers import CogVideoXDPMScheduler

    if path is None:
        return CogVideoXDPMScheduler.from_config(COGVIDEOX_SCHEDULER)
    return CogVideoXDPMScheduler.from_pretrained(str(_need(path, "scheduler", "scheduler_config.json")))


def load_parts(folder: str | Path, config: Any, dtype: torch.dtype) -> dict[str, Any]:
    """The parts of the generator saved in ``folder`` (``config``: its loaded config), in ``dtype``:
    ``transformer``, ``vae``, ``branch``, ``scheduler``, ``prompt_embeds`` and ``sources`` (the base
    parts' folders)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel

    folder = Path(folder).expanduser()
    parts = config.get("parts")
    tpath = _need(_part_folder(folder, parts, "transformer"), "transformer")
    vpath = _need(_part_folder(folder, parts, "vae"), "vae")
    transformer = CogVideoXTransformer3DModel.from_pretrained(str(tpath), torch_dtype=dtype, low_cpu_mem_usage=False)
    vae = AutoencoderKLCogVideoX.from_pretrained(str(vpath), torch_dtype=dtype, low_cpu_mem_usage=False)
    bpath = _part_folder(folder, parts, "branch")
    if (bpath / "config.json").is_file():
        branch = TrackingBranch.from_pretrained(str(bpath), torch_dtype=dtype, low_cpu_mem_usage=False)
    elif is_das_checkpoint(tpath):
        branch = from_das_checkpoint(tpath).to(dtype)
    else:
        raise MissingWeightsError(f"paper decoder: no tracking branch at {bpath} and {tpath} is not a "
                                  f"Diffusion-as-Shader transformer ({WHAT['branch']}; see docs/paper_decoder.md)")
    prompts = load_prompt_embeds(folder, str(config.get("prompt_source", "t5")), str(config.get("prompt", "")),
                                 str(config.get("negative_prompt", "")), int(transformer.config.max_text_seq_length),
                                 int(transformer.config.text_embed_dim))
    return {"transformer": transformer, "vae": vae, "branch": branch, "prompt_embeds": prompts,
            "scheduler": load_scheduler(_part_folder(folder, parts, "scheduler")),
            "sources": {"transformer": str(tpath.resolve()), "vae": str(vpath.resolve())}}


def save_parts(model: Any, folder: str | Path, copy_base: bool = True) -> Path:
    """Write ``model`` to ``folder``; ``copy_base=False`` writes the branch, scheduler and prompt
    embeddings only and records the base parts' folders (absolute) in ``config.json``."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    parts = {}
    for name in ("transformer", "vae"):
        if copy_base or name not in model.sources:
            getattr(model, name).save_pretrained(str(folder / name), safe_serialization=True)
            parts[name] = name
        else:
            parts[name] = model.sources[name]
    model.branch.save_pretrained(str(folder / "branch"), safe_serialization=True)
    model.scheduler.save_pretrained(str(folder / "scheduler"))
    parts.update(branch="branch", scheduler="scheduler")
    if model.config.prompt_source != "zeros":
        save_prompt_embeds(folder / PROMPT_FILE, model.prompt_embeds.float().cpu(), model.config.prompt,
                           model.config.negative_prompt)
    model.register_to_config(parts=parts)
    model.save_config(str(folder))
    return folder
