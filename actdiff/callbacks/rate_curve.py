"""Rate–quality curve of the model being trained, logged every N validation epochs.

At the end of every N-th validation epoch (sanity check excluded, global rank 0 only), a small
set of clips is encoded at each rate point, decoded with a decoder built from the current
LightningModule (``decoder_factory(pl_module)``), and scored with
``actdiff.metrics.compute_metrics``. Logged:

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

from actdiff.metrics import check_metrics, compute_metrics
from actdiff.types import Video

RatePoints = Union[Mapping[str, Sequence[str]], Sequence[str]]  # noqa: UP007


def _default_encode(video: Video, cfg: Any):
    from actdiff.codec import encode_video

    return encode_video(video, cfg)


def _default_decode(data: bytes, decoder: Any) -> Video:
    from actdiff.codec import decode_video

    return decode_video(data, decoder)


class RateCurveCallback(Callback):
    """Encode/decode ``clips`` at ``rate_points`` every ``every_n_val_epochs`` and log the curve.

    Args:
        every_n_val_epochs: run at the end of every N-th validation epoch.
        clips: ``Video`` objects or ``uint8 (T, H, W, 3)`` arrays (keep them small).
        rate_points: ``{name: [codec override, …]}`` (keys relative to ``codec``), or names of
            points in ``configs/rates/default.yaml``.
        decoder_factory: ``pl_module → decoder`` given to ``decode_fn``.
        metrics: metric names (``actdiff.metrics``).
        base_config: composed codec config (default: ``experiment/codec``).
        encode_fn, decode_fn: ``(Video, cfg) → EncodeResult`` and ``(bytes, decoder) → Video``;
            default the ActDiff pipeline (``actdiff.codec``).
    """

    def __init__(
        self,
        every_n_val_epochs: int = 1,
        clips: Sequence[Video | np.ndarray] = (),
        rate_points: RatePoints = ("r1", "r2", "r3", "r4"),
        decoder_factory: Callable[[LightningModule], Any] | None = None,
        metrics: Sequence[str] = ("psnr", "niqe"),
        base_config: Any = None,
        encode_fn: Callable[[Video, Any], Any] | None = None,
        decode_fn: Callable[[bytes, Any], Video] | None = None,
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
        self.base_config = base_config
        self.encode_fn = encode_fn or _default_encode
        self.decode_fn = decode_fn or _default_decode
        self.cache_encodes = cache_encodes
        self._cache: dict[tuple, bytes] = {}
        self._val_epochs = 0
        self.history: list[dict[str, Any]] = []

    @staticmethod
    def _resolve_points(points: RatePoints) -> dict[str, list[str]]:
        if isinstance(points, Mapping):
            return {str(k): list(v) for k, v in points.items()}
        from actdiff.commands.evaluate import load_rates, rates_file

        return load_rates(rates_file(), list(points))

    def _config(self, overrides: Sequence[str]) -> Any:
        from omegaconf import OmegaConf

        from actdiff.commands.evaluate import codec_overrides
        from actdiff.config import apply_overrides, compose

        if self.base_config is None:
            return compose(None, codec_overrides(overrides), default="experiment/codec")
        return apply_overrides(OmegaConf.create(self.base_config), codec_overrides(overrides))

    def _encoded(self, point: str, k: int) -> bytes:
        key = (point, k)
        if key not in self._cache or not self.cache_encodes:
            self._cache[key] = self.encode_fn(self.clips[k], self._config(self.rate_points[point])).data
        return self._cache[key]

    def measure(self, pl_module: LightningModule) -> dict[str, dict[str, float]]:
        """``{point: {"bpp": …, metric: …}}``: means over the clips at the current weights."""
        decoder = self.decoder_factory(pl_module)
        out: dict[str, dict[str, float]] = {}
        for point in self.rate_points:
            rows = []
            for k, clip in enumerate(self.clips):
                data = self._encoded(point, k)
                rec = self.decode_fn(data, decoder)
                row = compute_metrics(clip.frames, rec.frames, self.metrics)
                row["bpp"] = 8 * len(data) / (clip.num_frames * clip.height * clip.width)
                rows.append(row)
            out[point] = {k: float(np.nanmean([r[k] for r in rows])) if any(not math.isnan(r[k]) for r in rows)
                          else float("nan") for k in rows[0]}
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
