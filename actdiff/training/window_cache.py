"""The window cache: what the REAL codec produced for each training window, written once.

One record per (clip, window, augmentation, codec config): the augmented window's target frames
and what :func:`actdiff.codec.decode_segments` returned for the bytes the encoder wrote for them
(decoded keyframes, decoded trajectories, bandwidths, spans), plus the bytes themselves. The
condition tensors are NOT cached: the datasets (:mod:`actdiff.training.window_datasets`) build
them on the fly with the decoder's own ``build_conditions``, so the conditions seen in training
and at decoding cannot drift, and the cache is ~20x smaller than float16 conditions.

Files of record ``NAME`` in the cache folder (written atomically; the ``.npz`` is written last,
so its presence means the record is complete, and a killed build resumes where it stopped):

* ``NAME.frames.npy`` — ``uint8 (T, H, W, 3)`` target frames (display size), memory-mapped on read;
* ``NAME.npz`` — ``keys`` ``uint8 (K, Hc, Wc, 3)`` decoded keyframes (coded size), ``key_index``
  ``int64 (S, 2)`` (start, end keyframe of each segment), ``spans`` ``int64 (S, 2)``
  (window-relative first/last frame), ``bandwidth`` ``float64 (S,)``, ``pos_i``/``vis_i``/
  ``conf_i`` (segment ``i``'s decoded tracks), ``bitstream`` (the ``.adv`` bytes; empty when a
  test's stand-in source made the segments), ``header`` and ``entry`` (JSON).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from actdiff.errors import InputError
from actdiff.training.augment import WindowSpec, apply_plan, draw_plan
from actdiff.training.corpus import Clip
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks, Video

log = logging.getLogger("actdiff.training")

#: Bumped when the record layout changes (part of the cache key).
RECORD_VERSION = 3

#: ``(video, codec_cfg) -> (header, segments)``; ``None`` = the real codec (encode → bytes → decode).
SegmentSource = Callable[[Video, DictConfig], tuple[StreamHeader, list[DecodedSegment]]]


@dataclass
class WindowTask:
    """Window ``index`` of ``count`` of ``clip`` in ``split`` (``train`` | ``val``), record ``name``."""

    clip: Clip
    split: str
    index: int
    count: int

    @property
    def name(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.clip.name)[:60]
        return f"{safe}-{self.clip.identity()}-{self.split}{self.index:04d}"


@dataclass
class WindowRecord:
    """A loaded record. ``frames``: ``uint8 (T, H, W, 3)``; ``segments``: window-relative spans."""

    frames: np.ndarray
    header: StreamHeader
    segments: list[DecodedSegment]
    entry: dict[str, Any]


def _atomic_save(path: Path, write: Callable[[Any], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


def save_record(folder: Path, name: str, frames: np.ndarray, header: StreamHeader,
                segments: Sequence[DecodedSegment], entry: dict[str, Any], data: bytes | None) -> int:
    """Write record ``name`` (frames first, the ``.npz`` last); returns the bytes written."""
    keys: list[np.ndarray] = []
    index = []
    for s in segments:
        pair = []
        for k in (s.key_start, s.key_end):
            if not keys or not np.array_equal(keys[-1], k):
                keys.append(np.asarray(k, np.uint8))
            pair.append(len(keys) - 1)
        index.append(pair)
    arrays: dict[str, Any] = {
        "keys": np.stack(keys), "key_index": np.asarray(index, np.int64).reshape(-1, 2),
        "spans": np.asarray([[s.segment.start, s.segment.end] for s in segments], np.int64).reshape(-1, 2),
        "bandwidth": np.asarray([s.bandwidth for s in segments], np.float64),
        "detail_mix": np.asarray([np.nan if s.detail_mix is None else s.detail_mix for s in segments], np.float64),
        "bitstream": np.frombuffer(data or b"", np.uint8),
        "header": np.asarray(json.dumps({**header.__dict__})), "entry": np.asarray(json.dumps(entry)),
    }
    for i, s in enumerate(segments):
        arrays[f"pos_{i}"], arrays[f"vis_{i}"] = s.tracks.positions, s.tracks.visible
        arrays[f"conf_{i}"] = s.tracks.confidence
    _atomic_save(folder / f"{name}.frames.npy", lambda f: np.save(f, np.ascontiguousarray(frames, np.uint8)))
    _atomic_save(folder / f"{name}.npz", lambda f: np.savez(f, **arrays))
    return (folder / f"{name}.frames.npy").stat().st_size + (folder / f"{name}.npz").stat().st_size


def read_entry(folder: Path, name: str) -> dict[str, Any]:
    """The manifest entry stored in record ``name`` (name, split, frames, size, coded, spans, plan)."""
    with np.load(folder / f"{name}.npz") as z:
        return json.loads(str(z["entry"]))


def load_record(folder: Path, name: str) -> WindowRecord:
    """Load record ``name``; its frames are memory-mapped (read-only)."""
    frames = np.load(folder / f"{name}.frames.npy", mmap_mode="r")
    with np.load(folder / f"{name}.npz") as z:
        keys, kidx, spans, bw, mix = z["keys"], z["key_index"], z["spans"], z["bandwidth"], z["detail_mix"]
        segs = [DecodedSegment(Segment(int(a), int(b)), keys[ks], keys[ke],
                               Tracks(z[f"pos_{i}"], z[f"vis_{i}"], z[f"conf_{i}"]), float(bw[i]),
                               None if np.isnan(mix[i]) else float(mix[i]))
                for i, ((a, b), (ks, ke)) in enumerate(zip(spans, kidx))]
        fields = json.loads(str(z["header"]))
        header = StreamHeader(**{**fields, "repeated": tuple(fields.get("repeated", ()))})
        entry = json.loads(str(z["entry"]))
    return WindowRecord(frames, header, segs, entry)


def _window_rng(spec: WindowSpec, task: WindowTask) -> np.random.Generator:
    return np.random.default_rng([spec.seed, int(task.clip.identity()[:8], 16), task.index, task.split == "val"])


def build_window(task: WindowTask, spec: WindowSpec, codec_cfg: DictConfig, folder: Path,
                 source: SegmentSource | None = None, threads: int | None = None) -> tuple[dict[str, Any], int]:
    """Draw, augment, encode and decode one window; write its record. Returns (entry, bytes).
    ``threads``: the encoder's worker threads (``codec.threads``; ``None``: the config's), which
    do not change the stream."""
    from actdiff.codec import decode_segments, encode_video
    from actdiff.codec.repeats import drop_repeats

    plan = draw_plan(spec, _window_rng(spec, task), task.clip.shape(), task.split == "train", task.index, task.count)
    src = task.clip.read(plan.start, plan.length)
    if src.num_frames < 2:
        raise InputError(f"{task.clip.name}: cannot read frames {plan.start}..{plan.start + plan.length - 1}")
    plan = replace(plan, length=src.num_frames)
    video = Video(apply_plan(src.frames, plan), src.fps, src.source or task.clip.name)
    cfg = OmegaConf.merge(codec_cfg, spec.codec_overrides(plan), {} if threads is None else {"threads": threads})
    data = None
    if source is None:
        data = encode_video(video, cfg).data
        header, segs = decode_segments(data, trusted=True)  # written just above from our own config
    else:
        header, segs = source(video, cfg)
    frames = drop_repeats(video.frames, header.repeated)  # the segments index the coded frames
    entry = {"name": task.name, "clip": task.clip.name, "split": task.split, "frames": len(frames),
             "size": [video.height, video.width], "coded": list(segs[0].key_start.shape[:2]),
             "spans": [[s.segment.start, s.segment.end] for s in segs], "plan": plan.to_dict(),
             "bytes": len(data) if data is not None else None}
    return entry, save_record(folder, task.name, frames, header, segs, entry, data)


def _build_star(args: tuple) -> tuple[dict[str, Any], int]:
    return build_window(*args)


def one_core_per_process(worker_id: int | None = None) -> None:
    """Initializer of the cache's encoder processes and of the data loaders' spawned workers
    (which pass ``worker_id``, unused): each uses one core (OpenCV and torch threads, and
    ``codec.threads`` through :func:`build_window`), so N processes do not start N × cores
    threads on the machine. Spawned processes only: in a forked child ``cv2.setNumThreads``
    deadlocks once the parent has used OpenCV's pool."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 if it does not exist)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _limit_error(need: float, limit: float, cache_root: Path, other: float, what: str) -> InputError:
    stale = f", {other / 1e9:.1f} GB of it under other cache keys (older configs: delete them)" if other else ""
    return InputError(f"the training cache {what} about {need / 1e9:.1f} GB in {cache_root}{stale}, over "
                      f"data.cache_max_gb={limit / 1e9:g}: raise it, lower data.windows_per_video, "
                      "data.window_frames or data.size, or set data.cache_dir to a larger disk")


