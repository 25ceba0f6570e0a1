"""LightningModules of the learned selectors; each wraps its diffusers net as ``.net``
(:mod:`actdiff.selection.learned.nets`), which is what gets exported."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import lightning as L
import torch
from torch import nn

from actdiff.selection.learned.nets import ImportanceNet, KeyframeNet


def _optimizer(module: L.LightningModule, optim: Dict[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.AdamW(module.parameters(), lr=float(optim.get("lr", 1e-3)),
                             weight_decay=float(optim.get("weight_decay", 0.0)))


class KeyframeSelectorModule(L.LightningModule):
    """Binary classifier "frame reconstructible from the keyframe" (BCE, ``pos_weight``
    balancing the classes). Logs ``train/loss``, ``val/loss``, ``val/acc``."""

    task = "keyframe_selector"

    def __init__(self, model: Optional[Dict[str, Any]] = None, optim: Optional[Dict[str, Any]] = None,
                 pos_weight: float = 1.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = KeyframeNet(**{k: v for k, v in (model or {}).items() if k in ("channels", "feature_size")})
        self.optim = dict(optim or {})
        self.register_buffer("pos_weight", torch.tensor(float(pos_weight)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,)`` of features ``(B, 13, h, w)``."""
        return self.net(x)

    def _loss(self, batch) -> Tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["x"])
        y = batch["y"].float()
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)
        acc = ((logits >= 0).float() == y).float().mean()
        return loss, acc

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss, acc = self._loss(batch)
        self.log_dict({"train/loss": loss, "train/acc": acc}, prog_bar=True, batch_size=len(batch["x"]))
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        loss, acc = self._loss(batch)
        self.log_dict({"val/loss": loss, "val/acc": acc}, batch_size=len(batch["x"]))

    def configure_optimizers(self):
        return _optimizer(self, self.optim)

    def on_save_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        checkpoint["actdiff_task"] = self.task


class TrajectorySelectorModule(L.LightningModule):
    """Per-pixel importance regression (BCE against soft targets in ``[0, 1]``). Logs
    ``train/loss``, ``val/loss`` and ``val/corr`` (Pearson correlation of map and target)."""

    task = "trajectory_selector"

    def __init__(self, model: Optional[Dict[str, Any]] = None, optim: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = ImportanceNet(**{k: v for k, v in (model or {}).items() if k in ("channels", "work_pixels")})
        self.optim = dict(optim or {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 1, h, w)`` of frames ``(B, 3, h, w)`` in ``[0, 1]``."""
        return self.net(x)

    def _loss(self, batch) -> Tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["x"])
        y = batch["y"].float()
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
        p = torch.sigmoid(logits).flatten(1)
        yc, pc = y.flatten(1) - y.flatten(1).mean(1, keepdim=True), p - p.mean(1, keepdim=True)
        corr = ((yc * pc).sum(1) / (yc.norm(dim=1) * pc.norm(dim=1) + 1e-8)).mean()
        return loss, corr

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss, corr = self._loss(batch)
        self.log_dict({"train/loss": loss, "train/corr": corr}, prog_bar=True, batch_size=len(batch["x"]))
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        loss, corr = self._loss(batch)
        self.log_dict({"val/loss": loss, "val/corr": corr}, batch_size=len(batch["x"]))

    def configure_optimizers(self):
        return _optimizer(self, self.optim)

    def on_save_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        checkpoint["actdiff_task"] = self.task


MODULES = {"keyframe_selector": KeyframeSelectorModule, "trajectory_selector": TrajectorySelectorModule}


__all__ = ["KeyframeSelectorModule", "MODULES", "TrajectorySelectorModule"]
