"""The Diffusion-as-Shader tracking branch of a CogVideoX transformer, as a diffusers model.

Diffusion-as-Shader (DaS) conditions a CogVideoX image-to-video transformer on a *tracking video*
(:mod:`actdiff.conditioning.tracking_video`) with a ControlNet-like branch:

* the tracking video's VAE latent (with its own image latent concatenated on the channels, like
  the base's input) is patch-embedded by the BASE's (frozen) patch embedding;
* ``initial_combine_linear`` (zero-initialised) maps ``base tokens + tracking tokens`` to the
  branch's input;
* ``transformer_blocks_copy[i]`` — a copy of the base's block ``i``, ``i < K`` — runs beside base
  block ``i`` (same timestep embedding, the base's text tokens after its block ``i``), and its
  output, through the zero-initialised ``combine_linears[i]``, is ADDED to the base's hidden
  states after block ``i``.

Only the branch trains. At initialisation every joining layer is zero, so the model computes
exactly what the base computes (``tests/test_paper_model.py``).

:class:`TrackingBranch` holds those three parts with DaS's parameter names, so a DaS checkpoint
(one transformer folder whose ``config.json`` says ``_class_name:
CogVideoXTransformer3DModelTracking``, base and branch weights together) converts by keeping the
branch's keys: :meth:`TrackingBranch.from_pretrained` does it when given such a folder. Our own
``save_pretrained`` folders hold the branch alone (``_class_name: TrackingBranch``).
:func:`tracked_forward` is the forward pass of base + branch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from diffusers import CogVideoXTransformer3DModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXBlock
from torch import nn
from torch.utils.checkpoint import checkpoint

from actdiff.errors import ConfigError, MissingWeightsError

#: ``_class_name`` of Diffusion-as-Shader's transformer checkpoints.
DAS_CLASS = "CogVideoXTransformer3DModelTracking"
#: Parameter-name prefixes of the branch inside a DaS checkpoint (and in :class:`TrackingBranch`).
BRANCH_PREFIXES = ("initial_combine_linear.", "transformer_blocks_copy.", "combine_linears.")
#: Keys of a base transformer config a branch copies (the shape of its blocks).
BLOCK_KEYS = ("num_attention_heads", "attention_head_dim", "time_embed_dim", "dropout", "activation_fn",
              "attention_bias", "norm_elementwise_affine", "norm_eps")


def _zero_linear(dim: int) -> nn.Linear:
    lin = nn.Linear(dim, dim)
    nn.init.zeros_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


class TrackingBranch(ModelMixin, ConfigMixin):
    """The first ``num_tracking_blocks`` blocks of a CogVideoX transformer, copied, plus the
    zero-initialised joining layers (DaS names). The other arguments are the base's block shape
    (:data:`BLOCK_KEYS`; ``inner_dim = num_attention_heads * attention_head_dim``)."""

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        num_tracking_blocks: int = 18,
        num_attention_heads: int = 48,
        attention_head_dim: int = 64,
        time_embed_dim: int = 512,
        dropout: float = 0.0,
        activation_fn: str = "gelu-approximate",
        attention_bias: bool = True,
        norm_elementwise_affine: bool = True,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if num_tracking_blocks < 1:
            raise ConfigError(f"a tracking branch needs at least one block, got {num_tracking_blocks}")
        dim = num_attention_heads * attention_head_dim
        self.initial_combine_linear = _zero_linear(dim)
        self.transformer_blocks_copy = nn.ModuleList([
            CogVideoXBlock(dim=dim, num_attention_heads=num_attention_heads, attention_head_dim=attention_head_dim,
                           time_embed_dim=time_embed_dim, dropout=dropout, activation_fn=activation_fn,
                           attention_bias=attention_bias, norm_elementwise_affine=norm_elementwise_affine,
                           norm_eps=norm_eps)
            for _ in range(num_tracking_blocks)])
        self.combine_linears = nn.ModuleList([_zero_linear(dim) for _ in range(num_tracking_blocks)])
        self.gradient_checkpointing = False

    @classmethod
    def from_transformer(cls, base: CogVideoXTransformer3DModel, num_tracking_blocks: int = 18) -> "TrackingBranch":
        """A new branch for ``base``: its first ``num_tracking_blocks`` blocks copied, joins at zero."""
        if num_tracking_blocks > len(base.transformer_blocks):
            raise ConfigError(f"num_tracking_blocks {num_tracking_blocks} exceeds the base's "
                              f"{len(base.transformer_blocks)} blocks")
        branch = cls(num_tracking_blocks=num_tracking_blocks, **{k: base.config[k] for k in BLOCK_KEYS})
        for i, block in enumerate(branch.transformer_blocks_copy):
            block.load_state_dict(base.transformer_blocks[i].state_dict())
        return branch if base.dtype == torch.float32 else branch.to(base.dtype)

    def check_fits(self, base: CogVideoXTransformer3DModel) -> None:
        """``ConfigError`` unless the branch's blocks have the shape of ``base``'s."""
        bad = [k for k in BLOCK_KEYS if self.config[k] != base.config[k]]
        if bad or self.config.num_tracking_blocks > len(base.transformer_blocks):
            raise ConfigError(f"tracking branch does not fit the base transformer (differs in {bad or 'depth'})")

    # ------------------------------------------------------------------ DaS checkpoints
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> "TrackingBranch":
        """Our ``save_pretrained`` folder, or a DaS transformer folder (converted, see module doc)."""
        folder = Path(pretrained_model_name_or_path)
        if kwargs.get("subfolder"):
            folder = folder / kwargs["subfolder"]
        if is_das_checkpoint(folder):
            dtype = kwargs.get("torch_dtype")
            branch = from_das_checkpoint(folder)
            return branch.to(dtype) if dtype is not None else branch
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)


def is_das_checkpoint(folder: str | Path) -> bool:
    """Whether ``folder/config.json`` is a Diffusion-as-Shader tracking transformer."""
    cfg = Path(folder) / "config.json"
    try:
        return cfg.is_file() and json.loads(cfg.read_text()).get("_class_name") == DAS_CLASS
    except (OSError, ValueError):
        return False


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a diffusers model folder (sharded or single)."""
    index = sorted(folder.glob("*.safetensors.index.json"))
    if index:
        names = sorted(set(json.loads(index[0].read_text())["weight_map"].values()))
        return [folder / n for n in names]
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise MissingWeightsError(f"no *.safetensors weights in {folder} (a DaS transformer folder holds "
                                  "config.json + diffusion_pytorch_model*.safetensors)")
    return files


