"""The ``paper`` model preset: build :class:`~actdiff.models.paper_generator.PaperVideoGenerator` from a config.

* :func:`build_from_parts_config` (builder ``paper``, ``configs/model/paper.yaml``): base
  transformer + VAE from a local folder or hub id (a hub id only from the local cache unless
  ``allow_download``), the branch from a Diffusion-as-Shader checkpoint, a ``branch`` folder, or
  new (copied from the base's first blocks, joins at zero);
* :func:`random_paper` — random weights from ``random_parts`` (``configs/model/paper_tiny.yaml``
  for tests, ``paper_random5b.yaml`` for the GPU benchmark at the real sizes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.models.paper_generator import PaperVideoGenerator
from actdiff.models.paper_io import DTYPES, load_scheduler
from actdiff.models.prompt_embeds import load_prompt_embeds
from actdiff.models.tracking_branch import TrackingBranch, from_das_checkpoint, is_das_checkpoint
from actdiff.registry import MODELS


def _cast(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    return module if dtype == torch.float32 else module.to(dtype)


def random_paper(random_parts: dict[str, Any], seed: int = 0, device: str = "cpu",
                 **config: Any) -> PaperVideoGenerator:
    """A generator with random weights: ``random_parts`` = ``{transformer: kwargs, vae: kwargs,
    num_tracking_blocks: K}`` (diffusers constructor kwargs); ``config``: the generator's config.
    The branch is copied from the base (joins at zero) like a new branch; the prompt embeddings are
    zeros unless ``config['prompt_source']`` says otherwise (then random, stated as such). ``device``:
    where the weights are made (``cuda``: a 5B model initialises in seconds)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel

    torch.manual_seed(seed)
    model = PaperVideoGenerator(**config)
    dtype = DTYPES[model.config.dtype]
    with torch.device(device):
        transformer = _cast(CogVideoXTransformer3DModel(**random_parts["transformer"]), dtype)
        vae = _cast(AutoencoderKLCogVideoX(**random_parts["vae"]), dtype)
        branch = TrackingBranch.from_transformer(transformer, int(random_parts.get("num_tracking_blocks", 1)))
    shape = (2, int(transformer.config.max_text_seq_length), int(transformer.config.text_embed_dim))
    prompts = torch.zeros(shape) if model.config.prompt_source == "zeros" else torch.randn(shape)
    return model.set_parts(transformer, vae, branch, load_scheduler(None), prompts).eval()


# ------------------------------------------------------------------------ the model preset
def _from_source(cls: Any, source: str, subfolder: str, allow_download: bool, dtype: torch.dtype) -> Any:
    local = Path(source).expanduser()
    try:
        if local.is_dir():
            return cls.from_pretrained(str(local), subfolder=subfolder, torch_dtype=dtype, low_cpu_mem_usage=False)
        return cls.from_pretrained(source, subfolder=subfolder, torch_dtype=dtype, local_files_only=not allow_download)
    except (OSError, ValueError) as e:
        raise MissingWeightsError(f"paper decoder: {subfolder} not found at {source!r} ({type(e).__name__}): put a "
                                  f"diffusers folder with {subfolder}/ there (see docs/paper_decoder.md) or set "
                                  "model.allow_download=true when the hub is reachable") from None


