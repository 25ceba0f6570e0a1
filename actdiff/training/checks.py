"""The numbers of a fit config, checked before any folder is made or data coded.

A bad value used to surface late: ``data.batch_size=0`` as a DataLoader traceback after the
training windows were coded, ``optim.lr=-1`` as a traceback from AdamW, ``data.quality_range``
reversed as NumPy's "low >= high", and some not at all (``train.ema_decay=1.5`` trained with an
average that diverges; ``trainer.max_steps=0`` "finished" without a step). :func:`check_fit_config`
checks every such key the config has (keys a task does not use are absent and skipped), each with
a one-line ``ConfigError`` naming the key and its range; :func:`check_crop` checks the training
crop against the model once it is built.
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from actdiff.errors import ConfigError

INF = math.inf

#: ``key: (low, high, whole number, low open, high open)``; ``None`` values are skipped.
RANGES: dict[str, tuple[float, float, bool, bool, bool]] = {
    "trainer.max_steps": (1, INF, True, False, False),
    "trainer.accumulate_grad_batches": (1, INF, True, False, False),
    "trainer.checkpoint_every": (1, INF, True, False, False),
    "trainer.log_every_n_steps": (1, INF, True, False, False),
    "trainer.gradient_clip_val": (0, INF, False, False, False),
    "optim.lr": (0, INF, False, False, True),  # 0: the weights stay (a test of the loop)
    "optim.weight_decay": (0, INF, False, False, True),
    "optim.warmup_steps": (0, INF, True, False, False),
    "optim.min_lr_ratio": (0, 1, False, False, False),
    "train.ema_decay": (0, 1, False, False, True),
    "train.val_sample_frames": (0, INF, True, False, False),
    "train.shared_noise_prob": (0, 1, False, False, False),
    "train.temporal_loss_weight": (0, INF, False, False, True),
    "data.batch_size": (1, INF, True, False, False),
    "data.windows_per_video": (1, INF, True, False, False),
    "data.val_windows_per_video": (0, INF, True, False, False),
    "data.clip_frames": (1, INF, True, False, False),
    "data.clip_stride": (1, INF, True, False, False),
    "data.max_frames": (1, INF, True, False, False),
    "data.starts_every": (1, INF, True, False, False),  # selectors
    "data.horizon": (1, INF, True, False, False),
    "data.val_every": (1, INF, True, False, False),
    "data.window": (3, INF, True, False, False),
    "data.window_every": (1, INF, True, False, False),
    "data.uniform_points": (1, INF, True, False, False),
}

#: Keyframe qualities (``codec.keyframe_codec.quality``'s range).
QUALITY = (0, 100)


def _select(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None, throw_on_missing=False)


def check_number(key: str, value: Any, low: float, high: float, whole: bool = False,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a number when it lies in the range, else a ``ConfigError`` naming ``key``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not whole or float(value).is_integer())
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        kind = "a whole number" if whole else "a number"
        span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"{key} must be {kind} in {span}, got {value!r}")
    return float(value)


def check_fit_config(cfg: DictConfig) -> None:
    """Every key of :data:`RANGES` the config sets, ``optim.betas`` (two numbers in ``[0, 1)``) and
    ``data.quality_range`` (``[low, high]``, whole, ``0 <= low <= high <= 100``)."""
    for key, (low, high, whole, low_open, high_open) in RANGES.items():
        value = _select(cfg, key)
        if value is not None:
            check_number(key, value, low, high, whole, low_open, high_open)
    betas = _select(cfg, "optim.betas")
    if betas is not None:
        if len(betas) != 2:
            raise ConfigError(f"optim.betas must be two numbers in [0, 1), got {list(betas)}")
        for b in betas:
            check_number("optim.betas", b, 0, 1, high_open=True)
    check_size("data.size", _select(cfg, "data.size"))
    quality = _select(cfg, "data.quality_range")
    if quality is not None:
        if len(quality) != 2:
            raise ConfigError(f"data.quality_range must be [low, high], got {list(quality)}")
        low, high = (check_number("data.quality_range", q, *QUALITY, whole=True) for q in quality)
        if low > high:
            raise ConfigError(f"data.quality_range [{low:g}, {high:g}]: low must not exceed high")


def check_size(key: str, value: Any) -> tuple[int, int] | None:
    """``value`` (``[H, W]`` pixels, whole numbers >= 1, or null) as a pair, else a ``ConfigError``
    naming ``key`` (a single number or a zero side was a traceback after the run folder was made)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple, ListConfig)) or len(value) != 2:
        shown = list(value) if isinstance(value, ListConfig) else value
        raise ConfigError(f"{key} must be [H, W] (pixels) or null, got {shown!r}")
    h, w = (int(check_number(key, side, 1, INF, whole=True)) for side in value)
    return h, w


def check_crop(data: DictConfig, multiple: int) -> None:
    """``data.crop`` (``[H, W]`` pixels, or null: whole frames of ``data.size``) must be whole
    multiples of the model's ``size_multiple`` (the UNet's skips would not line up otherwise) and
    fit in ``data.size`` when that is set (the windows are encoded at that size)."""
    crop = check_size("data.crop", data.get("crop"))
    if crop is None:
        return
    if any(side % multiple for side in crop):
        raise ConfigError(f"data.crop {list(crop)}: each side must be a multiple of {multiple} "
                          "(the model's size_multiple)")
    size = check_size("data.size", data.get("size"))
    if size is not None and (crop[0] > size[0] or crop[1] > size[1]):
        raise ConfigError(f"data.crop {list(crop)} is larger than data.size {list(size)} (the windows' frames)")
