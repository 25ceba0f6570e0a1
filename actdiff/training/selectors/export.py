"""Export of a trained selector net as a diffusers ``save_pretrained`` folder (``config.json`` +
``diffusion_pytorch_model.safetensors``, float32), from a module or a Lightning checkpoint.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain containers only,
no pickled code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional

import lightning as L

from actdiff.errors import ConfigError, InputError
from actdiff.training.checkpoints import torch_load_weights
from actdiff.training.selectors.modules import MODULES


def check_export_folder(path: str | Path) -> Path:
    """``path`` as an export folder; ``ConfigError`` for a ``.safetensors`` name (the old single-file
    export) or an existing file."""
    p = Path(str(path)).expanduser()
    if p.suffix == ".safetensors":
        raise ConfigError(f"selector export is a folder (config.json + diffusion_pytorch_model.safetensors), "
                          f"not a .safetensors file: got {p}")
    if p.is_file():
        raise ConfigError(f"selector export folder {p} is an existing file")
    return p


def export_selector(module: L.LightningModule, path: str | Path) -> Path:
    """Write ``module.net`` with ``save_pretrained`` (safetensors) as the folder ``path`` (an existing
    one is replaced once the new one is complete; ``actdiff export`` asks first); returns it.

    Load it back with :func:`actdiff.selection.learned.nets.load_selector`."""
    from actdiff.io.files import atomic_output

    out = check_export_folder(path)
    with atomic_output(out, overwrite=True, what="export folder") as tmp:  # whole, or the old one stays
        module.net.save_pretrained(str(tmp), safe_serialization=True)
    return out


def checkpoint_task(ckpt: str | Path) -> Optional[str]:
    """The selector task a Lightning checkpoint was trained for, or ``None`` (not a selector
    checkpoint, or one that holds more than tensors and plain containers)."""
    try:
        state = torch_load_weights(ckpt)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None
    task = state.get("actdiff_task") if isinstance(state, dict) else None
    return task if task in MODULES else None


def export_selector_checkpoint(ckpt: str | Path, path: str | Path) -> Path:
    """Load a selector checkpoint (``actdiff fit`` with ``task: *_selector``) and export its net
    into the folder ``path``."""
    ckpt = Path(str(ckpt)).expanduser()
    if not ckpt.is_file():
        raise InputError(f"checkpoint not found: {ckpt}")
    task = checkpoint_task(ckpt)
    if task is None:
        raise InputError(f"not a selector checkpoint: {ckpt}")
    check_export_folder(path)
    module = MODULES[task].load_from_checkpoint(str(ckpt), map_location="cpu", weights_only=True)
    return export_selector(module, path)


__all__ = ["check_export_folder", "checkpoint_task", "export_selector", "export_selector_checkpoint"]
