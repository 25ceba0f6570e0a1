"""``VideoClipDataModule``: (target frame, conditions) pairs made by the REAL codec.

For every training video, ``windows_per_video`` random temporal windows are encoded with
``actdiff.codec.encode_video`` (keyframe quality drawn from ``quality_range``), the bytes
are decoded with ``actdiff.codec.decode_segments`` — the decoder's exact path — and
``frames_per_window`` random (segment, t) pairs are turned into conditions with
``actdiff.conditioning.conditions.build_conditions`` (the function the diffusion decoder
calls). Each pair is cached as ``.npz`` (``cond`` float16 ``(C, H, W)``, ``target`` uint8
``(H, W, 3)``, ``valid`` = display ``(h, w)``) under ``cache_dir/<key>/`` where ``key``
hashes (codec config, data config, protocol, condition layout), so later epochs and runs
only read files. Items are random crops (the same crop for target and conditions; centre
crops for validation) as ``{"target": (3, h, w) in [-1, 1], "cond": (C, h, w)}`` float32.

Train/val split is by video: the last ``val_videos`` videos (sorted by name) validate.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset

from actdiff.conditioning import conditions
from actdiff.errors import ConfigError, InputError
from actdiff.types import DecodedSegment, StreamHeader, Video

log = logging.getLogger("actdiff.training")

#: ``(video, codec_cfg) -> (header, segments)``; the default runs the real codec.
SegmentSource = Callable[[Video, DictConfig], tuple[StreamHeader, list[DecodedSegment]]]


def codec_segment_source(video: Video, codec_cfg: DictConfig) -> tuple[StreamHeader, list[DecodedSegment]]:
    """Encode ``video`` with the real encoder and decode the bytes like the decoder does."""
    from actdiff.codec import decode_segments, encode_video

    result = encode_video(video, codec_cfg)
    return decode_segments(result.data, trusted=True)  # written just above from our own config


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


#: Packages whose code decides the cached conditions: editing any of them invalidates the cache,
#: so training never reuses conditions built by an older encoder/decoder.
CONDITION_CODE = ("codec", "conditioning", "entropy", "image_codecs", "motion", "selection", "tracking")


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


def cache_key(codec_cfg: Any, data_cfg: Any, protocol: Any = None, source: str = "codec") -> str:
    """Hash of everything that changes the cached pairs (batching/crop options excluded)."""
    data = dict(_plain(data_cfg) or {})
    for k in ("batch_size", "num_workers", "crop", "cache_dir", "samples_per_epoch"):
        data.pop(k, None)
    files = {}
    for src in data.get("sources") or []:
        p = Path(str(src)).expanduser()
        if p.exists():  # a replaced video invalidates the cache
            files[str(src)] = [p.stat().st_size, int(p.stat().st_mtime)]
    blob = json.dumps({"codec": _plain(codec_cfg), "data": data, "protocol": _plain(protocol),
                       "channels": conditions.CHANNELS, "source": source, "files": files,
                       "code": condition_code_hash()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_sources(data_cfg: DictConfig) -> list[Video]:
    """Read the videos named in ``data.sources`` (files, folders or dataset YAML/names).

    Frames are read through an ``actdiff.data`` protocol built from ``data.size``,
    ``data.max_frames`` and ``data.resize_mode`` (``crop``: cover ``H×W`` keeping the aspect).
    """
    from actdiff.data import load_dataset, load_protocol

    size = list(data_cfg.size) if data_cfg.get("size") else [None, None]
    protocol = load_protocol({"name": "train", "height": size[0], "width": size[1],
                              "max_frames": data_cfg.get("max_frames"),
                              "resize_mode": str(data_cfg.get("resize_mode", "crop")) if size[0] else "none"})
    videos: list[Video] = []
    for src in data_cfg.sources:
        p = Path(str(src)).expanduser()
        if p.is_file() and p.suffix not in (".yaml", ".yml"):
            videos.append(protocol.read(p))
            videos[-1].source = videos[-1].source or str(p)
        else:
            for seq in load_dataset(str(src)):
                v = seq.read(protocol)
                v.source = v.source or str(seq.path)
                videos.append(v)
    if not videos:
        raise InputError("no training videos: data.sources lists nothing readable")
    return videos


def split_by_video(videos: Sequence[Video], val_videos: int) -> tuple[list[int], list[int]]:
    """Indices (train, val): the last ``val_videos`` by source name validate (none if < 2 videos)."""
    order = sorted(range(len(videos)), key=lambda i: (videos[i].source, i))
    n_val = min(int(val_videos), len(videos) - 1) if len(videos) > 1 else 0
    if n_val < int(val_videos):
        log.warning("only %d video(s): %d held out for validation (split is by video)", len(videos), n_val)
    return order[:len(order) - n_val], order[len(order) - n_val:]


def _pad_to(frame: np.ndarray, h: int, w: int) -> np.ndarray:
    ph, pw = h - frame.shape[0], w - frame.shape[1]
    return np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else frame


def make_pairs(video: Video, codec_cfg: DictConfig, data_cfg: DictConfig, rng: np.random.Generator,
               source: SegmentSource) -> list[dict[str, np.ndarray]]:
    """Encode one random window of ``video`` and build ``frames_per_window`` (cond, target) pairs."""
    win = min(int(data_cfg.window_frames), video.num_frames)
    start = int(rng.integers(0, video.num_frames - win + 1))
    lo, hi = data_cfg.quality_range
    cfg = OmegaConf.merge(codec_cfg, {"keyframe_codec": {"quality": int(rng.integers(int(lo), int(hi) + 1))}})
    clip = Video(video.frames[start:start + win], video.fps, video.source)
    header, segs = source(clip, cfg)
    pool = [(s, t) for s in segs for t in range(1, s.segment.length - 1)]
    pool = pool or [(s, t) for s in segs for t in range(s.segment.length)]
    picks = rng.choice(len(pool), size=min(int(data_cfg.frames_per_window), len(pool)), replace=False)
    bidir = bool(data_cfg.get("bidirectional", True))
    out = []
    for i in sorted(picks):
        seg, t = pool[int(i)]
        cond = conditions.build_conditions(seg, t, bidir)
        h, w = cond.shape[1:]
        target = _pad_to(clip.frames[seg.segment.start + t], h, w)
        out.append({"cond": cond.astype(np.float16), "target": target,
                    "valid": np.array([min(header.height, h), min(header.width, w)], np.int64)})
    return out


class PairDataset(Dataset):
    """Cached pairs → random (train) or centre (val) crops of ``crop = (h, w)``."""

    def __init__(self, files: list[Path], crop: tuple[int, int], train: bool) -> None:
        self.files, self.crop, self.train = files, crop, train

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        with np.load(self.files[i]) as z:
            cond, target, (vh, vw) = z["cond"], z["target"], z["valid"]
        ch, cw = self.crop
        if vh < ch or vw < cw:
            raise ConfigError(f"crop {ch}x{cw} larger than the cached frame {vh}x{vw} (data.crop)")
        if self.train:
            y = int(torch.randint(0, vh - ch + 1, ()).item())
            x = int(torch.randint(0, vw - cw + 1, ()).item())
        else:
            y, x = (vh - ch) // 2, (vw - cw) // 2
        c = torch.from_numpy(cond[:, y:y + ch, x:x + cw].astype(np.float32))
        tg = torch.from_numpy(target[y:y + ch, x:x + cw].astype(np.float32)).permute(2, 0, 1) / 127.5 - 1
        return {"cond": c, "target": tg}


class VideoClipDataModule(L.LightningDataModule):
    """Args:
        data_cfg: the ``data`` section (sources, size, max_frames, window_frames, windows_per_video,
            val_windows_per_video, frames_per_window, quality_range, crop, batch_size, num_workers,
            val_videos, bidirectional, cache_dir, seed).
        codec_cfg: the ``codec`` section used to encode windows.
        protocol: the evaluation protocol section (part of the cache key only).
        videos: in-memory videos (tests) instead of ``data.sources``.
        segment_source: replaces the real codec (tests feed synthetic ``DecodedSegment`` s).
    """

    def __init__(self, data_cfg: DictConfig, codec_cfg: DictConfig, protocol: Any = None,
                 videos: list[Video] | None = None, segment_source: SegmentSource | None = None) -> None:
        super().__init__()
        self.data_cfg, self.codec_cfg = data_cfg, codec_cfg
        self._videos = videos
        self.source = segment_source or codec_segment_source
        name = "codec" if segment_source is None else getattr(segment_source, "__qualname__", "custom")
        self.key = cache_key(codec_cfg, data_cfg, protocol, name)
        self.cache = Path(str(data_cfg.cache_dir)).expanduser() / self.key
        self.train_set: PairDataset | None = None
        self.val_set: PairDataset | None = None

    def videos(self) -> list[Video]:
        if self._videos is None:
            self._videos = read_sources(self.data_cfg)
        return self._videos

    def _manifest(self) -> Path:
        return self.cache / "manifest.json"

    def prepare_data(self) -> None:
        """Build the cache once (rank 0); a complete cache (manifest present) is reused."""
        if self._manifest().is_file():
            return
        d = self.data_cfg
        videos = self.videos()
        train, val = split_by_video(videos, int(d.get("val_videos", 1)))
        self.cache.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, list[str]] = {"train": [], "val": []}
        splits = (("train", train, d.windows_per_video), ("val", val, d.get("val_windows_per_video", 1)))
        for split, idx, n_win in splits:
            for vi in idx:
                for w in range(int(n_win)):
                    rng = np.random.default_rng([int(d.get("seed", 0)), vi, w, split == "val"])
                    for j, pair in enumerate(make_pairs(videos[vi], self.codec_cfg, d, rng, self.source)):
                        f = self.cache / f"{split}_{vi:03d}_{w:03d}_{j:03d}.npz"
                        np.savez(f, **pair)
                        manifest[split].append(f.name)
        log.info("cached %d train / %d val pairs in %s", len(manifest["train"]), len(manifest["val"]), self.cache)
        self._manifest().write_text(json.dumps(manifest))

    def setup(self, stage: str | None = None) -> None:
        if not self._manifest().is_file():
            self.prepare_data()
        manifest = json.loads(self._manifest().read_text())
        crop = tuple(int(c) for c in self.data_cfg.crop)
        self.train_set = PairDataset([self.cache / f for f in manifest["train"]], crop, train=True)
        self.val_set = PairDataset([self.cache / f for f in manifest["val"]], crop, train=False)
        if len(self.train_set) == 0:
            raise InputError(f"no training pairs were made (cache {self.cache})")

    def _loader(self, ds: PairDataset, shuffle: bool) -> DataLoader:
        nw = int(self.data_cfg.get("num_workers", 0))
        return DataLoader(ds, batch_size=int(self.data_cfg.batch_size), shuffle=shuffle, num_workers=nw,
                          persistent_workers=nw > 0, drop_last=shuffle and len(ds) >= int(self.data_cfg.batch_size))

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)
