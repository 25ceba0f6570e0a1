"""Dataset descriptions (``configs/data/*.yaml``) and folder datasets.

Schema of a dataset YAML::

    name: uvg
    root: /path/to/files     # relative: to the repository root; "package:assets/..." : inside
                             # the actdiff package; "???": must be set (data.root=...)
    prepare: experiments/prepare_uvg.sh   # how to get the files (named in errors), or null
    format: yuv420p          # a raw layout: yuv420p (8-bit 4:2:0), yuv420p10le, yuv444p … (FFmpeg's
                             # names, actdiff.io.planar.PIX_FMTS) | container | png | y4m | auto
    width: 1920              # needed for raw .yuv
    height: 1080
    color: {matrix: bt709, range: limited}   # raw YUV interpretation
    sequences:
      - {name: Beauty, file: Beauty_1920x1080_120fps_420_8bit_YUV.yuv, frames: 600, fps: 120}

``format: auto`` (``configs/data/folder.yaml``) lists the sequences from ``root``: video files,
``.y4m``, folders of image frames, and raw ``.yuv`` files whose name says
``<W>x<H>_<fps>`` (e.g. ``Beauty_1920x1080_120fps_420_8bit_YUV.yuv``); such a name's ``10bit``
(``12bit``, ``16bit``) and ``444`` give its layout (``yuv444p10le``), else 8-bit 4:2:0.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from actdiff.config import config_root, load_yaml
from actdiff.data.protocols import Protocol, load_protocol
from actdiff.errors import ConfigError, InputError, check_distinct
from actdiff.io import VideoInfo, video_info
from actdiff.io.container import EXTENSIONS as CONTAINER_EXTENSIONS
from actdiff.io.planar import PIX_FMTS
from actdiff.io.pngdir import list_frames, natural_key
from actdiff.io.rawyuv import pix_fmt_from_name, yuv_from_name
from actdiff.types import Video

log = logging.getLogger(__name__)

FORMATS = (*PIX_FMTS, "container", "png", "y4m", "auto")
_KEYS = {"name", "root", "prepare", "format", "width", "height", "color", "sequences"}
_SEQ_KEYS = {"name", "file", "frames", "fps", "width", "height", "format"}


def repo_root() -> Path:
    """Folder holding the ``actdiff`` package (the repository root in a checkout)."""
    return Path(__file__).resolve().parent.parent.parent


def resolve_root(root: str | Path) -> Path:
    """``package:REL`` → inside the package; a relative path → under the repository root."""
    s = str(root)
    if s.startswith("package:"):
        return Path(__file__).resolve().parent.parent / s[len("package:"):]
    p = Path(s).expanduser()
    return p if p.is_absolute() else Path(os.path.normpath(repo_root() / p))


@dataclass
class Sequence:
    """One video of a dataset.

    Attributes:
        name: short name (``Beauty``); path: the file or frame folder.
        format: a raw ``.yuv`` layout (``yuv420p``, ``yuv420p10le`` …), ``container``, ``png`` or ``y4m``.
        frames, fps: as described by the dataset (``None`` = from the file).
        width, height: stored size (needed for raw ``.yuv``).
        color: ``{"matrix": ..., "range": ...}`` for raw YUV.
        dataset, prepare: for error messages.
    """

    name: str
    path: Path
    format: str
    frames: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    color: dict[str, str] = field(default_factory=lambda: {"matrix": "bt709", "range": "limited"})
    dataset: str = ""
    prepare: str | None = None

    def _io_kwargs(self) -> dict[str, Any]:
        if self.format in PIX_FMTS:
            if not self.width or not self.height or not self.fps:
                raise ConfigError(f"dataset {self.dataset}: raw YUV sequence {self.name} needs width, height and fps")
            return {"yuv_size": (int(self.width), int(self.height)), "yuv_fps": float(self.fps),
                    "yuv_format": self.format,
                    "yuv_matrix": self.color.get("matrix", "bt709"),
                    "yuv_range": self.color.get("range", "limited")}
        if self.format == "png" and self.fps:
            return {"fps": float(self.fps)}
        return {}

    def check(self) -> None:
        """``InputError`` naming the file and how to get it when it is missing."""
        if not self.path.exists():
            how = f"run {self.prepare} or " if self.prepare else ""
            raise InputError(f"missing {self.path} (sequence {self.name} of dataset {self.dataset}; "
                             f"{how}set data.root to the folder holding it)")

    def info(self) -> VideoInfo:
        self.check()
        return video_info(self.path, **{k: v for k, v in self._io_kwargs().items()
                                        if k in ("yuv_size", "yuv_fps", "fps", "yuv_format")})

    def read(self, protocol: Protocol | str | Mapping | DictConfig | None = None, **io_kwargs: Any) -> Video:
        """Decode under ``protocol`` (name, config or :class:`Protocol`; ``None``: all, native)."""
        self.check()
        p = load_protocol(protocol)
        return p.read(self.path, **{**self._io_kwargs(), **io_kwargs})


@dataclass
class Dataset:
    """A named list of sequences (iterate, ``len``, index by position or name)."""

    name: str
    root: Path
    format: str
    sequences: list[Sequence]
    prepare: str | None = None
    #: its sequences are whatever ``root`` holds (a folder listed): an output folder there would be one
    listed: bool = False

    def __post_init__(self) -> None:
        """``InputError`` when two sequences share a name (``clip.mp4`` beside a frame folder
        ``clip/``): results are keyed by name, so one would silently replace the other."""
        first: dict[str, Sequence] = {}
        for s in self.sequences:
            if s.name in first:
                raise InputError(f"dataset {self.name}: two sequences are named {s.name!r} ({first[s.name].path} "
                                 f"and {s.path}); rename or move one")
            first[s.name] = s

    def __iter__(self) -> Iterator[Sequence]:
        return iter(self.sequences)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, key: int | str) -> Sequence:
        if isinstance(key, int):
            return self.sequences[key]
        for s in self.sequences:
            if s.name == key:
                return s
        raise KeyError(f"no sequence {key!r} in dataset {self.name}")

    def check(self) -> None:
        """``InputError`` for the first missing file (naming the prepare script)."""
        if not self.root.is_dir():
            how = f"run {self.prepare} or " if self.prepare else ""
            raise InputError(f"dataset {self.name}: folder {self.root} does not exist ({how}set data.root)")
        for s in self.sequences:
            s.check()


def sequence_at(p: Path, color: dict[str, str] | None = None, name: str = "") -> Sequence | None:
    """The sequence at ``p`` (a video, a ``.y4m``, a frame folder or a size-named ``.yuv``), or
    ``None`` for anything else; ``name``: the dataset's."""
    ext = p.suffix.lower()
    if p.is_dir():
        return Sequence(p.name, p, "png", dataset=name) if list_frames(p) else None
    if ext in CONTAINER_EXTENSIONS or ext == ".y4m":
        return Sequence(p.stem, p, "y4m" if ext == ".y4m" else "container", dataset=name)
    if ext == ".yuv":
        meta = yuv_from_name(p)
        if meta is None:
            log.warning("skipping %s: raw .yuv name does not give <W>x<H>_<fps>", p)
            return None
        return Sequence(p.stem, p, meta["format"], fps=meta["fps"], width=meta["width"], height=meta["height"],
                        color=dict(color or {"matrix": "bt709", "range": "limited"}), dataset=name)
    return None


