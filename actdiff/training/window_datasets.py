"""Training items built on the fly from cached windows (:mod:`actdiff.training.window_cache`).

Both datasets read a record's decoded segment and call the decoder's own
``actdiff.conditioning.conditions.build_conditions`` (looked up at call time) in the DataLoader
worker, then crop targets and conditions together: the same random crop for a whole item in
training, the centre crop in validation, always inside the display area (the conditions are at
the coded size, the targets are edge-padded to it). ``crop=None`` keeps the whole display area.
Indices are fixed by the manifest (records in manifest order), so every DDP rank sees the same
index → item map and a ``DistributedSampler`` gives disjoint shards.

Items (``float32`` tensors; ``C = actdiff.conditioning.NUM_CHANNELS``, ``h, w`` the crop):

* :class:`PairDataset` (2D decoder): ``{"target": (3, h, w) in [-1, 1], "cond": (C, h, w)}``,
  one in-between frame of a segment (keyframes excluded unless a segment has no other frame).
* :class:`WindowDataset` (video decoder): ``{"target": (T, 3, h, w) in [-1, 1],
  "cond": (T, C, h, w), "frames": int64 (T,) segment-relative indices t0..t0+T-1,
  "length": int64 () the segment's length L}``: T consecutive frames of ONE segment (``cond[i]``
  is ``build_conditions(seg, frames[i])``; its ``tau`` channel is ``frames[i] / (L - 1)``; with
  ``conditions="video"`` ``cond`` is ``build_window_conditions(seg, frames)``, ``C = 30``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from actdiff.conditioning import conditions, segment
from actdiff.errors import ConfigError
from actdiff.training.window_cache import WindowRecord, load_record


class _Records:
    """Per-process LRU of loaded records (frames stay memory-mapped)."""

    def __init__(self, folder: Path, size: int = 8) -> None:
        self.folder, self.size = Path(folder), size
        self._cache: OrderedDict[str, WindowRecord] = OrderedDict()

    def __call__(self, name: str) -> WindowRecord:
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        rec = load_record(self.folder, name)
        self._cache[name] = rec
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return rec

    def __getstate__(self) -> dict:  # DataLoader workers start with an empty cache
        return {"folder": self.folder, "size": self.size, "_cache": OrderedDict()}


def _crop_box(valid: tuple[int, int], crop: tuple[int, int] | None, train: bool) -> tuple[int, int, int, int]:
    vh, vw = valid
    ch, cw = crop or (vh, vw)
    if vh < ch or vw < cw:
        raise ConfigError(f"crop {ch}x{cw} larger than the cached frame {vh}x{vw} (data.crop)")
    if train:
        y = int(torch.randint(0, vh - ch + 1, ()).item())
        x = int(torch.randint(0, vw - cw + 1, ()).item())
    else:
        y, x = (vh - ch) // 2, (vw - cw) // 2
    return y, x, ch, cw


def _target(frames: np.ndarray, y: int, x: int, ch: int, cw: int) -> torch.Tensor:
    """``uint8 (..., H, W, 3)`` display frames → ``float32 (..., 3, ch, cw)`` in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(frames[..., y:y + ch, x:x + cw, :]).astype(np.float32))
    return t.movedim(-1, -3) / 127.5 - 1


class _WindowItems(Dataset):
    """Shared plumbing: the records of ``entries`` (manifest entries) in ``folder``."""

    def __init__(self, folder: Path, entries: Sequence[dict[str, Any]], crop: Sequence[int] | None,
                 train: bool, bidirectional: bool = True, prediction: bool = False) -> None:
        self.entries = list(entries)
        self.crop = tuple(int(c) for c in crop) if crop else None
        self.train, self.bidirectional, self.prediction = train, bidirectional, prediction
        self.records = _Records(folder)
        self.index: list[tuple[int, int, int]] = []  # (entry, segment, frame) per item

    def __len__(self) -> int:
        return len(self.index)

    def key(self, i: int) -> tuple[str, int, int]:
        """``(record name, segment index, segment-relative frame)`` of item ``i``."""
        e, s, t = self.index[i]
        return self.entries[e]["name"], s, t

    def _segment(self, i: int):
        e, s, t = self.index[i]
        rec = self.records(self.entries[e]["name"])
        valid = (min(rec.header.height, rec.frames.shape[1]), min(rec.header.width, rec.frames.shape[2]))
        return rec, rec.segments[s], t, valid


