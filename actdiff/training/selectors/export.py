"""Export of a trained selector net as one ``.safetensors`` file, from a module or a Lightning
checkpoint (:func:`actdiff.selection.learned.nets.save_net`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import lightning as L
import torch

from actdiff.errors import ConfigError, InputError
from actdiff.selection.learned.nets import save_net
from actdiff.training.selectors.modules import MODULES


def export_selector(module: L.LightningModule, path: str | Path) -> Path:
    """Write ``module``'s net to ``path`` (one ``.safetensors``; see :func:`load_net`)."""
    p = Path(str(path)).expanduser()
    if p.suffix != ".safetensors":
        raise ConfigError(f"selector export path must end in .safetensors, got {p}")
    return save_net(module.net, p, module.task)


def checkpoint_task(ckpt: str | Path) -> Optional[str]:
    """The selector task a Lightning checkpoint was trained for, or ``None`` (not a selector)."""
    try:
        state = torch.load(str(ckpt), map_location="cpu", weights_only=False, mmap=True)
    except (OSError, RuntimeError, EOFError):
        return None
    task = state.get("actdiff_task") if isinstance(state, dict) else None
    return task if task in MODULES else None


def export_selector_checkpoint(ckpt: str | Path, path: str | Path) -> Path:
    """Load a selector checkpoint (``actdiff fit`` with ``task: *_selector``) and export its net."""
    ckpt = Path(str(ckpt)).expanduser()
    if not ckpt.is_file():
        raise InputError(f"checkpoint not found: {ckpt}")
    task = checkpoint_task(ckpt)
    if task is None:
        raise InputError(f"not a selector checkpoint: {ckpt}")
    module = MODULES[task].load_from_checkpoint(str(ckpt), map_location="cpu")
    return export_selector(module, path)


__all__ = ["checkpoint_task", "export_selector", "export_selector_checkpoint"]
