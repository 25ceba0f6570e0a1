"""``WanControlGenerator`` (preset ``paper-wan``): a Wan2.1 control model on the same segment interface.

The smaller sibling of the paper decoder that Diffusion-as-Shader's authors also use: a Wan2.1
"Fun-Control" transformer (1.3B) conditions on a control video by CONCATENATING its latent on the
channels — no branch. Input channels, in VideoX-Fun's order: the noisy latent, the tracking video's
latent (the control video), the keyframe latents placed first/last as for the paper model
(:func:`actdiff.models.latent_video.keyframe_latents`; Fun-Control places the start image at latent
frame 0). Wan's VAE (4× time, 8× space, latents normalised by ``latents_mean``/``latents_std``),
flow matching with ``UniPCMultistepScheduler`` (``flow_shift`` 3 at 480p), classifier-free guidance
6 between the prompt and the negative prompt (umT5 embeddings, zero-padded to ``text_length``), and,
when the transformer has an image context (``image_dim``), a zero CLIP context as VideoX-Fun uses
without a reference image.

Everything else — windows, resizing, seeds, keyframe caching, the sampling loop — is the paper
model's (:class:`~actdiff.models.paper_generator.PaperVideoGenerator`), so the decoder and the
evaluation need no special case. Weights: a folder with ``config.json``, ``transformer/``
(``WanTransformer3DModel`` in the diffusers layout, ``in_channels = 3 × z_dim``), ``vae/``
(``AutoencoderKLWan``), ``scheduler/`` and ``prompt_embeds.safetensors`` (or T5 folders). The
published Fun-Control checkpoints are in VideoX-Fun's layout: they need converting to diffusers'
(not provided here).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers.configuration_utils import register_to_config

from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.models.generator import WindowSpec
from actdiff.models.latent_video import keyframe_latents, latent_frame_count, split_conditions
from actdiff.models.paper_generator import PaperVideoGenerator
from actdiff.models.paper_io import DTYPES
from actdiff.models.prompt_embeds import PROMPT_FILE, load_prompt_embeds, save_prompt_embeds
from actdiff.registry import MODELS

WAN_SAMPLING: dict[str, Any] = {"steps": 50, "guidance_scale": 6.0, "dynamic_cfg": False, "sampler": "unipc",
                                "compile": False, "cache_latents": False}
#: The flow-matching scheduler of Wan's pipelines (``flow_shift``: 3 for 480p, 5 for 720p).
WAN_SCHEDULER = {"prediction_type": "flow_prediction", "use_flow_sigmas": True, "num_train_timesteps": 1000,
                 "flow_shift": 3.0}
CLIP_TOKENS = 257


class WanControlGenerator(PaperVideoGenerator):
    """Args: those of :class:`PaperVideoGenerator` (``max_frames`` up to Wan's 81) plus ``text_length``
    (prompt tokens, 512 in Wan's pipelines)."""

    samplers = ("unipc", "euler")
    default_sampling = WAN_SAMPLING

    @register_to_config
    def __init__(self, preset: str = "paper-wan", resolution: Sequence[int] | None = None, max_frames: int = 49,
                 dtype: str = "bfloat16", prompt: str = "", negative_prompt: str = "", prompt_source: str = "t5",
                 parts: dict[str, str] | None = None, vae_tiling: bool = False, sampling: dict[str, Any] | None = None,
                 text_length: int = 512) -> None:
        super().__init__(preset=preset, resolution=resolution, max_frames=max_frames, dtype=dtype, prompt=prompt,
                         negative_prompt=negative_prompt, prompt_source=prompt_source, parts=parts,
                         vae_tiling=vae_tiling, sampling=sampling)

    def set_parts(self, transformer: Any, vae: Any, branch: Any, scheduler: Any,
                  prompt_embeds: torch.Tensor) -> "WanControlGenerator":
        c = int(vae.config.z_dim)
        if transformer.config.in_channels != 3 * c or transformer.config.out_channels != c:
            raise ConfigError(f"the Wan transformer ({transformer.config.in_channels} -> "
                              f"{transformer.config.out_channels} channels) is not a control model of this VAE "
                              f"(needs {3 * c} -> {c}: noise, control latent, keyframe latents)")
        if branch is not None:
            raise ConfigError("a Wan control model takes its control by channels, not a branch")
        self.transformer, self.vae, self.branch, self.scheduler = transformer, vae, None, scheduler
        self.prompt_embeds = prompt_embeds.to(transformer.dtype)
        return self

    @property
    def temporal_factor(self) -> int:
        return int(self.vae.config.scale_factor_temporal)

    @property
    def spatial_factor(self) -> int:
        return int(self.vae.config.scale_factor_spatial)

    def window_spec(self) -> WindowSpec:
        mult = 1 if self.config.resolution else self.spatial_factor * int(self.transformer.config.patch_size[-1])
        return WindowSpec(max_frames=int(self.config.max_frames), frame_multiple=self.temporal_factor,
                          frame_remainder=1, size_multiple=mult)

    def describe(self) -> str:
        res = "x".join(str(v) for v in self.config.resolution) if self.config.resolution else "native"
        return (f"WanControlGenerator {self.config.preset} (Wan {len(self.transformer.blocks)} blocks, control by "
                f"channels, {res}, window {self.config.max_frames})")

    def blocks(self) -> list[torch.nn.Module]:
        return list(self.transformer.blocks)

    # -------------------------------------------------------------- latent space
    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1, 1, 1, 1)
        mean = torch.tensor(self.vae.config.latents_mean, device=like.device, dtype=like.dtype).view(shape)
        std = torch.tensor(self.vae.config.latents_std, device=like.device, dtype=like.dtype).view(shape)
        return mean, std

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        z = self.vae.encode(x.to(self.vae.dtype).permute(1, 0, 2, 3).unsqueeze(0)).latent_dist.mode()
        mean, std = self._stats(z)
        return ((z - mean) / std)[0].permute(1, 0, 2, 3)

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, 3, H, W)`` → normalised latent ``(F, C, h, w)``."""
        return self._encode(x)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """``(1, 3, H, W)`` → normalised latent ``(C, h, w)``."""
        return self._encode(x)[0]

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        z = z.permute(1, 0, 2, 3).unsqueeze(0).to(self.vae.dtype)
        mean, std = self._stats(z)
        return self.vae.decode(z * std + mean).sample[0].permute(1, 0, 2, 3)

    def condition_latents(self, cond: torch.Tensor, cache: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(keyframe latents (F, C, h, w), control latent (F, C, h, w))``."""
        g = split_conditions(cond, tuple(self.config.resolution) if self.config.resolution else None)
        n = latent_frame_count(cond.shape[0], self.temporal_factor)
        image = keyframe_latents(g["key"], g["key_mask"], self.encode_image, n, self.latent_cache if cache else None)
        return image, self.encode_video(g["track"])

    def predict(self, latents: torch.Tensor, timestep: torch.Tensor, image: torch.Tensor, control: torch.Tensor,
                prompt: torch.Tensor) -> torch.Tensor:
        """Flow prediction ``(B, F, C, h, w)``; the transformer reads ``(B, 3C, F, h, w)``."""
        x = torch.cat([latents, control, image], dim=2).permute(0, 2, 1, 3, 4)
        clip = None
        if self.transformer.config.image_dim:
            clip = x.new_zeros(x.shape[0], CLIP_TOKENS, int(self.transformer.config.image_dim))
        out = self.transformer(hidden_states=x, timestep=timestep, encoder_hidden_states=prompt,
                               encoder_hidden_states_image=clip, return_dict=False)[0]
        return out.permute(0, 2, 1, 3, 4)

    def _make_scheduler(self, name: str) -> Any:
        from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

        if name == "unipc":
            return UniPCMultistepScheduler.from_config(self.scheduler.config)
        return FlowMatchEulerDiscreteScheduler(shift=float(self.scheduler.config.get("flow_shift", 3.0)))

    # ------------------------------------------------------------------ weights
    @classmethod
    def from_pretrained(cls, folder: str, torch_dtype: torch.dtype | None = None, **_: Any) -> "WanControlGenerator":
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            raise MissingWeightsError(f"paper-wan weights not found in {path} (needs config.json + transformer/ vae/ "
                                      "scheduler/ and prompt embeddings; see docs/paper_decoder.md)")
        model = cls.from_config(cls.load_config(str(path)))
        dtype = torch_dtype or DTYPES[model.config.dtype]
        parts = {}
        for name, kind, what in (("transformer", WanTransformer3DModel, "WanTransformer3DModel"),
                                 ("vae", AutoencoderKLWan, "AutoencoderKLWan"),
                                 ("scheduler", UniPCMultistepScheduler, "scheduler_config.json")):
            sub = path / ((model.config.parts or {}).get(name, name))
            if not sub.is_dir():
                raise MissingWeightsError(f"paper-wan: {name} not found at {sub} (needs {what} in diffusers' layout)")
            if name == "transformer":
                parts[name] = load_wan_transformer(sub, dtype)
            else:
                parts[name] = kind.from_pretrained(str(sub), **({} if name == "scheduler" else
                                                                {"torch_dtype": dtype, "low_cpu_mem_usage": False}))
        t = parts["transformer"]
        cfg = model.config
        prompts = load_prompt_embeds(path, cfg.prompt_source, cfg.prompt, cfg.negative_prompt, int(cfg.text_length),
                                     int(t.config.text_dim), zero_padding=True)
        model.set_parts(t, parts["vae"], None, parts["scheduler"], prompts)
        return model.eval()

    def save_pretrained(self, folder: str, copy_base: bool = True, **_: Any) -> None:
        out = Path(folder).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        self.transformer.save_pretrained(str(out / "transformer"), safe_serialization=True)
        self.vae.save_pretrained(str(out / "vae"), safe_serialization=True)
        self.scheduler.save_pretrained(str(out / "scheduler"))
        if self.config.prompt_source != "zeros":
            save_prompt_embeds(out / PROMPT_FILE, self.prompt_embeds.float().cpu(), self.config.prompt,
                               self.config.negative_prompt)
        self.register_to_config(parts={"transformer": "transformer", "vae": "vae", "scheduler": "scheduler"})
        self.save_config(str(out))


