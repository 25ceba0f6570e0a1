"""Training windows and their augmentation, applied to the SOURCE frames before they are encoded.

A window is ``window_frames`` consecutive frames of one clip. Its augmentation (a random crop of
a random scale, resized to ``data.size``; a horizontal flip; time reversal) is applied to the
source frames, and the real codec then runs on the augmented frames, so the cached bitstream, its
decoded keyframes and trajectories, and the conditions built from them are by construction those
of the codec run on the augmented video: motion stays real (a reversed window is a video played
backwards, encoded as such), never a flipped condition tensor.

``data.augment`` (all optional; absent = no augmentation)::

    flip: 0.5          # probability of a horizontal flip
    reverse: 0.5       # probability of time reversal
    scale: [0.6, 1.0]  # crop side as a fraction of the largest crop of the window's aspect ratio
                       # (1 = the whole field of view, as resize_mode "crop" reads it)
    upsample: false    # false: a crop is never smaller than data.size (no up-scaling) unless the
                       # clip itself is smaller

Validation windows are never augmented: full field of view, no flip, no reversal, starts evenly
spaced over the clip.

``data.rate_points`` (optional, names of ``configs/rates/default.yaml``, e.g. ``[r1, r2, r3]``):
each window is encoded at one of these rate points (its keyframe quality, trajectory budget and
longest GOP), drawn per training window and taken in turn by the validation windows, instead of
the default codec config with a keyframe quality drawn from ``data.quality_range``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from actdiff.errors import ConfigError
from actdiff.io import resize_frame
from actdiff.training.checks import INF, check_number, check_size

AUGMENT_KEYS = {"flip", "reverse", "scale", "upsample"}
#: ``data.resize_mode``: crop (windows keep ``data.size``'s aspect ratio) | resize (squeezed to it).
RESIZE_MODES = ("crop", "resize")


@dataclass(frozen=True)
class WindowSpec:
    """What decides a window's frames besides its clip, its index and the codec config.

    Attributes:
        size: ``(H, W)`` the windows are encoded at, or ``None`` for the native size.
        window_frames: frames per window.
        quality_range: keyframe quality drawn per training window (inclusive).
        seed: seed of every per-window draw.
        flip, reverse: probabilities in ``[0, 1]``.
        scale: ``(lo, hi)`` crop fraction of the full field of view, ``0 < lo <= hi <= 1``.
        upsample: allow crops smaller than ``size``.
        keep_aspect: crops have ``size``'s aspect ratio (``data.resize_mode: crop``, default);
            ``False`` (``resize``): the whole frame is squeezed to ``size``.
        rate_points: ``((name, (override, ...)), ...)`` codec overrides drawn per window, or ``()``.
    """

    size: tuple[int, int] | None
    window_frames: int
    quality_range: tuple[int, int]
    seed: int = 0
    flip: float = 0.0
    reverse: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    upsample: bool = False
    keep_aspect: bool = True
    rate_points: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_cfg(cls, data_cfg: Any) -> WindowSpec:
        """The spec of the ``data`` section; ``ConfigError`` (one line, naming the key) for a bad
        ``data.size``, ``window_frames``, ``resize_mode``, ``seed`` or ``augment`` value."""
        d = OmegaConf.to_container(data_cfg, resolve=True) if isinstance(data_cfg, DictConfig) else dict(data_cfg)
        aug = _augment(d.get("augment"))
        q = tuple(int(v) for v in d.get("quality_range", (30, 30)))
        if d.get("window_frames") is None:
            raise ConfigError("data.window_frames must be >= 2")
        frames = int(check_number("data.window_frames", d["window_frames"], 2, INF, whole=True))
        mode = str(d.get("resize_mode", "crop"))
        if mode not in RESIZE_MODES:
            raise ConfigError(f"unknown data.resize_mode {mode!r} (known: {', '.join(RESIZE_MODES)})")
        seed = int(check_number("data.seed", d.get("seed", 0), 0, INF, whole=True))
        return cls(size=check_size("data.size", d.get("size") or None), window_frames=frames,
                   quality_range=(q[0], q[1]), seed=seed, keep_aspect=mode != "resize",
                   rate_points=_rate_points(d.get("rate_points")), **aug)

    def codec_overrides(self, plan: WindowPlan) -> dict[str, Any]:
        """The codec overrides of ``plan``: its rate point's, else its keyframe quality."""
        if plan.rate is None:
            return {"keyframe_codec": {"quality": plan.quality}}
        overrides = dict(self.rate_points)[plan.rate]
        return OmegaConf.to_container(OmegaConf.from_dotlist(list(overrides)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WindowPlan:
    """One window: which source frames, how they are augmented, at which keyframe quality.

    Attributes:
        start, length: source frames ``[start, start + length)``.
        quality: keyframe codec quality of this window's encode.
        flip, reverse: horizontal flip, time reversal.
        box: ``(y, x, h, w)`` crop of the native frames, resized to ``size``.
        size: ``(H, W)`` of the encoded window.
    """

    start: int
    length: int
    quality: int
    flip: bool
    reverse: bool
    box: tuple[int, int, int, int]
    size: tuple[int, int]
    rate: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _augment(aug: Any) -> dict[str, Any]:
    """``data.augment`` (a mapping, or null) as :class:`WindowSpec` fields, each value checked."""
    if aug is None:
        return {}
    if not isinstance(aug, dict):
        raise ConfigError(f"data.augment must be a mapping ({', '.join(sorted(AUGMENT_KEYS))}) or null, got {aug!r}")
    unknown = sorted(set(aug) - AUGMENT_KEYS)
    if unknown:
        raise ConfigError(f"unknown data.augment key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(AUGMENT_KEYS))})")
    scale = aug.get("scale", (1.0, 1.0))
    if not isinstance(scale, (list, tuple)) or len(scale) != 2:
        raise ConfigError(f"data.augment.scale must be [lo, hi] with 0 < lo <= hi <= 1, got {scale!r}")
    lo, hi = (check_number("data.augment.scale", v, 0, 1, low_open=True) for v in scale)
    if lo > hi:
        raise ConfigError(f"data.augment.scale must satisfy 0 < lo <= hi <= 1, got [{lo}, {hi}]")
    out: dict[str, Any] = {k: check_number(f"data.augment.{k}", aug.get(k, 0.0), 0, 1) for k in ("flip", "reverse")}
    if not isinstance(aug.get("upsample", False), bool):
        raise ConfigError(f"data.augment.upsample must be true or false, got {aug['upsample']!r}")
    return {**out, "scale": (lo, hi), "upsample": aug.get("upsample", False)}


def _rate_points(names: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not names:
        return ()
    if isinstance(names, str):  # one name: a list of one
        names = [names]
    from actdiff.evaluation.rates import load_rates

    points = load_rates(names=[str(n) for n in names])
    if any(not isinstance(v, list) for v in points.values()):
        raise ConfigError("data.rate_points takes rate point names (configs/rates/default.yaml), not target bpps")
    return tuple((k, tuple(str(o) for o in v)) for k, v in points.items())


def _full_view(h: int, w: int, size: tuple[int, int]) -> tuple[float, float]:
    """Height and width of the largest rectangle of ``size``'s aspect ratio inside ``h×w``."""
    th, tw = size
    return (float(h), h * tw / th) if w * th >= h * tw else (w * th / tw, float(w))


def draw_plan(spec: WindowSpec, rng: np.random.Generator, shape: tuple[int, int, int], train: bool,
              index: int = 0, count: int = 1) -> WindowPlan:
    """Draw window ``index`` (of ``count``) of a clip of ``shape = (frames, h, w)`` native frames.

    Training windows: random start, quality, flip, reversal, crop scale and position. Validation
    windows (``train=False``): starts evenly spaced, no augmentation, the quality still drawn.
    """
    n, h, w = shape
    length = min(spec.window_frames, n)
    lo, hi = spec.quality_range
    quality = int(rng.integers(lo, hi + 1))
    names = [name for name, _ in spec.rate_points]
    rate = (names[int(rng.integers(len(names)))] if train else names[index % len(names)]) if names else None
    size = spec.size or (h, w)
    fh, fw = _full_view(h, w, size) if spec.keep_aspect else (float(h), float(w))
    if not train:
        start = round(index * (n - length) / max(1, count - 1)) if count > 1 else (n - length) // 2
        ch, cw = round(fh), round(fw)
        box = ((h - ch) // 2, (w - cw) // 2, ch, cw)
        return WindowPlan(int(start), length, quality, False, False, box, size, rate)
    start = int(rng.integers(0, n - length + 1))
    c = float(rng.uniform(*spec.scale))
    if not spec.upsample:
        c = max(c, min(1.0, size[0] / fh))
    ch, cw = max(1, min(h, round(c * fh))), max(1, min(w, round(c * fw)))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    flip = bool(rng.random() < spec.flip)
    reverse = bool(rng.random() < spec.reverse)
    return WindowPlan(start, length, quality, flip, reverse, (y, x, ch, cw), size, rate)


def apply_plan(frames: np.ndarray, plan: WindowPlan) -> np.ndarray:
    """The augmented window: ``uint8 (T, h, w, 3)`` native frames → ``uint8 (T, H, W, 3)``.

    Crop ``plan.box``, resize to ``plan.size`` (area interpolation), then flip and reverse.
    """
    y, x, ch, cw = plan.box
    out = np.stack([resize_frame(f[y:y + ch, x:x + cw], plan.size, "resize") for f in frames])
    if plan.flip:
        out = out[:, :, ::-1]
    if plan.reverse:
        out = out[::-1]
    return np.ascontiguousarray(out)