def build_cache(tasks: Sequence[WindowTask], spec: WindowSpec, codec_cfg: DictConfig, folder: Path,
                source: SegmentSource | None = None, workers: int = 1, max_bytes: float | None = None) -> list[dict]:
    """Make every missing record of ``tasks`` in ``folder``; return all their manifest entries.

    Args:
        workers: encoder processes (``1``: in this process; more: a ``spawn`` pool of processes
            that use one core each (:func:`one_core_per_process`), so ``source`` must then be
            picklable, e.g. a module-level function).
        max_bytes: limit on the whole cache root (``folder.parent``, every key): checked before
            encoding (existing + estimated new records) and after every record, with a one-line
            ``InputError`` saying what to change.
    """
    folder.mkdir(parents=True, exist_ok=True)
    missing = [t for t in tasks if not (folder / f"{t.name}.npz").is_file()]
    root = folder.parent
    if max_bytes is not None:
        have = folder_bytes(root)
        h, w = spec.size or (256, 384)
        per = spec.window_frames * h * w * 3 * 1.3 + 65536  # frames + ~30 % decoded keyframes/tracks
        if have + len(missing) * per > max_bytes:
            raise _limit_error(have + len(missing) * per, max_bytes, root, have - folder_bytes(folder), "needs")
    if missing:
        log.warning("encoding %d training window(s) with %s into %s (%d process(es))", len(missing),
                    "the real codec" if source is None else getattr(source, "__qualname__", "a stand-in"),
                    folder, workers)
        from tqdm.auto import tqdm

        bar = tqdm(total=len(missing), desc="training windows", unit="window", file=sys.stderr,
                   disable=not sys.stderr.isatty(), dynamic_ncols=True)
        threads = 1 if workers > 1 else None  # one core per encoder process
        args = [(t, spec, codec_cfg, folder, source, threads) for t in missing]
        written = folder_bytes(root) if max_bytes is not None else 0
        pool = multiprocessing.get_context("spawn").Pool(workers, one_core_per_process) if workers > 1 else None
        try:
            for _, nbytes in (pool.imap_unordered(_build_star, args) if pool else map(_build_star, args)):
                bar.update(1)
                written += nbytes
                if max_bytes is not None and written > max_bytes:
                    raise _limit_error(written, max_bytes, root, 0, "reached")
        finally:
            bar.close()
            if pool is not None:
                pool.terminate()
        log.warning("training windows ready in %s", folder)
    return [read_entry(folder, t.name) for t in tasks]