def build_from_parts_config(cfg: dict[str, Any]) -> PaperVideoGenerator:
    """The ``paper`` preset from its model config (``configs/model/paper.yaml``; see there)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel

    check_generator_config(cfg)
    gen_cfg = {k: cfg[k] for k in ("resolution", "max_frames", "dtype", "prompt", "negative_prompt", "prompt_source",
                                   "vae_tiling", "sampling") if k in cfg}
    gen_cfg["preset"] = str(cfg.get("preset", "paper"))
    if cfg.get("random_parts"):
        return random_paper(dict(cfg["random_parts"]), int(cfg.get("seed", 0)), str(cfg.get("device") or "cpu"),
                            **gen_cfg)
    dtype = DTYPES[str(cfg.get("dtype", "bfloat16"))]
    source, allow = str(cfg["pretrained"]), bool(cfg.get("allow_download", False))
    das = cfg.get("das_transformer")
    if das and not is_das_checkpoint(Path(str(das)).expanduser()):
        raise MissingWeightsError(f"model.das_transformer={das} is not a Diffusion-as-Shader transformer folder "
                                  f"(config.json with _class_name {json.dumps('CogVideoXTransformer3DModelTracking')})")
    if das:
        transformer = CogVideoXTransformer3DModel.from_pretrained(str(Path(str(das)).expanduser()), torch_dtype=dtype,
                                                                  low_cpu_mem_usage=False)
        branch = from_das_checkpoint(Path(str(das)).expanduser()).to(dtype)
    else:
        transformer = _from_source(CogVideoXTransformer3DModel, source, "transformer", allow, dtype)
        if cfg.get("branch"):
            branch = TrackingBranch.from_pretrained(str(Path(str(cfg["branch"])).expanduser()), torch_dtype=dtype)
        else:
            branch = TrackingBranch.from_transformer(transformer, int(cfg.get("num_tracking_blocks", 18)))
    vae = _from_source(AutoencoderKLCogVideoX, source, "vae", allow, dtype)
    local = Path(source).expanduser()
    scheduler = load_scheduler(local / "scheduler" if local.is_dir() else None)
    prompts = load_prompt_embeds(local if local.is_dir() else None, str(cfg.get("prompt_source", "t5")),
                                 str(cfg.get("prompt", "")), str(cfg.get("negative_prompt", "")),
                                 int(transformer.config.max_text_seq_length), int(transformer.config.text_embed_dim))
    model = PaperVideoGenerator(**gen_cfg).set_parts(transformer, vae, branch, scheduler, prompts)
    if local.is_dir():
        model.sources = {"transformer": str((local / "transformer").resolve()), "vae": str((local / "vae").resolve())}
    return model


def check_generator_config(cfg: dict[str, Any]) -> None:
    """``ConfigError`` for a ``paper`` model section that can build nothing."""
    if not cfg.get("random_parts") and not cfg.get("pretrained"):
        raise ConfigError("model preset paper needs model.pretrained (a CogVideoX image-to-video folder or hub id: "
                          "transformer/, vae/, scheduler/) or model.random_parts")


@MODELS.register("paper")
def build_paper_preset(cfg: Any) -> PaperVideoGenerator:
    """Model builder ``paper`` (``configs/model/paper*.yaml``)."""
    from omegaconf import DictConfig, OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    return build_from_parts_config(plain)


def write_paper_folder(folder: str | Path, base: str | Path | None = None, das: str | Path | None = None,
                       branch: str | Path | None = None, text: str | Path | None = None, **config: Any) -> Path:
    """Make ``folder`` a paper weights folder without copying weights: write ``config.json`` naming the
    parts (``base``: a CogVideoX I2V diffusers folder for ``transformer/``, ``vae/``, ``scheduler/``;
    ``das``: a Diffusion-as-Shader transformer folder for the transformer and branch; ``branch``: a
    TrackingBranch folder; default: the parts inside ``folder``) and ``prompt_embeds.safetensors``
    encoded with the T5 in ``text`` (default: ``base``, else ``folder``; needs ``text_encoder/`` and
    ``tokenizer/``). ``config``: :class:`PaperVideoGenerator` settings (prompt, negative_prompt …)."""
    from actdiff.models.prompt_embeds import PROMPT_FILE, encode_prompts, save_prompt_embeds

    folder = Path(folder).expanduser().resolve()
    root = Path(base).expanduser().resolve() if base else folder
    parts = {"transformer": str(root / "transformer"), "vae": str(root / "vae"), "scheduler": str(root / "scheduler"),
             "branch": str(folder / "branch")}
    if das:
        parts["transformer"] = str(Path(das).expanduser().resolve())
    if branch:
        parts["branch"] = str(Path(branch).expanduser().resolve())
    for name in ("transformer", "vae", "scheduler"):
        if not Path(parts[name]).is_dir():
            raise MissingWeightsError(f"{name} folder not found: {parts[name]} (see docs/paper_decoder.md)")
    if not (Path(parts["branch"]) / "config.json").is_file() and not is_das_checkpoint(parts["transformer"]):
        raise MissingWeightsError(f"no tracking branch: {parts['branch']} is not a branch folder and "
                                  f"{parts['transformer']} is not a Diffusion-as-Shader transformer")
    model = PaperVideoGenerator(parts=parts, **config)
    tcfg = json.loads((Path(parts["transformer"]) / "config.json").read_text())
    text_root = Path(text).expanduser() if text else root
    if model.config.prompt_source == "t5":
        embeds = encode_prompts(text_root, [model.config.negative_prompt, model.config.prompt],
                                int(tcfg.get("max_text_seq_length", 226)))
        folder.mkdir(parents=True, exist_ok=True)
        save_prompt_embeds(folder / PROMPT_FILE, embeds, model.config.prompt, model.config.negative_prompt)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_config(str(folder))
    return folder
