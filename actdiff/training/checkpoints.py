"""Reading training checkpoints without running code from them.

Every checkpoint is read with ``torch.load(weights_only=True)``: tensors and plain containers only
(a pickle that would import or call anything is refused), so a crafted ``.ckpt`` cannot run code.
Lightning's own loads (``trainer.fit(ckpt_path=…)``, ``load_from_checkpoint``) are given
``weights_only=True`` as well.

A resumed run keeps its history: :class:`KeepingCSVLogger` appends to ``logs/metrics.csv`` where
Lightning's CSV logger deletes it, and :class:`SaveConfig` rewrites ``config.yaml`` only once
training has started (a resume that fails changes nothing in the run folder).
"""

from __future__ import annotations

import csv
import pickle
import warnings
from pathlib import Path
from typing import Any, Dict

import lightning as L
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from omegaconf import DictConfig

from actdiff.errors import InputError


def _reason(e: BaseException, head: bytes | None) -> str:
    """Why a checkpoint whose first bytes are ``head`` failed to load with ``e``, in a few words."""
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if head is not None and not head.startswith((b"PK", b"\x80")):  # not torch's zip format, nor a pickle
        return "not a PyTorch checkpoint file (empty, damaged or another format)"
    if isinstance(e, pickle.UnpicklingError) or "weights_only" in str(e).lower() or "Unsupported global" in str(e):
        return "it holds more than tensors and plain containers (a pickle that would run code), refused"
    if "central directory" in text or "zip archive" in text:
        return "truncated or not a checkpoint file"
    return text[:160]


def _head(path: Path) -> bytes | None:
    """The file's first two bytes (``None`` when it cannot be read: the reason then is torch's own)."""
    try:
        with open(path, "rb") as f:
            return f.read(2)
    except OSError:
        return None


def torch_load_weights(path: str | Path, mmap: bool = True) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, without torch's warning about a foreign
    pickle protocol (such a file is refused or read all the same; the caller reports it in one
    line). ``mmap`` memory-maps the tensors of a zip checkpoint."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)


def load_checkpoint(path: str | Path) -> Dict[str, Any]:
    """A Lightning checkpoint as a dict (tensors memory-mapped), read with ``weights_only=True``.

    ``InputError`` with one line naming the file when it is missing, truncated, garbage, not a
    Lightning checkpoint (no ``state_dict``) or holds anything but tensors and plain containers.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    try:
        try:
            ck = torch_load_weights(path)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            ck = torch_load_weights(path, mmap=False)  # an old, non-zip file
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError, UnicodeDecodeError) as e:
        raise InputError(f"checkpoint {path} is unreadable: {_reason(e, _head(path))}") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("state_dict"), dict):
        raise InputError(f"checkpoint {path} is not a Lightning checkpoint (no state_dict)")
    return ck


class _KeepingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing ``metrics.csv`` is appended to, not deleted."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = list(next(csv.reader(f), []))


class KeepingCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` survives a resume (new rows are appended; new columns
    rewrite the file with the old rows kept)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _KeepingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment


class SaveConfig(L.Callback):
    """Write the resolved config to ``path`` when training starts (after a resume restored its state)."""

    def __init__(self, cfg: DictConfig, path: Path) -> None:
        self.cfg, self.path = cfg, Path(path)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            from actdiff.config import save_config

            save_config(self.cfg, self.path)
