"""Rate–quality curve of the model being trained, logged every N validation epochs.

At the end of every N-th validation epoch (sanity check excluded, global rank 0 only), a small
set of clips is encoded at each rate point, decoded with a decoder built from the current
LightningModule (``decoder_factory(pl_module)``), and scored by the evaluation loop
(:func:`actdiff.evaluation.runner.actdiff_points`, the one ``actdiff evaluate`` runs). Logged:

* scalars ``rate/{point}/bpp`` and ``rate/{point}/{metric}`` (means over the clips), through
  ``pl_module.log`` so every logger gets them;
* a figure (one panel per metric, metric vs bpp, log-x) saved as
  ``{log_dir}/rate_curves/epoch{E:04d}.png`` for every logger (CSV, TensorBoard, …), added with
  ``add_figure`` to TensorBoard and as a ``wandb.Image`` to a ``WandbLogger``.

The encoder is weight-free, so each clip is encoded once per rate point and the bytes reused
at every later epoch (``cache_encodes=False`` to re-encode).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
from lightning.pytorch import Callback, LightningModule, Trainer

from actdiff.evaluation.rates import load_rates, point_configs
from actdiff.evaluation.runner import actdiff_points
from actdiff.metrics import check_metrics
from actdiff.types import Video

RatePoints = Union[Mapping[str, Sequence[str]], Sequence[str]]  # noqa: UP007


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


class RateCurveCallback(Callback):
    """Encode/decode ``clips`` at ``rate_points`` every ``every_n_val_epochs`` and log the curve.

    Args:
        every_n_val_epochs: run at the end of every N-th validation epoch.
        clips: ``Video`` objects or ``uint8 (T, H, W, 3)`` arrays (keep them small).
        rate_points: ``{name: [codec override, …]}`` (keys relative to ``codec``), or names of
            points in ``configs/rates/default.yaml``.
        decoder_factory: ``pl_module → decoder`` given to ``decode_fn``.
        metrics: metric names (``actdiff.metrics``).
        base_config: a config file or ``group/name`` to compose the rate points on (default:
            ``experiment/codec``).
        cache_encodes: encode each clip once per rate point and reuse the bytes (the encoder is
            deterministic and weight-free).
    """

    def __init__(
        self,
        every_n_val_epochs: int = 1,
        clips: Sequence[Video | np.ndarray] = (),
        rate_points: RatePoints = ("r1", "r2", "r3", "r4"),
        decoder_factory: Callable[[LightningModule], Any] | None = None,
        metrics: Sequence[str] = ("psnr", "niqe"),
        base_config: Any = None,
        cache_encodes: bool = True,
    ) -> None:
        super().__init__()
        if every_n_val_epochs < 1:
            raise ValueError("every_n_val_epochs must be >= 1")
        self.every = int(every_n_val_epochs)
        self.clips = [c if isinstance(c, Video) else Video(np.asarray(c)) for c in clips]
        self.rate_points = self._resolve_points(rate_points)
        self.decoder_factory = decoder_factory or (lambda m: getattr(m, "decoder", "warp"))
        self.metrics = list(metrics)
        check_metrics(self.metrics)  # missing weights fail at set-up, not after the first validation
        self.configs = point_configs(self.rate_points, base_config)
        self.cache_encodes = cache_encodes
        self._cache: dict[int, dict[str, Any]] = {}
        self._val_epochs = 0
        self.history: list[dict[str, Any]] = []

    @staticmethod
    def _resolve_points(points: RatePoints) -> dict[str, list[str]]:
        if isinstance(points, Mapping):
            return {str(k): list(v) for k, v in points.items()}
        return load_rates(None, list(points))

    def measure(self, pl_module: LightningModule) -> dict[str, dict[str, float]]:
        """``{point: {"bpp": …, metric: …}}``: means over the clips at the current weights."""
        decoders = {"model": self.decoder_factory(pl_module)}
        per_clip = [actdiff_points(clip, self.configs, decoders, self.metrics,
                                   encoded=self._cache.setdefault(k, {}) if self.cache_encodes else None)["model"]
                    for k, clip in enumerate(self.clips)]
        out: dict[str, dict[str, float]] = {}
        for i, point in enumerate(self.rate_points):
            rows = [{"bpp": pts[i]["bpp"], **pts[i]["metrics"]} for pts in per_clip]
            out[point] = {k: _nanmean([r[k] for r in rows]) for k in rows[0]}
        return out

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not self.clips:
            return
        self._val_epochs += 1
        if self._val_epochs % self.every:
            return
        if not trainer.is_global_zero:
            return
        was_training = pl_module.training
        pl_module.eval()
        try:
            curve = self.measure(pl_module)
        finally:
            pl_module.train(was_training)
        for point, vals in curve.items():
            for name, v in vals.items():
                pl_module.log(f"rate/{point}/{name}", v, rank_zero_only=True, on_epoch=True)
        self.history.append({"epoch": trainer.current_epoch, "step": trainer.global_step, "curve": curve})
        self._log_figure(trainer, curve)

    def figure(self, curve: Mapping[str, Mapping[str, float]]):
        """Matplotlib figure: one panel per metric, metric vs bpp over the rate points."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from actdiff.metrics import lower_is_better

        fig, axes = plt.subplots(1, len(self.metrics), figsize=(3.6 * len(self.metrics), 3), squeeze=False)
        pts = sorted(curve, key=lambda p: curve[p]["bpp"])
        for ax, m in zip(axes[0], self.metrics):
            ax.plot([curve[p]["bpp"] for p in pts], [curve[p][m] for p in pts], "-o")
            ax.set_xscale("log")
            ax.set_xlabel("bpp")
            ax.set_ylabel(f"{m} ({'lower' if lower_is_better(m) else 'higher'} is better)")
            ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        return fig

    def _log_figure(self, trainer: Trainer, curve: Mapping[str, Mapping[str, float]]) -> None:
        import matplotlib.pyplot as plt

        fig = self.figure(curve)
        root = Path(trainer.log_dir or trainer.default_root_dir)
        path = root / "rate_curves" / f"epoch{trainer.current_epoch:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        for logger in trainer.loggers:
            kind = type(logger).__name__
            if kind == "WandbLogger":
                import wandb

                logger.experiment.log(
                    {"rate/curve": wandb.Image(str(path)), "trainer/global_step": trainer.global_step}
                )
            elif kind == "TensorBoardLogger":
                logger.experiment.add_figure("rate/curve", fig, global_step=trainer.global_step)
        plt.close(fig)
