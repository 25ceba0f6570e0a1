"""Export the EMA weights of a training checkpoint as a diffusers ``save_pretrained`` folder."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from actdiff.errors import ConfigError, InputError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def export_module(module, out_dir: str | Path, dtype: str = "float32") -> Path:
    """Write ``module``'s EMA model to ``out_dir`` (``config.json`` + safetensors).

    ``dtype`` is the storage precision (``float16`` halves the file; the decoder loads the
    weights back as float32, so decoding stays deterministic). An existing ``out_dir`` is replaced
    once the new folder is complete (``actdiff export`` asks for ``--overwrite`` first; ``fit``
    says so when it starts).
    """
    if dtype not in DTYPES:
        raise ConfigError(f"unknown export dtype {dtype!r} (known: {', '.join(DTYPES)})")
    from actdiff.io.files import atomic_output

    out = Path(out_dir).expanduser()
    with atomic_output(out, overwrite=True, what="export folder") as tmp:  # whole, or the old one stays
        module.ema_model().to(DTYPES[dtype]).save_pretrained(str(tmp), safe_serialization=True)
    return out


def export_checkpoint(ckpt: str | Path, out_dir: str | Path, dtype: str = "float32") -> Path:
    """Load a Lightning checkpoint of ``ConditionalDenoiser`` (``weights_only``: no pickled code is
    ever run, see :mod:`actdiff.training.checkpoints`) and export its EMA weights."""
    from actdiff.training.checkpoints import load_checkpoint
    from actdiff.training.module import ConditionalDenoiser

    ckpt = Path(ckpt).expanduser()
    load_checkpoint(ckpt)  # weights_only: a crafted pickle is refused before Lightning sees the file
    try:
        module = ConditionalDenoiser.load_from_checkpoint(str(ckpt), map_location="cpu", weights_only=True)
    except (KeyError, RuntimeError, EOFError, TypeError, pickle.UnpicklingError) as e:
        raise InputError(f"not a ConditionalDenoiser checkpoint: {ckpt} ({type(e).__name__})") from None
    return export_module(module, out_dir, dtype)
