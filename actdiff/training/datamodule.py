"""``VideoClipDataModule``: training items whose conditions the REAL codec produced.

The pipeline, one module per job:

1. :mod:`~actdiff.training.corpus` lists the clips of ``data.sources`` (files, folders, dataset
   descriptions such as ``train_clips``; ``data.root`` replaces a description's root) and splits
   them BY FILE into training and validation (``data.val_files`` or ``data.val_videos`` count or
   fraction, ``data.split_seed``): deterministic, recorded in the run's config by ``run_fit``.
2. :mod:`~actdiff.training.augment` draws ``data.windows_per_video`` windows per training clip
   (``data.val_windows_per_video`` per validation clip) of ``data.window_frames`` frames at
   ``data.size``, with ``data.augment`` (flip, time reversal, random crop and scale) applied to the
   source frames BEFORE encoding.
3. :mod:`~actdiff.training.window_cache` encodes each window with the real encoder (keyframe quality
   drawn from ``data.quality_range``), decodes the bytes with ``decode_segments`` and caches the
   target frames + decoded segments under ``data.cache_dir/<key>/`` (``data.cache_workers``
   processes, a progress bar on a terminal, ``data.cache_max_gb``); ``<key>`` hashes the codec
   config, the window settings and the code that decides the codec's output
   (:func:`condition_code_hash`), so a change of any of them re-encodes.
4. :mod:`~actdiff.training.window_datasets` builds conditions on the fly in the DataLoader workers
   (``data.num_workers``) with the decoder's ``build_conditions``: ``data.item: pairs``
   (:class:`PairDataset`, the 2D decoder) or ``windows`` (:class:`WindowDataset`, T =
   ``data.clip_frames`` consecutive frames of one segment, for a video decoder).

Every epoch draws its items across all clips (shuffled); under DDP Lightning replaces the shuffle
by a ``DistributedSampler`` (seeded by the run's seed), so the ranks see disjoint shards. Local rank
0 of each node builds the cache (before the trainer starts, or in ``prepare_data``); the other
ranks wait for its manifest (``data.cache_wait_s``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset

from actdiff.errors import ConfigError, InputError
from actdiff.training.augment import WindowSpec
from actdiff.training.corpus import Clip, list_clips, split_clips
from actdiff.training.window_cache import RECORD_VERSION, SegmentSource, WindowTask, build_cache, one_core_per_process
from actdiff.training.window_datasets import PairDataset, WindowDataset
from actdiff.types import DecodedSegment, StreamHeader, Video

log = logging.getLogger("actdiff.training")

ITEMS = ("pairs", "windows")
#: How loader workers start (``data.worker_start``): ``spawn`` (default) and ``forkserver`` give each
#: one OpenCV and torch thread; ``fork`` starts faster and keeps the parent's OpenCV threads.
WORKER_STARTS = ("spawn", "forkserver", "fork")


def codec_segment_source(video: Video, codec_cfg: DictConfig) -> tuple[StreamHeader, list[DecodedSegment]]:
    """Encode ``video`` with the real encoder and decode the bytes like the decoder does."""
    from actdiff.codec import decode_segments, encode_video

    result = encode_video(video, codec_cfg)
    return decode_segments(result.data, trusted=True)  # written just above from our own config


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


#: Code that decides a cached window (frames read and resized, windows drawn, the codec's output):
#: editing any of it invalidates the cache, so training never reuses windows made by older code.
#: (The conditions themselves are built at load time by the current ``actdiff.conditioning``.)
CONDITION_CODE = ("codec", "entropy", "image_codecs", "io", "motion", "selection", "tracking",
                  "training/augment.py", "training/corpus.py", "training/window_cache.py")


def condition_code_hash(root: Path | None = None) -> str:
    """Hash of the source of every module in :data:`CONDITION_CODE` (under the package ``root``)."""
    root = Path(__file__).resolve().parent.parent if root is None else root
    h = hashlib.sha256()
    for name in CONDITION_CODE:
        p = root / name
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.exists() else []:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_key(codec_cfg: Any, data_cfg: Any, source: str = "codec") -> str:
    """Hash of everything that changes a cached window: the codec config, the window settings
    (:class:`WindowSpec`: size, frames, quality range, augmentation, seed), the segment source, the
    record layout and :func:`condition_code_hash`. Batching, crops, counts and the split are not
    in it (a window's content does not depend on them)."""
    blob = json.dumps({"codec": _plain(codec_cfg), "window": WindowSpec.from_cfg(data_cfg).to_dict(),
                       "source": source, "record": RECORD_VERSION, "code": condition_code_hash()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def local_rank(trainer: Any = None) -> int:
    """This process's rank on its node: the trainer's, else from the launcher's environment, else 0."""
    if trainer is not None:
        return int(trainer.local_rank)
    for var in ("LOCAL_RANK", "SLURM_LOCALID", "JSM_NAMESPACE_LOCAL_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def _workers(value: Any, devices: Any = 1) -> int:
    """``data.num_workers``/``cache_workers``: an int, or ``auto`` (CPU cores per device, minus one)."""
    if value in (None, "auto"):
        per = (os.cpu_count() or 1) // max(1, int(devices) if str(devices).isdigit() else 1)
        return max(0, min(8, per - 1))
    return int(value)


class VideoClipDataModule(L.LightningDataModule):
    """Args:
        data_cfg: the ``data`` section (sources, root, size, max_frames, window_frames,
            windows_per_video, val_windows_per_video, quality_range, augment, val_videos,
            val_files, split_seed, seed, rate_points, item, frames_per_window, val_frames_per_window,
            clip_frames, clip_stride, conditions,
            crop, bidirectional, batch_size, num_workers, worker_start, cache_dir, cache_workers, cache_max_gb,
            cache_wait_s); see ``configs/experiment/train_corpus_cpu.yaml``.
        codec_cfg: the ``codec`` section windows are encoded with.
        videos: in-memory videos (tests) instead of ``data.sources``.
        segment_source: replaces the real codec (tests feed synthetic ``DecodedSegment`` s).
        prediction: pairs' conditions carry the warp decoder's frame (``pred`` channels), for a
            model with ``residual_base: pred`` (``run_fit`` sets it from the model config).
    """

    def __init__(self, data_cfg: DictConfig, codec_cfg: DictConfig, videos: list[Video] | None = None,
                 segment_source: SegmentSource | None = None, prediction: bool = False) -> None:
        super().__init__()
        self.data_cfg, self.codec_cfg, self.prediction = data_cfg, codec_cfg, prediction
        self.spec = WindowSpec.from_cfg(data_cfg)
        self.item = str(data_cfg.get("item", "pairs"))
        if self.item not in ITEMS:
            raise ConfigError(f"unknown data.item {self.item!r} (known: {', '.join(ITEMS)})")
        self.worker_start = str(data_cfg.get("worker_start", "spawn"))
        if self.worker_start not in WORKER_STARTS:
            raise ConfigError(f"unknown data.worker_start {self.worker_start!r} (known: {', '.join(WORKER_STARTS)})")
        self._videos = videos
        self.source = segment_source
        name = "codec" if segment_source is None else getattr(segment_source, "__qualname__", "custom")
        self.key = cache_key(codec_cfg, data_cfg, name)
        self.cache = Path(str(data_cfg.cache_dir)).expanduser() / self.key
        self._split: tuple[list[Clip], list[Clip]] | None = None
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    # ----------------------------------------------------------------- clips and windows
    def split(self) -> tuple[list[Clip], list[Clip]]:
        """(training clips, validation clips), split by file."""
        if self._split is None:
            self._split = split_clips(list_clips(self.data_cfg, self._videos), self.data_cfg)
        return self._split

    def split_record(self) -> dict[str, Any]:
        """The split and cache actually used (``run_fit`` writes it to ``data.resolved_split``)."""
        train, val = self.split()
        return {"train": [c.name for c in train], "val": [c.name for c in val], "cache": str(self.cache)}

    def tasks(self) -> list[WindowTask]:
        d = self.data_cfg
        train, val = self.split()
        n_tr, n_va = int(d.get("windows_per_video", 1)), int(d.get("val_windows_per_video", 1))
        return [WindowTask(c, "train", w, n_tr) for c in train for w in range(n_tr)] + \
               [WindowTask(c, "val", w, n_va) for c in val for w in range(n_va)]

    def _manifest(self) -> Path:
        names = "\n".join(t.name for t in self.tasks())
        return self.cache / f"manifest-{hashlib.sha256(names.encode()).hexdigest()[:12]}.json"

    # ------------------------------------------------------------------- Lightning hooks
    def prepare_data(self) -> None:
        """Build the missing records and the manifest (local rank 0 only; a complete one is reused)."""
        if local_rank(self.trainer) != 0 or self._manifest().is_file():
            return
        d = self.data_cfg
        limit = d.get("cache_max_gb")
        entries = build_cache(self.tasks(), self.spec, self.codec_cfg, self.cache, self.source,
                              workers=max(1, _workers(d.get("cache_workers", 1))),
                              max_bytes=float(limit) * 1e9 if limit is not None else None)
        tmp = self._manifest().with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"entries": entries, **self.split_record()}))
        os.replace(tmp, self._manifest())

    def _wait_for_manifest(self) -> None:
        limit = float(self.data_cfg.get("cache_wait_s", 86400))
        t0 = time.time()
        while not self._manifest().is_file():
            if time.time() - t0 > limit:
                raise InputError(f"no training-window manifest {self._manifest()} after {limit:.0f} s: local rank 0 "
                                 "did not finish the cache (see its log; data.cache_wait_s)")
            if int(time.time() - t0) % 60 == 0:
                log.warning("waiting for local rank 0 to build the training windows in %s", self.cache)
            time.sleep(2.0)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if local_rank(self.trainer) == 0:
            self.prepare_data()
        else:
            self._wait_for_manifest()
        entries = json.loads(self._manifest().read_text())["entries"]
        tr = [e for e in entries if e["split"] == "train"]
        va = [e for e in entries if e["split"] == "val"]
        self.train_set, self.val_set = self._dataset(tr, True), self._dataset(va, False)
        if len(self.train_set) == 0:
            raise InputError(f"no training items were made from {len(tr)} window(s) (cache {self.cache})")

    def _dataset(self, entries: Sequence[dict], train: bool) -> Dataset:
        d = self.data_cfg
        crop = d.get("crop")
        bidir = bool(d.get("bidirectional", True))
        if self.item == "windows":
            return WindowDataset(self.cache, entries, crop, train, int(d.get("clip_frames", 8)), bidir,
                                 d.get("clip_stride"), bool(d.get("include_keyframes", True)),
                                 str(d.get("conditions", "frame")), self.prediction)
        fpw = d.get("frames_per_window") if train else d.get("val_frames_per_window", d.get("frames_per_window"))
        return PairDataset(self.cache, entries, crop, train, bidir, None if fpw is None else int(fpw),
                           int(d.get("seed", 0)), self.prediction)

    def _loader(self, ds: Dataset, shuffle: bool) -> DataLoader:
        devices = self.trainer.num_devices if self.trainer is not None else 1
        nw = _workers(self.data_cfg.get("num_workers", 0), devices)
        bs = int(self.data_cfg.batch_size)
        # spawned workers start with one OpenCV and torch thread each; forked ones keep the parent's
        # OpenCV threads (cv2.setNumThreads in a forked child deadlocks once the parent used its pool)
        spawned = nw > 0 and self.worker_start != "fork"
        return DataLoader(ds, batch_size=bs, shuffle=shuffle, num_workers=nw, persistent_workers=nw > 0,
                          multiprocessing_context=self.worker_start if nw > 0 else None,
                          worker_init_fn=one_core_per_process if spawned else None,
                          pin_memory=bool(self.data_cfg.get("pin_memory", False)),
                          drop_last=shuffle and len(ds) >= bs)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)


