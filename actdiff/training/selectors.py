"""Training of the learned selectors (LightningModules + datamodules), driven by ``actdiff fit``.

``task: keyframe_selector`` — :class:`KeyframeSelectorModule` on :class:`KeyframeSelectorData`:
for every video, the real tracker's pairwise flows are computed once; from segment starts
every ``data.starts_every`` frames the flows are chained ``data.horizon`` frames ahead at the
adaptive selector's ``analysis_scale`` and each (keyframe, frame) pair becomes one sample:
:func:`actdiff.selection.learned.nets.keyframe_features` and a label

* ``heuristic``: the adaptive selector's pass/fail test (coverage ≥ ``coverage_min`` and score
  ≥ ``score_min``, :func:`actdiff.selection.segments.frame_measures`);
* ``splat_psnr``: PSNR (dB) of the splatted keyframe (holes filled with the keyframe) against
  the frame ≥ ``data.psnr_min``.

``task: trajectory_selector`` — :class:`TrajectorySelectorModule` on
:class:`TrajectorySelectorData`: windows of ``data.window`` frames every ``data.window_every``
frames; target = the greedy selector's residual map (``Problem.residual`` of
:mod:`actdiff.selection.trajectories` with ``weight_map: none``: the time-mean, visibility-
weighted error the codec attributes to densifying ``data.uniform_points`` uniform trajectories,
bandwidth fitted as in the codec), divided by its 99th percentile and clipped to ``[0, 1]``;
input = the first frame. Both at ``model.work_pixels`` pixels. The target follows whatever
that residual measures (it is recomputed from the current code at every ``setup``).

Validation: the last ``data.val_videos`` videos, or (one video) every ``data.val_every``-th
sample. ``export=PATH.safetensors`` writes the net when training ends.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Dataset

from actdiff.errors import ConfigError, InputError
from actdiff.selection.learned.nets import (
    ImportanceNet,
    KeyframeNet,
    frame_input,
    keyframe_features,
    load_net,
    save_net,
    work_size,
)
from actdiff.types import Video

log = logging.getLogger("actdiff.training")

TASKS = ("denoiser", "keyframe_selector", "trajectory_selector")
LABELS = ("heuristic", "splat_psnr")


def _plain(cfg: Any) -> Dict[str, Any]:
    return dict(OmegaConf.to_container(cfg, resolve=True)) if isinstance(cfg, DictConfig) else dict(cfg or {})


def _tracker(codec: DictConfig):
    import actdiff.tracking  # noqa: F401  (registers the trackers)
    from actdiff.registry import TRACKERS

    params = _plain(codec.tracker)
    params.pop("name", None)
    return TRACKERS.build(str(codec.tracker.name), **params)


# ----------------------------------------------------------------------------- samples


def keyframe_samples(video: Video, codec: DictConfig, data: Dict[str, Any],
                     feature_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features float16 (N, 13, h, w), labels float32 (N,), starts int (N,))`` of one video
    (features stored in float16 to keep many clips in memory; the dataset returns float32)."""
    from actdiff.selection.segments import _analysis_inputs, frame_measures, splat_keyframe
    from actdiff.tracking.base import iter_chain

    frames = video.frames
    if len(frames) < 2:
        return np.zeros((0, 13, *feature_size), np.float16), np.zeros(0, np.float32), np.zeros(0, int)
    tracker = _tracker(codec)
    kcfg = codec.keyframes
    fw, bw = tracker.pairwise_flows(frames)
    small, fws, bws, scale = _analysis_inputs(frames, fw, bw, float(kcfg.get("analysis_scale", 0.5) or 0.5))
    fb, vis = float(tracker.fb_threshold) * scale, float(tracker.visibility_threshold)
    label = str(data.get("label", "heuristic"))
    if label not in LABELS:
        raise ConfigError(f"unknown data.label {label!r} (known: {', '.join(LABELS)})")
    cmin, smin = float(kcfg.coverage_min), float(kcfg.score_min)
    psnr_min = float(data.get("psnr_min", 24.0))
    xs, ys, ss = [], [], []
    horizon = int(data.get("horizon", 24))
    for s in range(0, len(frames) - 1, max(1, int(data.get("starts_every", 4)))):
        key = small[s].astype(np.float32)
        for t, flow, conf in iter_chain(fws, bws, s, min(len(frames) - 1, s + horizon), fb):
            if t == s:
                continue
            warped, reached = splat_keyframe(key, flow, conf, vis)
            if label == "heuristic":
                coverage, score = frame_measures(key, small[t], flow, conf, kcfg, vis)
                y = coverage >= cmin and score >= smin
            else:
                filled = np.where(reached[..., None], warped, key)
                mse = float(np.mean((filled - small[t].astype(np.float32)) ** 2))
                y = 10 * np.log10(255.0 ** 2 / max(mse, 1e-10)) >= psnr_min
            xs.append(keyframe_features(key, small[t], flow, conf, warped, reached, feature_size).astype(np.float16))
            ys.append(float(y))
            ss.append(s)
    return np.stack(xs), np.asarray(ys, np.float32), np.asarray(ss, int)


