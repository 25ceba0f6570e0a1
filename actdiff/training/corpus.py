"""The training clips of a fit: where they come from, how they are split, how a window is read.

``data.sources`` lists video files, folders of videos and dataset descriptions (a name such as
``train_clips`` → ``configs/data/train_clips.yaml``, or a YAML path). ``data.root`` (optional)
replaces the ``root`` of every dataset description listed (``data.root=/my/clips``); files and
folders are taken as given. Each source FILE is one :class:`Clip`.

The split is by file: :func:`split_by_file` ranks the clip names by ``sha256(f"{seed}:{name}")``
and holds out the first ones, so it depends on nothing but the names and the seed (not on the
order the files were listed in, nor on the process), and adding a file never moves another file
from validation to training unless the held-out count changes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from actdiff.data import Protocol, Sequence, load_dataset
from actdiff.errors import ConfigError, InputError
from actdiff.types import Video

log = logging.getLogger("actdiff.training")


@dataclass
class Clip:
    """One training source file (or an in-memory video, in tests).

    Attributes:
        name: unique name, the unit of the train/validation split (the file name, e.g.
            ``cutie_singer.mp4``; in-memory videos: their ``source`` or ``video<i>``).
        sequence: how to read it (``None`` for an in-memory video).
        video: the frames of an in-memory clip (``None`` for a file).
        max_frames: only the first ``max_frames`` frames are used (``None``: all).
    """

    name: str
    sequence: Sequence | None = None
    video: Video | None = None
    max_frames: int | None = None

    def identity(self) -> str:
        """Stable id of the clip's content: name + file size and mtime (a replaced file changes it)."""
        h = hashlib.sha256(self.name.encode())
        if self.sequence is not None:
            st = self.sequence.path.stat() if self.sequence.path.exists() else None
            h.update(repr((str(self.sequence.path.resolve()), st and st.st_size, st and int(st.st_mtime))).encode())
        elif self.video is not None:
            h.update(repr(self.video.frames.shape).encode())
            h.update(hashlib.sha256(np.ascontiguousarray(self.video.frames)).digest())
        return h.hexdigest()[:12]

    def shape(self) -> tuple[int, int, int]:
        """``(frames, height, width)`` at the native size; frames capped by ``max_frames``."""
        if self.video is not None:
            n, h, w = self.video.frames.shape[:3]
        else:
            vi = self.sequence.info()
            n, h, w = vi.num_frames, vi.height, vi.width
        return (min(n, self.max_frames) if self.max_frames else n), h, w

    def read(self, start: int, count: int) -> Video:
        """Frames ``[start, start + count)`` at the native size (fewer if the file ends early)."""
        if self.video is not None:
            v = self.video
            return Video(v.frames[start:start + count], v.fps, v.source or self.name)
        v = self.sequence.read(Protocol(name="window", start=int(start), max_frames=int(count)))
        v.source = v.source or str(self.sequence.path)
        return v


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


def _file_sequences(src: str, root: str | None) -> list[Sequence]:
    """Sequences of one ``data.sources`` entry (a file, a folder, a dataset name or YAML)."""
    p = Path(src).expanduser()
    if p.is_file() and p.suffix not in (".yaml", ".yml"):
        from actdiff.data.datasets import sequence_at

        found = sequence_at(p)
        if found is None:
            raise InputError(f"data.sources: {p} is not a video file actdiff can read")
        return [found]
    if p.is_dir():
        return list(load_dataset(p))
    return list(load_dataset(src, root=root or None))


def source_list(sources: Any) -> list[str]:
    """``data.sources`` as a list of strings: one name or path (``data.sources=train_clips``) is a
    list of one (a string was read letter by letter); ``ConfigError`` for a mapping, or a list
    holding one."""
    if sources is None:
        return []
    if not isinstance(sources, (list, tuple, dict)):
        sources = [sources]
    if isinstance(sources, dict) or any(isinstance(s, (list, tuple, dict)) for s in sources):
        raise ConfigError(f"data.sources must list video files, folders or dataset names, got {sources!r}")
    return [str(s) for s in sources]


def list_clips(data_cfg: Any, videos: Seq[Video] | None = None) -> list[Clip]:
    """The clips of ``data.sources`` (or the in-memory ``videos``), one per source file.

    Raises ``InputError`` (one line, naming the folder) when a source is missing, and when
    nothing is listed.
    """
    data = _plain(data_cfg) or {}
    max_frames = data.get("max_frames")
    if videos is not None:
        names = [v.source or f"video{i}" for i, v in enumerate(videos)]
        names = [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]
        return [Clip(n, video=v, max_frames=max_frames) for n, v in zip(names, videos)]
    root = data.get("root")
    seqs: list[Sequence] = []
    for src in source_list(data.get("sources")):
        seqs += _file_sequences(str(src), root)
    if not seqs:
        raise InputError("no training videos: data.sources lists nothing readable")
    unique = {s.path.resolve(): s for s in reversed(seqs)}  # a file listed twice is one clip
    seqs = [s for s in seqs if unique.get(s.path.resolve()) is s]
    names = [s.path.name for s in seqs]
    clips = []
    for s, n in zip(seqs, names):
        if names.count(n) > 1:  # same file name in two folders: keep both, tell them apart
            n = f"{n}@{hashlib.sha256(str(s.path.resolve()).encode()).hexdigest()[:6]}"
        clips.append(Clip(n, sequence=s, max_frames=max_frames))
    return clips


def _rank(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def split_by_file(names: Seq[str], val: int | float | Seq[str] | None, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split clip names into (train, val), by file, deterministically.

    Args:
        names: the clips' unique names.
        val: a count of held-out files (``int >= 0``), a fraction (``0 < float < 1``, rounded,
            at least one), or the list of names to hold out.
        seed: which files a count/fraction holds out (ranking by ``sha256(f"{seed}:{name}")``).

    Returns:
        ``(train, val)`` name lists, each sorted. A count that would leave no training file is
        reduced (with a warning) to ``len(names) - 1``.
    """
    names = sorted(set(names))
    if isinstance(val, (list, tuple)) or (val is not None and not isinstance(val, (int, float))):
        held = [str(v) for v in val]
        unknown = sorted(set(held) - set(names))
        if unknown:
            raise ConfigError(f"data.val_files names unknown file(s) {', '.join(unknown)} "
                              f"(files: {', '.join(names)})")
        return [n for n in names if n not in held], sorted(held)
    v = float(val or 0)
    if v < 0:
        raise ConfigError(f"data.val_videos must be >= 0, got {val}")
    n_val = max(1, round(v * len(names))) if 0 < v < 1 else int(v)
    if n_val >= len(names) and n_val > 0:
        log.warning("only %d file(s): %d held out for validation (the split is by file)", len(names),
                    len(names) - 1)
        n_val = len(names) - 1
    held = set(sorted(names, key=lambda n: _rank(n, seed))[:n_val])
    return [n for n in names if n not in held], sorted(held)


def split_clips(clips: Seq[Clip], data_cfg: Any) -> tuple[list[Clip], list[Clip]]:
    """:func:`split_by_file` with ``data.val_files`` (a list, wins) or ``data.val_videos``
    (count or fraction, default 1) and ``data.split_seed`` (default ``data.seed``)."""
    data = _plain(data_cfg) or {}
    val = data.get("val_files") if data.get("val_files") is not None else data.get("val_videos", 1)
    seed = int(data.get("split_seed", data.get("seed", 0)) or 0)
    train, held = split_by_file([c.name for c in clips], val, seed)
    by_name = {c.name: c for c in clips}
    return [by_name[n] for n in train], [by_name[n] for n in held]