def read_sources(data_cfg: DictConfig) -> list[Video]:
    """Every clip of ``data.sources`` (``data.root`` applies) read whole under a protocol of
    ``data.size``, ``data.max_frames`` and ``data.resize_mode`` (``crop``: cover ``H×W`` keeping
    the aspect): for the selector datamodules, which hold their videos in memory."""
    from actdiff.data import load_protocol

    size = list(data_cfg.size) if data_cfg.get("size") else [None, None]
    protocol = load_protocol({"name": "train", "height": size[0], "width": size[1],
                              "max_frames": data_cfg.get("max_frames"),
                              "resize_mode": str(data_cfg.get("resize_mode", "crop")) if size[0] else "none"})
    videos = []
    for clip in list_clips(data_cfg):
        v = clip.sequence.read(protocol)
        v.source = v.source or str(clip.sequence.path)
        videos.append(v)
    return videos


def split_by_video(videos: Sequence[Video], val_videos: int) -> tuple[list[int], list[int]]:
    """Indices (train, val): the last ``val_videos`` by source name validate (none if < 2 videos).
    Kept for callers that split in-memory lists; the decoder's datamodule splits by FILE."""
    order = sorted(range(len(videos)), key=lambda i: (videos[i].source, i))
    n_val = min(int(val_videos), len(videos) - 1) if len(videos) > 1 else 0
    if n_val < int(val_videos):
        log.warning("only %d video(s): %d held out for validation (split is by video)", len(videos), n_val)
    return order[:len(order) - n_val], order[len(order) - n_val:]