def list_folder(root: Path, color: dict[str, str] | None = None, name: str = "") -> list[Sequence]:
    """Sequences found in a folder: videos, ``.y4m``, frame folders and size-named ``.yuv``."""
    found = (sequence_at(p, color, name) for p in sorted(root.iterdir(), key=lambda q: natural_key(q.name))
             if not p.name.startswith("."))
    return [s for s in found if s is not None]


def folder_dataset(root: str | Path, color: dict[str, str] | None = None, name: str = "") -> Dataset:
    """A :class:`Dataset` of everything :func:`list_folder` finds in ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist")
    seqs = list_folder(root, color, name or root.name)
    if not seqs:
        raise InputError(f"no videos, .y4m, .yuv (named NAME_<W>x<H>_<fps>) or frame folders in {root}")
    return Dataset(name or root.name, root, "auto", seqs, listed=True)


def file_dataset(path: str | Path) -> Dataset:
    """A :class:`Dataset` of the one video ``path`` (named after the file, as in a folder)."""
    path = Path(path)
    found = sequence_at(path, name=path.stem) if path.is_file() else None
    if found is None:
        raise InputError(f"{path} is not a video actdiff can read (a container, .y4m, or a .yuv named "
                         "NAME_<W>x<H>_<fps>), nor a dataset YAML")
    return Dataset(path.stem, path.parent, "auto", [found])


def _load_cfg(cfg_or_path: str | Path | Mapping | DictConfig) -> DictConfig | Path:
    if isinstance(cfg_or_path, DictConfig):
        return cfg_or_path
    if isinstance(cfg_or_path, Mapping):
        return OmegaConf.create(dict(cfg_or_path))
    p = Path(cfg_or_path)
    if p.is_dir() or p.is_file() and p.suffix.lower() not in (".yaml", ".yml"):
        return p  # a folder of videos, or one video
    if p.is_file():
        return load_yaml(p)
    group = config_root() / "data"
    q = group / f"{cfg_or_path}.yaml"
    if q.is_file():
        return load_yaml(q)
    known = sorted(x.stem for x in group.glob("*.yaml"))
    raise ConfigError(f"unknown dataset {str(cfg_or_path)!r}: not a folder, a YAML file or one of "
                      f"{', '.join(known) or 'none'}")


def load_dataset(
    cfg_or_path: str | Path | Mapping | DictConfig,
    *,
    root: str | Path | None = None,
    sequences: Seq[str] | None = None,
    check: bool = True,
) -> Dataset:
    """Load a dataset description.

    Args:
        cfg_or_path: a dataset name (``uvg`` → ``configs/data/uvg.yaml``), a YAML path, a
            mapping / ``DictConfig`` (``cfg.data``), a FOLDER (lists its videos) or one video file.
        root: overrides the description's ``root``.
        sequences: keep only these sequence names (in this order).
        check: raise ``InputError`` (naming the file and the prepare script) if a file is missing.
    """
    src = _load_cfg(cfg_or_path)
    if isinstance(src, Path):
        ds = folder_dataset(src) if src.is_dir() else file_dataset(src)
    else:
        ds = _from_cfg(src, root)
    if sequences is not None:
        check_distinct("sequences", sequences)
        names = [s.name for s in ds.sequences]
        bad = [n for n in sequences if n not in names]
        if bad:
            raise ConfigError(f"dataset {ds.name} has no sequence(s) {', '.join(bad)} (known: {', '.join(names)})")
        ds.sequences = [ds[n] for n in sequences]
    if check:
        ds.check()
    return ds


def _from_cfg(cfg: DictConfig, root_override: str | Path | None) -> Dataset:
    unknown = sorted(set(cfg.keys()) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown dataset key(s) {', '.join(map(str, unknown))} (known: {', '.join(sorted(_KEYS))})")
    name = str(cfg.get("name") or "dataset")
    if root_override is None and (OmegaConf.is_missing(cfg, "root") or cfg.get("root") in (None, "")):
        raise ConfigError(f"dataset {name}: root is not set (data.root=/path/to/videos)")
    try:
        data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    except OmegaConfBaseException as e:  # interpolation errors
        raise ConfigError(f"dataset {name}: {str(e).splitlines()[0]}") from None
    root = resolve_root(root_override if root_override is not None else data["root"])
    fmt = data.get("format") or "auto"
    if fmt not in FORMATS:
        raise ConfigError(f"dataset {name}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    color = dict(data.get("color") or {"matrix": "bt709", "range": "limited"})
    prepare = data.get("prepare")
    if fmt == "auto" and not data.get("sequences"):
        if not root.is_dir():
            raw = str(OmegaConf.to_container(cfg, resolve=False).get("root"))
            env = re.search(r"oc\.env:(\w+)", raw)
            how = f" or export {env.group(1)}=/path" if env else ""
            raise InputError(f"dataset {name}: folder {root} does not exist (set data.root=/path{how})")
        ds = folder_dataset(root, color, name)
        ds.prepare = prepare
        return ds
    seqs = []
    for i, s in enumerate(data.get("sequences") or []):
        bad = sorted(set(s) - _SEQ_KEYS) if isinstance(s, dict) else None
        if bad is None or "file" not in s:
            raise ConfigError(f"dataset {name}: sequence {i} needs at least a file")
        if bad:
            raise ConfigError(f"dataset {name}: unknown sequence key(s) {', '.join(bad)}")
        path = root / s["file"]
        sfmt = s.get("format") or fmt
        if sfmt not in FORMATS:
            raise ConfigError(f"dataset {name}: sequence {i}: unknown format {sfmt!r} (known: {', '.join(FORMATS)})")
        if sfmt == "auto":
            sfmt = "png" if path.suffix == "" else {".y4m": "y4m"}.get(path.suffix.lower(), "container")
            sfmt = pix_fmt_from_name(path.name) if path.suffix.lower() == ".yuv" else sfmt
        seqs.append(Sequence(
            name=str(s.get("name") or Path(s["file"]).stem), path=path, format=sfmt,
            frames=s.get("frames"), fps=s.get("fps"),
            width=s.get("width", data.get("width")), height=s.get("height", data.get("height")),
            color=color, dataset=name, prepare=prepare))
    if not seqs:
        raise ConfigError(f"dataset {name} lists no sequences")
    return Dataset(name, root, fmt, seqs, prepare)
