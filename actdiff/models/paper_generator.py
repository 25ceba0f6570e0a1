"""``PaperVideoGenerator``: the published decoder — CogVideoX image-to-video + a Diffusion-as-Shader tracking branch.

One window of ``T = 8k + 1 ≤ 49`` frames (CogVideoX's VAE decodes odd latent lengths only) is generated
at a time (:class:`~actdiff.models.generator.SegmentGenerator`):

1. the conditions' ``key``/``key_mask``/``track`` groups are resized to the model's resolution
   (480×720 for CogVideoX-5B-I2V, whose learned positional embeddings fix it);
2. the keyframes become CogVideoX image latents placed bidirectionally — the start keyframe's
   latent at latent frame 0, the end keyframe's at the last latent frame, zeros between
   (:func:`actdiff.models.latent_video.keyframe_latents`), concatenated on the channels to the
   noisy latents as in ``CogVideoXImageToVideoPipeline``;
3. the tracking video's latent, with ITS first/last frame image latents placed the same way (DaS
   concatenates the tracking video's first-frame latent), drives the tracking branch
   (:func:`actdiff.models.tracking_branch.tracked_forward`);
4. ``steps`` (20) steps of ``CogVideoXDPMScheduler`` (``timestep_spacing="trailing"``, as DaS), classifier-free
   guidance ``guidance_scale`` (6, dynamic) between the prompt (empty) and the negative prompt,
   all noise from ``(seed, frame_ids)`` (:func:`actdiff.models.latent_video.latent_noise`);
5. the VAE decodes, the frames are resized back to the window's size.

The VAE latents of the conditions are the posterior MEAN (CogVideoX's pipelines draw a sample: the
mean keeps the conditioning independent of the seed, so the keyframe latents can be cached).

Weights: a folder holding ``config.json`` (this class's config) and the parts named in
``config.parts`` (relative to the folder or absolute): ``transformer/`` (CogVideoX I2V, or DaS's
tracking transformer, which then also supplies the branch), ``vae/``, ``branch/`` (a
:class:`~actdiff.models.tracking_branch.TrackingBranch`), ``scheduler/`` and
``prompt_embeds.safetensors`` (:mod:`actdiff.models.prompt_embeds`); :mod:`actdiff.models.paper_io`
loads and saves them, :mod:`actdiff.models.paper_presets` builds the model from a config.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from torch import nn

from actdiff.errors import ConfigError
from actdiff.models.generator import SegmentGenerator, WindowSpec
from actdiff.models.latent_video import (
    USED_GROUPS,
    LatentCache,
    dynamic_guidance,
    keyframe_latents,
    latent_frame_count,
    latent_noise,
    resize_frames,
    split_conditions,
)
from actdiff.models.paper_io import DTYPES, load_parts, save_parts
from actdiff.models.sampling import seed_for
from actdiff.models.tracking_branch import TrackingBranch, tracked_forward

#: Sampling options of :meth:`PaperVideoGenerator.generate` and their defaults (the reference's).
DEFAULT_SAMPLING: dict[str, Any] = {"steps": 20, "guidance_scale": 6.0, "dynamic_cfg": True, "sampler": "dpm",
                                    "compile": False, "cache_latents": False}
SAMPLERS = ("dpm", "ddim")


def rotary_embedding(transformer: nn.Module, h: int, w: int, num_latent: int, device: torch.device):
    """CogVideoX 1.0's 3D rotary embedding for an ``h × w`` latent of ``num_latent`` frames (as its pipelines)."""
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import get_resize_crop_region_for_grid

    cfg = transformer.config
    p = cfg.patch_size
    crops = get_resize_crop_region_for_grid((h // p, w // p), cfg.sample_width // p, cfg.sample_height // p)
    return get_3d_rotary_pos_embed(embed_dim=cfg.attention_head_dim, crops_coords=crops, grid_size=(h // p, w // p),
                                   temporal_size=num_latent, device=device)


class PaperVideoGenerator(nn.Module, ConfigMixin, SegmentGenerator):
    """Args (the ``config.json``):
        preset: name shown by :meth:`describe`.
        resolution: ``[H, W]`` the model generates at (windows are resized to it and back);
            ``None``: the window's own size (a multiple of 8 × patch size).
        max_frames: longest window (49: CogVideoX's clip).
        dtype: ``bfloat16`` (the reference) | ``float32`` | ``float16``: the dtype the parts load in.
        prompt, negative_prompt: the texts the prompt embeddings encode (``prompt`` empty as the reference).
        prompt_source: ``t5`` (precomputed file or T5 folders) | ``zeros`` (random test models).
        parts: folder of each part (``transformer``, ``vae``, ``branch``, ``scheduler``).
        vae_tiling: tile/slice the VAE (the reference does at 480×720).
        sampling: defaults of the sampling options (:data:`DEFAULT_SAMPLING`).
    """

    config_name = "config.json"
    #: Sampler names of the ``sampler`` option.
    samplers: tuple[str, ...] = SAMPLERS
    #: Sampling options and their defaults.
    default_sampling: dict[str, Any] = DEFAULT_SAMPLING

    @register_to_config
    def __init__(
        self,
        preset: str = "paper",
        resolution: Sequence[int] | None = (480, 720),
        max_frames: int = 49,
        dtype: str = "bfloat16",
        prompt: str = "",
        negative_prompt: str = "",
        prompt_source: str = "t5",
        parts: dict[str, str] | None = None,
        vae_tiling: bool = True,
        sampling: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")
        self.transformer: nn.Module | None = None
        self.vae: nn.Module | None = None
        self.branch: TrackingBranch | None = None
        self.scheduler: Any = None
        self.register_buffer("prompt_embeds", torch.zeros(0), persistent=False)
        self.latent_cache = LatentCache()
        self.gradient_checkpointing = False
        self.sources: dict[str, str] = {}
        self._compiled = False

    # ------------------------------------------------------------------ parts
    def set_parts(self, transformer: nn.Module, vae: nn.Module, branch: TrackingBranch | None, scheduler: Any,
                  prompt_embeds: torch.Tensor) -> "PaperVideoGenerator":
        """Attach the parts (checked against each other); ``prompt_embeds`` ``(2, L, D)`` [negative, prompt]."""
        c = int(vae.config.latent_channels)
        if transformer.config.in_channels != 2 * c or transformer.config.out_channels != c:
            raise ConfigError(f"the transformer ({transformer.config.in_channels} -> {transformer.config.out_channels} "
                              f"channels) is not an image-to-video model of this VAE ({c} latent channels)")
        if branch is not None:
            branch.check_fits(transformer)
        self.transformer, self.vae, self.branch, self.scheduler = transformer, vae, branch, scheduler
        self.prompt_embeds = prompt_embeds.to(transformer.dtype)
        if self.config.vae_tiling:
            vae.enable_tiling()
            vae.enable_slicing()
        return self

    @property
    def temporal_factor(self) -> int:
        return int(self.vae.config.temporal_compression_ratio)

    @property
    def spatial_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def set_gradient_checkpointing(self, on: bool) -> None:
        """Recompute every base and branch block in the backward pass (training memory)."""
        self.gradient_checkpointing = bool(on)

    def freeze_base(self) -> None:
        """Only the branch trains (transformer and VAE frozen)."""
        self.transformer.requires_grad_(False)
        self.vae.requires_grad_(False)
        if self.branch is not None:
            self.branch.requires_grad_(True)

    # ------------------------------------------------------------ weights
    @classmethod
    def from_pretrained(cls, folder: str, torch_dtype: torch.dtype | None = None, **_: Any) -> "PaperVideoGenerator":
        """The model saved in ``folder`` (parts in the config's ``dtype`` unless ``torch_dtype``; diffusers
        loading keywords other than ``torch_dtype`` do not apply), eval mode."""
        from actdiff.errors import MissingWeightsError

        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            raise MissingWeightsError(f"paper decoder weights not found in {path} (needs config.json + transformer/ "
                                      "vae/ scheduler/ and branch/ or a DaS transformer; see docs/paper_decoder.md)")
        model = cls.from_config(cls.load_config(str(path)))
        p = load_parts(path, model.config, torch_dtype or DTYPES[model.config.dtype])
        model.set_parts(p["transformer"], p["vae"], p["branch"], p["scheduler"], p["prompt_embeds"])
        model.sources = p["sources"]
        return model.eval()

    @classmethod
    def load_pretrained(cls, folder: str) -> "PaperVideoGenerator":
        """As :meth:`from_pretrained` in the config's ``dtype`` (bfloat16 for the reference)."""
        return cls.from_pretrained(folder)

    def save_pretrained(self, folder: str, copy_base: bool = True, **_: Any) -> None:
        """Write the model (:func:`actdiff.models.paper_io.save_parts`)."""
        save_parts(self, folder, copy_base)

    # ------------------------------------------------------- SegmentGenerator
    def window_spec(self) -> WindowSpec:
        learned = bool(self.transformer.config.get("use_learned_positional_embeddings", False))
        longest = int(self.config.max_frames)
        mult = 1 if self.config.resolution else self.spatial_factor * int(self.transformer.config.patch_size)
        # learned positional embeddings exist for the full clip only: every window is padded to it.
        # CogVideoX's VAE decodes F latent frames to 4(F-1)+1 frames only for ODD F (even F gives 4F):
        # windows of T = 8k + 1 frames (1, 9, 17, …, 49)
        return WindowSpec(max_frames=longest, min_frames=longest if learned else 1,
                          frame_multiple=2 * self.temporal_factor, frame_remainder=1, size_multiple=mult)

    def condition_groups(self) -> tuple[str, ...]:
        return USED_GROUPS

    def sampling_defaults(self) -> dict[str, Any]:
        return {**self.default_sampling, **(self.config.sampling or {})}

    def describe(self) -> str:
        n = len(self.branch.transformer_blocks_copy) if self.branch is not None else 0
        res = "x".join(str(v) for v in self.config.resolution) if self.config.resolution else "native"
        return (f"PaperVideoGenerator {self.config.preset} (CogVideoX {len(self.transformer.transformer_blocks)} "
                f"blocks + tracking branch {n}, {res}, window {self.config.max_frames})")

    # ------------------------------------------------------------ latent space
    def _image_scale(self) -> float:
        s = float(self.vae.config.scaling_factor)
        return 1.0 / s if self.vae.config.get("invert_scale_latents", False) else s

    def encode_video(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, 3, H, W)`` in [-1, 1] → scaled latent ``(F, C, h, w)`` (posterior mean)."""
        z = self.vae.encode(x.to(self.vae.dtype).permute(1, 0, 2, 3).unsqueeze(0)).latent_dist.mode()
        return z[0].permute(1, 0, 2, 3) * float(self.vae.config.scaling_factor)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """``(1, 3, H, W)`` → image latent ``(C, h, w)`` scaled as the I2V pipeline scales it."""
        z = self.vae.encode(x.to(self.vae.dtype).permute(1, 0, 2, 3).unsqueeze(0)).latent_dist.mode()
        return z[0, :, 0] * self._image_scale()

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latent ``(F, C, h, w)`` → frames ``(T, 3, H, W)`` (about [-1, 1])."""
        z = (z / float(self.vae.config.scaling_factor)).permute(1, 0, 2, 3).unsqueeze(0).to(self.vae.dtype)
        return self.vae.decode(z).sample[0].permute(1, 0, 2, 3)

    def condition_latents(self, cond: torch.Tensor, cache: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Window conditions ``(T, 30, H, W)`` → ``(image latents (F, C, h, w), tracking input (F, 2C, h, w))``
        at the model's resolution."""
        g = split_conditions(cond, tuple(self.config.resolution) if self.config.resolution else None)
        n = latent_frame_count(cond.shape[0], self.temporal_factor)
        c = self.latent_cache if cache else None
        image = keyframe_latents(g["key"], g["key_mask"], self.encode_image, n, c)
        track = self.encode_video(g["track"])
        track_image = keyframe_latents(g["track"], g["key_mask"], self.encode_image, n, c)
        return image, torch.cat([track, track_image], dim=1)

    def predict(self, latents: torch.Tensor, timestep: torch.Tensor, image: torch.Tensor, tracking: torch.Tensor,
                prompt: torch.Tensor) -> torch.Tensor:
        """Model output ``(B, F, C, h, w)`` for noisy ``latents`` ``(B, F, C, h, w)`` (all inputs batched)."""
        _, n, _, h, w = latents.shape
        rotary = rotary_embedding(self.transformer, h, w, n, latents.device) \
            if self.transformer.config.use_rotary_positional_embeddings else None
        ofs = latents.new_full((latents.shape[0],), 2.0) if self.transformer.ofs_embedding is not None else None
        return tracked_forward(self.transformer, self.branch, torch.cat([latents, image], dim=2), prompt, timestep,
                               tracking, rotary, ofs, checkpointing=self.gradient_checkpointing)

    # ----------------------------------------------------------------- sample
    def sampling_options(self, sampling: dict[str, Any]) -> dict[str, Any]:
        unknown = set(sampling) - set(self.default_sampling)
        if unknown:
            raise ConfigError(f"unknown sampling option(s) {sorted(unknown)} "
                              f"(known: {', '.join(self.default_sampling)})")
        opts = {**self.sampling_defaults(), **{k: v for k, v in sampling.items() if v is not None}}
        if opts["sampler"] not in self.samplers:
            raise ConfigError(f"unknown sampler {opts['sampler']!r} for {type(self).__name__} "
                              f"(known: {', '.join(self.samplers)})")
        if int(opts["steps"]) < 1:
            raise ConfigError(f"steps must be >= 1, got {opts['steps']}")
        return opts

    def _make_scheduler(self, name: str) -> Any:
        from diffusers import CogVideoXDDIMScheduler, CogVideoXDPMScheduler

        cls = CogVideoXDPMScheduler if name == "dpm" else CogVideoXDDIMScheduler
        return cls.from_config(self.scheduler.config, timestep_spacing="trailing")

    @staticmethod
    def scheduler_step(scheduler: Any, out: torch.Tensor, timesteps: torch.Tensor, i: int, latents: torch.Tensor,
                       state: Any, generator: torch.Generator) -> tuple[torch.Tensor, Any]:
        """One sampler step: ``(latents, state)`` (the DPM scheduler keeps the previous clean estimate
        and draws its noise from ``generator``)."""
        from diffusers import CogVideoXDPMScheduler

        if isinstance(scheduler, CogVideoXDPMScheduler):
            return scheduler.step(out, state, timesteps[i], timesteps[i - 1] if i > 0 else None, latents,
                                  generator=generator, return_dict=False)
        return scheduler.step(out, timesteps[i], latents, return_dict=False)[0], None

    def compile_blocks(self) -> None:
        """``torch.compile`` every transformer block of the base and the branch (once)."""
        if self._compiled:
            return
        for block in self.blocks():
            block.compile()
        self._compiled = True

    def blocks(self) -> list[nn.Module]:
        """The transformer blocks (base, then branch) — what :meth:`compile_blocks` compiles."""
        blocks = list(self.transformer.transformer_blocks)
        return blocks + (list(self.branch.transformer_blocks_copy) if self.branch is not None else [])

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, seed: int, frame_ids: Sequence[int], **sampling: Any) -> torch.Tensor:
        """Frames ``(T, 3, H, W)`` in [-1, 1] of one window (see the module doc and
        :meth:`SegmentGenerator.generate`). Options (:data:`DEFAULT_SAMPLING`): ``steps``,
        ``guidance_scale`` (<= 1: no guidance), ``dynamic_cfg``, ``sampler`` (``dpm`` | ``ddim``),
        ``compile`` (``torch.compile`` the blocks), ``cache_latents`` (reuse encoded keyframes)."""
        opts = self.sampling_options(sampling)
        t, _, h, w = cond.shape
        if t != len(frame_ids):
            raise ValueError(f"{t} condition frames but {len(frame_ids)} frame ids")
        if not self.window_spec().is_valid(t):
            raise ValueError(f"{t} frames is not a valid window for {self.describe()} ({self.window_spec()})")
        if opts["compile"]:
            self.compile_blocks()
        dtype, device = self.transformer.dtype, cond.device
        image, tracking = self.condition_latents(cond, bool(opts["cache_latents"]))
        n, c, lh, lw = image.shape
        latents = latent_noise((c, lh, lw), seed, frame_ids, self.temporal_factor, n)[None].to(device, dtype)
        scheduler = self._make_scheduler(str(opts["sampler"]))
        steps, scale = int(opts["steps"]), float(opts["guidance_scale"])
        scheduler.set_timesteps(steps, device=device)
        latents = latents * getattr(scheduler, "init_noise_sigma", 1.0)
        negative, positive = self.prompt_embeds[0:1].to(device), self.prompt_embeds[1:2].to(device)
        cfg = scale > 1.0 and not torch.equal(negative, positive)  # identical texts: guidance changes nothing
        prompt = torch.cat([negative, positive]) if cfg else positive
        batch = prompt.shape[0]
        image_in, track_in = image[None].expand(batch, -1, -1, -1, -1), tracking[None].expand(batch, -1, -1, -1, -1)
        old = None
        # the DPM scheduler injects noise at every step (as in the reference, from a seeded generator)
        step_noise = torch.Generator().manual_seed(seed_for(seed, int(frame_ids[0]), 1))
        timesteps = scheduler.timesteps
        for i, step in enumerate(timesteps):
            x = torch.cat([latents] * batch)
            x = scheduler.scale_model_input(x, step) if hasattr(scheduler, "scale_model_input") else x
            out = self.predict(x, step.expand(batch), image_in, track_in, prompt).float()
            if cfg:
                g = dynamic_guidance(scale, steps, float(step.item())) if opts["dynamic_cfg"] else scale
                out = out[0:1] + g * (out[1:2] - out[0:1])
            latents, old = self.scheduler_step(scheduler, out, timesteps, i, latents, old, step_noise)
            latents = latents.to(dtype)
        frames = self.decode_latents(latents[0]).float()
        return resize_frames(frames, (h, w)).clamp(-1.0, 1.0).to(cond.dtype)
