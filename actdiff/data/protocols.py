"""Evaluation protocols: which frames of a video are coded, and at what size.

A protocol config (``configs/protocol/*.yaml``) holds::

    name: cpu
    height: 256          # output size (null with resize_mode none: native size)
    width: 384
    start: 0             # first frame
    max_frames: 96       # frames kept (null: all)
    resize_mode: crop    # resize (exact HxW) | crop (cover HxW keeping aspect, centre crop) | none
    fit: pad             # pad: the codec pads to its multiple and crops back (display size kept)
                         # crop: frames are cropped down to a multiple of fit_multiple when read
    fit_multiple: 16     # only for fit: crop
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from numbers import Integral
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from actdiff.config import config_root, load_yaml
from actdiff.errors import ConfigError
from actdiff.io import crop_to, read_video
from actdiff.types import Video

RESIZE_MODES = ("resize", "crop", "none")
FITS = ("pad", "crop")
#: The whole-number fields: lowest value, and whether null is allowed.
_COUNTS = {"height": (1, True), "width": (1, True), "start": (0, False), "max_frames": (1, True),
           "fit_multiple": (1, False)}


def _check_field(key: str, value: Any) -> None:
    """``protocol.<key>``: a string name, a whole number in its range (null where allowed); one-line ``ConfigError``."""
    if key == "name":
        if not isinstance(value, str):
            raise ConfigError(f"protocol.name must be a string, got {value!r}")
        return
    lo, nullable = _COUNTS.get(key, (None, False))
    if lo is None or (value is None and nullable):
        return
    if isinstance(value, bool) or not isinstance(value, Integral) or value < lo:
        raise ConfigError(f"protocol.{key} must be an integer >= {lo}{' or null' if nullable else ''}, got {value!r}")


@dataclass(frozen=True)
class Protocol:
    """Frames and size to code (see the module docstring for the fields)."""

    name: str = "custom"
    height: int | None = None
    width: int | None = None
    start: int = 0
    max_frames: int | None = None
    resize_mode: str = "none"
    fit: str = "pad"
    fit_multiple: int = 16

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_field(f.name, getattr(self, f.name))
        if self.resize_mode not in RESIZE_MODES:
            raise ConfigError(f"protocol {self.name}: unknown resize_mode {self.resize_mode!r} "
                              f"(known: {', '.join(RESIZE_MODES)})")
        if self.fit not in FITS:
            raise ConfigError(f"protocol {self.name}: unknown fit {self.fit!r} (known: {', '.join(FITS)})")
        sized = self.height is not None and self.width is not None
        if (self.height is None) != (self.width is None):
            raise ConfigError(f"protocol {self.name}: give both height and width, or neither")
        if sized and self.resize_mode == "none":
            raise ConfigError(f"protocol {self.name}: height/width need resize_mode resize or crop")
        if not sized and self.resize_mode != "none":
            raise ConfigError(f"protocol {self.name}: resize_mode {self.resize_mode} needs height and width")

    @property
    def size(self) -> tuple[int, int] | None:
        """``(H, W)`` or ``None`` for the native size."""
        return None if self.height is None else (int(self.height), int(self.width))

    def read_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`actdiff.io.read_video` for this protocol."""
        return {"start": self.start, "max_frames": self.max_frames, "size": self.size,
                "resize_mode": "resize" if self.resize_mode == "none" else self.resize_mode}

    def apply_fit(self, video: Video) -> Video:
        """With ``fit: crop``, crop frames down to a multiple of ``fit_multiple`` (else unchanged)."""
        if self.fit != "crop":
            return video
        m = self.fit_multiple
        h, w = video.height // m * m, video.width // m * m
        if h == 0 or w == 0:
            raise ConfigError(
                f"protocol {self.name}: {video.height}x{video.width} frames are smaller than fit_multiple {m}"
            )
        return Video(frames=crop_to(video.frames, h, w), fps=video.fps, source=video.source)

    def read(self, path: str | Path, **io_kwargs: Any) -> Video:
        """Read ``path`` under this protocol (extra ``io_kwargs`` go to ``read_video``)."""
        return self.apply_fit(read_video(path, **self.read_kwargs(), **io_kwargs))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _from_mapping(data: Mapping[str, Any], default_name: str = "custom") -> Protocol:
    known = {f.name for f in fields(Protocol)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown protocol key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    kw = dict(data)
    kw.setdefault("name", default_name)
    return Protocol(**kw)


def load_protocol(name_or_cfg: str | Path | Mapping[str, Any] | DictConfig | Protocol | None) -> Protocol:
    """A :class:`Protocol` from a name (``cpu`` → ``configs/protocol/cpu.yaml``), a YAML path,
    a mapping / ``DictConfig`` (e.g. ``cfg.protocol``), or a ``Protocol`` (returned as is).
    ``None`` is the native protocol with every frame."""
    if name_or_cfg is None:
        return Protocol(name="native")
    if isinstance(name_or_cfg, Protocol):
        return name_or_cfg
    if isinstance(name_or_cfg, DictConfig):
        return _from_mapping(OmegaConf.to_container(name_or_cfg, resolve=True))
    if isinstance(name_or_cfg, Mapping):
        return _from_mapping(name_or_cfg)
    p = Path(name_or_cfg)
    if not p.is_file():
        group = config_root() / "protocol"
        p = group / f"{name_or_cfg}.yaml"
        if not p.is_file():
            known = sorted(q.stem for q in group.glob("*.yaml"))
            raise ConfigError(f"unknown protocol {str(name_or_cfg)!r} (known: {', '.join(known) or 'none'})")
    return _from_mapping(OmegaConf.to_container(load_yaml(p), resolve=True), default_name=p.stem)