def read_tensors(files: Iterable[Path], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Tensors whose names start with one of ``prefixes`` (read lazily: other tensors stay on disk)."""
    from safetensors import safe_open

    out: dict[str, torch.Tensor] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as handle:
            for key in handle.keys():
                if key.startswith(prefixes):
                    out[key] = handle.get_tensor(key)
    return out


def from_das_checkpoint(folder: str | Path) -> TrackingBranch:
    """The branch of a DaS transformer checkpoint (its base loads with
    ``CogVideoXTransformer3DModel.from_pretrained(folder)``, which skips the branch's keys)."""
    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    defaults = {"num_attention_heads": 30, "attention_head_dim": 64, "time_embed_dim": 512, "dropout": 0.0,
                "activation_fn": "gelu-approximate", "attention_bias": True, "norm_elementwise_affine": True,
                "norm_eps": 1e-5}  # CogVideoXTransformer3DModel's defaults, for keys a config leaves out
    branch = TrackingBranch(num_tracking_blocks=int(cfg.get("num_tracking_blocks", 18)),
                            **{k: cfg.get(k, defaults[k]) for k in BLOCK_KEYS})
    state = read_tensors(_weight_files(folder), BRANCH_PREFIXES)
    missing, unexpected = branch.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise MissingWeightsError(f"{folder} is not a complete DaS tracking checkpoint "
                                  f"(missing {missing[:2]}, unexpected {unexpected[:2]})")
    return branch


# ---------------------------------------------------------------------- forward
def _run(block: nn.Module, ckpt: bool, *args: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if ckpt and torch.is_grad_enabled():
        return checkpoint(block, *args, use_reentrant=False)
    return block(*args)


def tracked_forward(
    base: CogVideoXTransformer3DModel,
    branch: TrackingBranch | None,
    hidden_states: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    timestep: torch.Tensor,
    tracking: torch.Tensor | None = None,
    image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ofs: torch.Tensor | None = None,
    checkpointing: bool = False,
) -> torch.Tensor:
    """Base + branch prediction (DaS's forward; CogVideoX 1.0 patching).

    Args:
        hidden_states: ``(B, F, C_in, h, w)`` noisy latents with the image latents on the channels.
        encoder_hidden_states: ``(B, L, text_embed_dim)`` prompt embeddings.
        timestep: ``(B,)`` diffusion timesteps.
        tracking: ``(B, F, C_in, h, w)`` tracking-video latents with their image latents
            (``None`` or ``branch=None``: the base alone).
        checkpointing: recompute every block in the backward pass (training).

    Returns:
        ``(B, F, C_out, h, w)`` the model output (v-prediction for CogVideoX).
    """
    if base.config.patch_size_t is not None:
        raise ConfigError("CogVideoX 1.5 (patch_size_t) is not supported by the tracking branch")
    batch, frames, _, height, width = hidden_states.shape
    emb = base.time_embedding(base.time_proj(timestep).to(hidden_states.dtype), None)
    if base.ofs_embedding is not None:
        emb = emb + base.ofs_embedding(base.ofs_proj(ofs).to(hidden_states.dtype))
    prompt, text_len = encoder_hidden_states, encoder_hidden_states.shape[1]
    tokens = base.embedding_dropout(base.patch_embed(prompt, hidden_states))
    encoder_hidden_states, hidden_states = tokens[:, :text_len], tokens[:, text_len:]
    use_branch = branch is not None and tracking is not None
    if use_branch:
        track = base.embedding_dropout(base.patch_embed(prompt, tracking))[:, text_len:]
        track = branch.initial_combine_linear(hidden_states + track)
    for i, block in enumerate(base.transformer_blocks):
        hidden_states, encoder_hidden_states = _run(block, checkpointing, hidden_states, encoder_hidden_states,
                                                    emb, image_rotary_emb)
        if use_branch and i < len(branch.transformer_blocks_copy):
            track, _ = _run(branch.transformer_blocks_copy[i], checkpointing, track, encoder_hidden_states,
                            emb, image_rotary_emb)
            track = branch.combine_linears[i](track)
            hidden_states = hidden_states + track
    hidden_states = base.norm_final(hidden_states)
    hidden_states = base.proj_out(base.norm_out(hidden_states, temb=emb))
    p = base.config.patch_size
    out = hidden_states.reshape(batch, frames, height // p, width // p, -1, p, p)
    return out.permute(0, 1, 4, 2, 5, 3, 6).flatten(5, 6).flatten(3, 4)