def importance_target(frame0: np.ndarray, motion, visibility_threshold: float, n_points: int) -> np.ndarray:
    """Greedy-selection residual ``float32 (h, w)`` (the codec's error grid) of ``n_points``
    uniform trajectories of ``motion``, normalised to ``[0, 1]`` (module docstring)."""
    from actdiff.selection.learned import _normalise
    from actdiff.selection.trajectories import prepare, uniform_points

    prob = prepare(frame0, motion, {"weight_map": "none"}, visibility_threshold)
    pts = uniform_points(n_points, *prob.size)
    return _normalise(prob.residual(pts, prob.fit(pts)))


def trajectory_samples(video: Video, codec: DictConfig, data: Dict[str, Any],
                       work_pixels: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(inputs float32 (N, 3, h, w), targets float32 (N, 1, h, w))`` of one video."""
    import cv2

    from actdiff.tracking import chain_flows

    frames = video.frames
    window = int(data.get("window", 16))
    if window < 3:
        raise ConfigError(f"data.window must be at least 3, got {window}")
    n = len(frames)
    size = work_size(frames.shape[1], frames.shape[2], work_pixels)
    if n < 3:
        return np.zeros((0, 3, *size), np.float32), np.zeros((0, 1, *size), np.float32)
    tracker = _tracker(codec)
    fw, bw = tracker.pairwise_flows(frames)
    xs, ys = [], []
    for s in range(0, max(1, n - 2), max(1, int(data.get("window_every", 8)))):
        end = min(n - 1, s + window - 1)
        if end - s < 2:
            break
        motion = chain_flows(fw, bw, s, end, float(tracker.fb_threshold))
        target = importance_target(frames[s], motion, float(tracker.visibility_threshold),
                                   int(data.get("uniform_points", 48)))
        xs.append(frame_input(frames[s], size))
        ys.append(cv2.resize(target, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)[None])
    return np.stack(xs), np.stack(ys).astype(np.float32)


# ----------------------------------------------------------------------------- data


class ArrayDataset(Dataset):
    """``{"x": float32, "y": float32}`` items from two arrays; ``flip`` mirrors both at random
    (horizontal flip; the x-flow channel of keyframe features is negated)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, flip: bool = False, flow_x_channel: Optional[int] = None) -> None:
        self.x, self.y, self.flip, self.flow_x = x, y, flip, flow_x_channel

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> Dict[str, torch.Tensor]:
        x, y = torch.from_numpy(self.x[i].astype(np.float32)), torch.as_tensor(self.y[i])
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
            if self.flow_x is not None:
                x = x.clone()
                x[self.flow_x] = -x[self.flow_x]
            if y.ndim == 3:
                y = y.flip(-1)
        return {"x": x, "y": y}


