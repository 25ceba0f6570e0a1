"""Datamodules of the learned selectors: samples built once per video in ``setup``
(:mod:`actdiff.training.selectors.samples`), split into training and validation.

Validation: the files :func:`actdiff.training.corpus.split_by_file` holds out (``data.val_files``,
or ``data.val_videos`` as a count or fraction with ``data.split_seed``: the same files as the
decoder's split of the same sources), or (``val_videos: 0``) every ``data.val_every``-th sample.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from actdiff.errors import ConfigError, InputError
from actdiff.training.selectors.samples import keyframe_samples, plain, trajectory_samples
from actdiff.types import Video

log = logging.getLogger("actdiff.training")


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
        self.data = plain(data_cfg)
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
        val_spec = self.data.get("val_files") or self.data.get("val_videos", 0)
        if isinstance(val_spec, (int, float)) and val_spec >= len(videos) and val_spec > 0:
            raise ConfigError(f"data.val_videos={val_spec} leaves no training video ({len(videos)} read)")
        per_video = self._build_samples(videos)
        held: set = set()
        names = [Path(v.source).name or f"video{i}" for i, v in enumerate(videos)]
        if val_spec:  # split by file, as the decoder's datamodule does (same names, seed → same files)
            from actdiff.training.corpus import split_by_file

            held = set(split_by_file(names, val_spec, int(self.data.get("split_seed", 0)))[1])
        if held:
            log.warning("%s: validation files %s", type(self).__name__, ", ".join(sorted(held)))
            train = [p for p, n in zip(per_video, names) if n not in held]
            val = [p for p, n in zip(per_video, names) if n in held]
            tx, ty = (np.concatenate([p[i] for p in train]) for i in (0, 1))
            vx, vy = (np.concatenate([p[i] for p in val]) for i in (0, 1))
        else:  # val_videos 0 (or a single video): every val_every-th sample
            x, y = (np.concatenate([p[i] for p in per_video]) for i in (0, 1))
            every = int(self.data.get("val_every", 5))
            is_val = (np.arange(len(x)) % every == every - 1) if every > 1 else np.zeros(len(x), bool)
            tx, ty, vx, vy = x[~is_val], y[~is_val], x[is_val], y[is_val]
        if len(tx) == 0:
            raise InputError("no training samples: the videos are too short for the data settings")
        self.train_set = self.make_dataset(tx, ty, train=True)
        self.val_set = self.make_dataset(vx, vy, train=False)
        log.info("%s: %d training / %d validation samples", type(self).__name__, len(tx), len(vx))

    def _build_samples(self, videos: List[Video]) -> List[Tuple[np.ndarray, ...]]:
        """:meth:`samples` of every video, with a progress bar (stderr) and one log line per video."""
        from actdiff import progress

        log.warning("%s: building the samples of %d videos (flows and targets, once per run)",
                    type(self).__name__, len(videos))
        out = []
        with progress.bar(len(videos), f"{type(self).__name__} samples", unit="video") as b:
            for i, v in enumerate(videos):
                t0 = time.perf_counter()
                out.append(self.samples(v))
                log.info("samples %d/%d: %s, %d samples, %.1f s", i + 1, len(videos),
                         Path(v.source).name or f"video{i}", len(out[-1][0]), time.perf_counter() - t0)
                b.update(1)
        return out

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
    """(keyframe, frame) features and reconstructible labels (:func:`keyframe_samples`)."""

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
    """(first frame, interpolation-error map) pairs (:func:`trajectory_samples`)."""

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


__all__ = ["ArrayDataset", "KeyframeSelectorData", "TrajectorySelectorData"]
