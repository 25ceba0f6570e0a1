"""The text conditioning of the pretrained video models: the (fixed) prompt and negative prompt.

The reference samples with an EMPTY prompt; classifier-free guidance then only contrasts it with
the negative prompt. No text encoder ships with ActDiff, so the embeddings come from, in order:

1. ``prompt_embeds.safetensors`` in the weights folder (tensors ``prompt_embeds`` and
   ``negative_prompt_embeds``, ``(L, D)``; the texts they encode in the file's metadata) — written by
   ``save_pretrained`` and by ``experiments/setup_paper_weights.py``;
2. a T5 encoder in ``text_encoder/`` + ``tokenizer/`` of the weights folder (``transformers``,
   loaded once, freed after encoding);
3. ``prompt_source: zeros`` (random test models only): zero embeddings, stated in the config.

Anything else is a one-line :class:`~actdiff.errors.MissingWeightsError` naming what to put where.
"""

from __future__ import annotations

from pathlib import Path

import torch

from actdiff.errors import ConfigError, MissingWeightsError

#: File of precomputed prompt embeddings in a weights folder.
PROMPT_FILE = "prompt_embeds.safetensors"
SOURCES = ("t5", "zeros")


def encode_prompts(folder: Path, texts: list[str], max_length: int, device: str | None = None,
                   zero_padding: bool = False) -> torch.Tensor:
    """T5 (or umT5) embeddings ``float32 (len(texts), max_length, D)`` as the CogVideoX pipelines compute
    them (padding to ``max_length``, truncation, special tokens), from ``folder/text_encoder`` and
    ``folder/tokenizer``; ``zero_padding`` (Wan's pipelines): the attention mask is given to the
    encoder and the embeddings past each text's tokens are zeros."""
    from transformers import AutoConfig, AutoTokenizer, T5EncoderModel, UMT5EncoderModel

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))
    kind = AutoConfig.from_pretrained(str(folder / "text_encoder")).model_type
    cls = UMT5EncoderModel if kind == "umt5" else T5EncoderModel
    encoder = cls.from_pretrained(str(folder / "text_encoder"), torch_dtype=torch.bfloat16
                                  if device != "cpu" else torch.float32).to(device).eval()
    tok = tokenizer(texts, padding="max_length", max_length=max_length, truncation=True, add_special_tokens=True,
                    return_attention_mask=True, return_tensors="pt")
    ids, mask = tok.input_ids.to(device), tok.attention_mask.to(device)
    with torch.no_grad():
        out = encoder(ids, attention_mask=mask if zero_padding else None)[0].float()
        if zero_padding:
            out = out * mask[..., None].float()
        out = out.cpu()
    del encoder
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out


def save_prompt_embeds(path: Path, embeds: torch.Tensor, prompt: str, negative_prompt: str) -> None:
    """Write ``(2, L, D)`` [negative, positive] embeddings to ``path`` with the texts as metadata."""
    from safetensors.torch import save_file

    save_file({"negative_prompt_embeds": embeds[0].contiguous().float(),
               "prompt_embeds": embeds[1].contiguous().float()}, str(path),
              metadata={"prompt": prompt, "negative_prompt": negative_prompt})


def load_prompt_embeds(folder: Path | None, source: str, prompt: str, negative_prompt: str, max_length: int,
                       dim: int, zero_padding: bool = False) -> torch.Tensor:
    """``float32 (2, max_length, dim)``: [negative prompt, prompt] embeddings (see the module doc)."""
    if source not in SOURCES:
        raise ConfigError(f"unknown prompt_source {source!r} (known: {', '.join(SOURCES)})")
    if source == "zeros":
        return torch.zeros(2, max_length, dim)
    if folder is None:
        raise MissingWeightsError("prompt_source t5 needs a weights folder with prompt_embeds.safetensors or "
                                  "text_encoder/ + tokenizer/")
    file = folder / PROMPT_FILE
    if file.is_file():
        from safetensors import safe_open

        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("prompt") != prompt or meta.get("negative_prompt") != negative_prompt:
                raise ConfigError(f"{file} encodes other prompts than the config's ({meta.get('prompt')!r}, "
                                  f"{meta.get('negative_prompt')!r}): rerun experiments/setup_paper_weights.py")
            out = torch.stack([f.get_tensor("negative_prompt_embeds"), f.get_tensor("prompt_embeds")]).float()
    elif (folder / "text_encoder").is_dir() and (folder / "tokenizer").is_dir():
        out = encode_prompts(folder, [negative_prompt, prompt], max_length, zero_padding=zero_padding)
    else:
        raise MissingWeightsError(f"no prompt embeddings in {folder}: put {PROMPT_FILE} there (written by "
                                  "experiments/setup_paper_weights.py) or the T5 folders text_encoder/ and tokenizer/")
    if tuple(out.shape) != (2, max_length, dim):
        raise ConfigError(f"prompt embeddings {tuple(out.shape)[1:]} do not fit the transformer ({max_length}, {dim})")
    return out