class _SelectorData(L.LightningDataModule):
    """Reads ``data.sources`` (or in-memory ``videos``), builds samples once in ``setup``."""

    def __init__(self, data_cfg: DictConfig, codec_cfg: DictConfig, videos: Optional[Sequence[Video]] = None) -> None:
        super().__init__()
        self.data_cfg, self.codec_cfg = data_cfg, codec_cfg
        self.data = _plain(data_cfg)
        self._videos = list(videos) if videos is not None else None
        self.train_set: Optional[Dataset] = None
        self.val_set: Dataset = ArrayDataset(np.zeros((0,)), np.zeros((0,)))

    def videos(self) -> List[Video]:
        if self._videos is None:
            from actdiff.training.datamodule import read_sources

            if not self.data.get("sources"):
                from actdiff.data import load_sample_clip

                log.warning("data.sources is empty: training on the bundled sample clip")
                self._videos = [load_sample_clip(self.data.get("max_frames"))]
            else:
                self._videos = read_sources(self.data_cfg)
        return self._videos

    def samples(self, video: Video) -> Tuple[np.ndarray, ...]:
        raise NotImplementedError

    def setup(self, stage: Optional[str] = None) -> None:
        if self.train_set is not None:
            return
        videos = self.videos()
        n_val = int(self.data.get("val_videos", 0))
        if n_val >= len(videos) and n_val > 0:
            raise ConfigError(f"data.val_videos={n_val} leaves no training video ({len(videos)} read)")
        per_video = [self.samples(v) for v in videos]
        if n_val > 0:
            train = [p for p in per_video[:-n_val]]
            val = [p for p in per_video[-n_val:]]
            tx, ty = (np.concatenate([p[i] for p in train]) for i in (0, 1))
            vx, vy = (np.concatenate([p[i] for p in val]) for i in (0, 1))
        else:
            x, y = (np.concatenate([p[i] for p in per_video]) for i in (0, 1))
            every = int(self.data.get("val_every", 5))
            is_val = (np.arange(len(x)) % every == every - 1) if every > 1 else np.zeros(len(x), bool)
            tx, ty, vx, vy = x[~is_val], y[~is_val], x[is_val], y[is_val]
        if len(tx) == 0:
            raise InputError("no training samples: the videos are too short for the data settings")
        self.train_set = self.make_dataset(tx, ty, train=True)
        self.val_set = self.make_dataset(vx, vy, train=False)
        log.info("%s: %d training / %d validation samples", type(self).__name__, len(tx), len(vx))

    def make_dataset(self, x: np.ndarray, y: np.ndarray, train: bool) -> ArrayDataset:
        return ArrayDataset(x, y, flip=train and bool(self.data.get("flip", True)))

    def _loader(self, ds: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(ds, batch_size=int(self.data.get("batch_size", 16)), shuffle=shuffle,
                          num_workers=int(self.data.get("num_workers", 0)), drop_last=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)


class KeyframeSelectorData(_SelectorData):
    """(keyframe, frame) features and reconstructible labels (module docstring)."""

    def __init__(self, data_cfg, codec_cfg, feature_size: Tuple[int, int] = (64, 96), videos=None) -> None:
        super().__init__(data_cfg, codec_cfg, videos)
        self.feature_size = tuple(int(s) for s in feature_size)

    def samples(self, video: Video) -> Tuple[np.ndarray, ...]:
        return keyframe_samples(video, self.codec_cfg, self.data, self.feature_size)

    def make_dataset(self, x, y, train: bool) -> ArrayDataset:
        return ArrayDataset(x, y, flip=train and bool(self.data.get("flip", True)), flow_x_channel=11)

    def positive_fraction(self) -> float:
        y = self.train_set.y
        return float(np.mean(y)) if len(y) else 0.5


class TrajectorySelectorData(_SelectorData):
    """(first frame, interpolation-error map) pairs (module docstring)."""

    def __init__(self, data_cfg, codec_cfg, work_pixels: int = 6144, videos=None) -> None:
        super().__init__(data_cfg, codec_cfg, videos)
        self.work_pixels = int(work_pixels)

    def samples(self, video: Video) -> Tuple[np.ndarray, ...]:
        return trajectory_samples(video, self.codec_cfg, self.data, self.work_pixels)

    def setup(self, stage: Optional[str] = None) -> None:
        if self.train_set is None:
            sizes = {v.frames.shape[1:3] for v in self.videos()}
            if len(sizes) > 1 and int(self.data.get("batch_size", 16)) > 1:
                raise ConfigError("trajectory_selector: videos of different sizes need one data.size (or batch_size 1)")
        super().setup(stage)


# ----------------------------------------------------------------------------- modules


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


# ----------------------------------------------------------------------------- export / fit


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


def fit_selector(cfg: DictConfig, resume: bool = False, videos: Optional[Sequence[Video]] = None) -> L.LightningModule:
    """Train the selector named by ``cfg.task``; returns the fitted module (see module docstring)."""
    from actdiff.training.trainer import build_trainer, prepare_run

    task = str(cfg.get("task"))
    if task not in MODULES:
        raise ConfigError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    export = cfg.get("export")
    if export and not str(export).endswith(".safetensors"):
        raise ConfigError(f"export must be a .safetensors path for task {task}, got {export}")
    run_dir = prepare_run(cfg, resume)
    L.seed_everything(int(cfg.get("seed", 0)), workers=True, verbose=False)
    model = _plain(cfg.model)
    optim = _plain(cfg.get("optim") or {})
    if task == "keyframe_selector":
        dm = KeyframeSelectorData(cfg.data, cfg.codec, tuple(model.get("feature_size", (64, 96))), videos=videos)
        dm.setup("fit")
        pos = dm.positive_fraction()
        log.warning("keyframe selector: %d samples, %.0f%% labelled reconstructible", len(dm.train_set), 100 * pos)
        if pos in (0.0, 1.0):
            log.warning("keyframe selector: every training label is %s, so the classifier can only learn a constant; "
                        "add clips with harder motion or cuts, a longer data.horizon, or data.label=splat_psnr",
                        "reconstructible" if pos else "not reconstructible")
        module = KeyframeSelectorModule(model, optim, pos_weight=float(np.clip((1 - pos) / max(pos, 1e-3), 0.1, 10.0)))
    else:
        dm = TrajectorySelectorData(cfg.data, cfg.codec, int(model.get("work_pixels", 6144)), videos=videos)
        dm.setup("fit")
        module = TrajectorySelectorModule(model, optim)
    trainer = build_trainer(cfg, run_dir, has_val=len(dm.val_set) > 0)
    trainer.fit(module, datamodule=dm, ckpt_path=str(run_dir / "checkpoints" / "last.ckpt") if resume else None)
    if export and trainer.is_global_zero:
        out = export_selector(module, str(export))
        log.warning("exported %s weights to %s", task, out)
    return module


__all__ = ["KeyframeSelectorData", "KeyframeSelectorModule", "TrajectorySelectorData", "TrajectorySelectorModule",
           "checkpoint_task", "export_selector", "export_selector_checkpoint", "fit_selector", "importance_target",
           "keyframe_samples", "load_net", "trajectory_samples"]