class PairDataset(_WindowItems):
    """(target frame, conditions) pairs for the 2D decoder.

    Args:
        frames_per_window: pairs kept per record (drawn once, seeded by ``seed`` and the record's
            name), ``None`` = every in-between frame of every segment.
        prediction: conditions with the ``pred`` group (models with ``residual_base: pred``).
    """

    def __init__(self, folder: Path, entries: Sequence[dict[str, Any]], crop: Sequence[int] | None, train: bool,
                 bidirectional: bool = True, frames_per_window: int | None = None, seed: int = 0,
                 prediction: bool = False) -> None:
        super().__init__(folder, entries, crop, train, bidirectional, prediction)
        for e, entry in enumerate(self.entries):
            pool = [(s, t) for s, (a, b) in enumerate(entry["spans"]) for t in range(1, b - a)]
            pool = pool or [(s, t) for s, (a, b) in enumerate(entry["spans"]) for t in range(b - a + 1)]
            if frames_per_window is not None and frames_per_window < len(pool):
                h = int(hashlib.sha256(entry["name"].encode()).hexdigest()[:8], 16)
                picks = np.random.default_rng([seed, h]).choice(len(pool), frames_per_window, replace=False)
                pool = [pool[int(p)] for p in sorted(picks)]
            self.index += [(e, s, t) for s, t in pool]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rec, seg, t, valid = self._segment(i)
        cond = conditions.build_conditions(seg, t, self.bidirectional, self.prediction)
        y, x, ch, cw = _crop_box(valid, self.crop, self.train)
        return {"cond": torch.from_numpy(np.ascontiguousarray(cond[:, y:y + ch, x:x + cw])),
                "target": _target(rec.frames[seg.segment.start + t], y, x, ch, cw)}


class WindowDataset(_WindowItems):
    """Windows of ``clip_frames`` consecutive frames of one segment, for a video decoder.

    Args:
        clip_frames: ``T``; segments with fewer usable frames give no item.
        stride: frames between the starts of two items of a segment (default ``T``: disjoint).
        include_keyframes: the segment's keyframes (``t = 0`` and ``L - 1``) may be in a window;
            ``False``: only in-between frames ``1..L-2``.
        conditions: ``frame`` — ``cond[i] = build_conditions(seg, frames[i], prediction=prediction)``
            (``C = 20``, 23 with ``prediction``);
            ``video`` — ``cond = build_window_conditions(seg, frames)``, the segment conditions of
            the video generators (:mod:`actdiff.conditioning.segment`, ``C = 30``).
    """

    def __init__(self, folder: Path, entries: Sequence[dict[str, Any]], crop: Sequence[int] | None, train: bool,
                 clip_frames: int, bidirectional: bool = True, stride: int | None = None,
                 include_keyframes: bool = True, conditions: str = "frame", prediction: bool = False) -> None:
        super().__init__(folder, entries, crop, train, bidirectional, prediction)
        if clip_frames < 1:
            raise ConfigError(f"data.clip_frames must be >= 1, got {clip_frames}")
        if conditions not in ("frame", "video"):
            raise ConfigError(f"unknown data.conditions {conditions!r} (frame | video)")
        self.conditions = conditions
        self.clip_frames, step = int(clip_frames), int(stride or clip_frames)
        for e, entry in enumerate(self.entries):
            for s, (a, b) in enumerate(entry["spans"]):
                lo, hi = (0, b - a) if include_keyframes else (1, b - a - 1)
                self.index += [(e, s, t0) for t0 in range(lo, hi - self.clip_frames + 2, step)]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rec, seg, t0, valid = self._segment(i)
        frames = list(range(t0, t0 + self.clip_frames))
        if self.conditions == "video":
            cond = segment.build_window_conditions(seg, frames, self.bidirectional)
        else:
            cond = np.stack([conditions.build_conditions(seg, t, self.bidirectional, self.prediction) for t in frames])
        y, x, ch, cw = _crop_box(valid, self.crop, self.train)
        start = seg.segment.start
        return {"cond": torch.from_numpy(np.ascontiguousarray(cond[:, :, y:y + ch, x:x + cw])),
                "target": _target(rec.frames[start + t0:start + t0 + self.clip_frames], y, x, ch, cw),
                "frames": torch.tensor(frames, dtype=torch.int64),
                "length": torch.tensor(seg.segment.length, dtype=torch.int64)}