def load_wan_transformer(folder: Path, dtype: torch.dtype) -> Any:
    """``WanTransformer3DModel`` from a diffusers folder, its ``_keep_in_fp32_modules`` kept in float32
    (read directly: diffusers' own path for such models needs ``accelerate``)."""
    from diffusers import WanTransformer3DModel

    from actdiff.models.tracking_branch import _weight_files, read_tensors

    model = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(str(folder)))
    model.load_state_dict(read_tensors(_weight_files(folder), ("",)), strict=True)
    keep = set(WanTransformer3DModel._keep_in_fp32_modules or ())
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        p.data = p.data.to(torch.float32 if keep & set(name.split(".")) else dtype)
    return model


@MODELS.register("paper-wan")
def build_wan_preset(cfg: Any) -> WanControlGenerator:
    """Builder ``paper-wan``: random weights from ``random_parts`` (``configs/model/paper_wan_tiny.yaml``),
    or a weights folder (``weights``) in the layout of :meth:`WanControlGenerator.from_pretrained`."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from omegaconf import DictConfig, OmegaConf

    c = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    if c.get("weights"):
        return WanControlGenerator.from_pretrained(str(c["weights"]))
    if not c.get("random_parts"):
        raise ConfigError("model preset paper-wan needs model.weights (a paper-wan folder) or model.random_parts")
    keys = ("resolution", "max_frames", "dtype", "prompt", "negative_prompt", "prompt_source", "sampling",
            "text_length")
    torch.manual_seed(int(c.get("seed", 0)))
    model = WanControlGenerator(preset=str(c.get("preset", "paper-wan")), **{k: c[k] for k in keys if k in c})
    dtype = DTYPES[model.config.dtype]
    with torch.device(str(c.get("device") or "cpu")):   # where the random weights are made
        t = WanTransformer3DModel(**c["random_parts"]["transformer"])
        vae = AutoencoderKLWan(**c["random_parts"]["vae"])
    if dtype != torch.float32:
        t, vae = t.to(dtype), vae.to(dtype)
    shape = (2, int(model.config.text_length), int(t.config.text_dim))
    prompts = torch.zeros(shape) if model.config.prompt_source == "zeros" else torch.randn(shape)
    return model.set_parts(t, vae, None, UniPCMultistepScheduler(**WAN_SCHEDULER), prompts).eval()
