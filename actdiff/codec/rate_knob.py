"""The rate knob: one number ``λ ∈ [0, 1]`` that turns the fast mode's codec settings together.

Keyframe quality and trajectories per segment rise with ``λ`` and the longest GOP shrinks (more
keyframes); below the lowest rate point (``λ < 0.2``) the adaptive keyframe selector is also relaxed
(``strictness``). The anchors are read from a rates file (``configs/rates/default.yaml``: its
``knob.bottom``, each named point at its ``knob.points`` λ, ``knob.top``), so the rate points are
written once. :mod:`actdiff.codec.ratecontrol` searches ``λ`` for a target size.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np
from omegaconf import DictConfig, open_dict

from actdiff.codec.encoding import codec_section
from actdiff.config import config_root, load_yaml
from actdiff.errors import ConfigError

#: Knob settings a named rate point's codec overrides set (``configs/rates/default.yaml``).
_POINT_KEYS = {"keyframe_codec.quality": "quality", "trajectories.budget_points": "budget_points",
               "keyframes.max_gop": "max_gop"}
_COLUMNS = ("quality", "budget_points", "max_gop", "strictness")


def _anchor_row(lam: Any, settings: Dict[str, Any], where: str) -> Tuple[float, int, int, int, float]:
    missing = [k for k in _COLUMNS[:3] if k not in settings]
    if missing:
        raise ConfigError(f"rate knob {where} does not set {', '.join(missing)}")
    try:
        return (float(lam), int(settings["quality"]), int(settings["budget_points"]), int(settings["max_gop"]),
                float(settings.get("strictness", 1.0)))
    except (TypeError, ValueError):
        raise ConfigError(f"rate knob {where}: values must be numbers, got {settings}") from None


def anchors_from_rates(doc: Any, where: str = "rates file") -> Tuple[Tuple[float, int, int, int, float], ...]:
    """Knob anchors ``(λ, quality, budget_points, max_gop, strictness)`` from a rates document:
    its ``knob.bottom`` (λ = 0), each named point at the λ given in ``knob.points`` (its settings
    read from the point's own overrides, so the rate points are written once) and ``knob.top``."""
    knob = doc.get("knob") if hasattr(doc, "get") else None
    points = doc.get("points") if hasattr(doc, "get") else None
    if not knob or not points or "points" not in knob or "bottom" not in knob or "top" not in knob:
        raise ConfigError(f"{where}: needs 'points' and a 'knob' with 'points', 'bottom' and 'top'")
    rows = [_anchor_row(0.0, dict(knob["bottom"]), f"{where} knob.bottom")]
    for name, lam in dict(knob["points"]).items():
        if name not in points:
            raise ConfigError(f"{where}: knob.points names {name!r}, which is not a rate point")
        settings = {}
        for override in points[name]:
            key, _, value = str(override).partition("=")
            if key in _POINT_KEYS:
                settings[_POINT_KEYS[key]] = value
        rows.append(_anchor_row(lam, settings, f"{where} point {name}"))
    rows.append(_anchor_row(1.0, dict(knob["top"]), f"{where} knob.top"))
    return tuple(sorted(rows))


def default_anchors() -> Tuple[Tuple[float, int, int, int, float], ...]:
    """The anchors of ``configs/rates/default.yaml`` (the default rate points r0…r4 at λ = 0.2…0.8)."""
    path = config_root() / "rates" / "default.yaml"
    return anchors_from_rates(load_yaml(path), str(path))


@dataclass(frozen=True)
class RateParams:
    """Codec settings one knob position stands for."""

    quality: int
    budget_points: int
    max_gop: int
    strictness: float = 1.0
    scale: float = 1.0          # keyframe downscale factor (only below λ = 0)


@dataclass(frozen=True)
class RateKnob:
    """Piecewise-linear monotone map ``λ ∈ [0, 1]`` → :class:`RateParams`.

    Args:
        anchors: ``(λ, quality, budget_points, max_gop, strictness)`` rows with increasing ``λ``
            from 0 to 1, non-decreasing quality, budget and strictness (in [0, 1]),
            non-increasing ``max_gop``.
    """

    anchors: Optional[Tuple[Tuple[float, int, int, int, float], ...]] = None

    def __post_init__(self) -> None:
        if self.anchors is None:  # frozen dataclass: set the default once
            object.__setattr__(self, "anchors", default_anchors())
        a = np.asarray(self.anchors, np.float64)
        if a.ndim != 2 or a.shape[1] != 5 or len(a) < 2 or a[0, 0] != 0 or a[-1, 0] != 1:
            raise ConfigError("rate knob anchors must be rows (λ, quality, budget_points, max_gop, strictness) "
                              "from λ=0 to λ=1")
        d = np.diff(a, axis=0)
        if (d[:, 0] <= 0).any() or (d[:, 1] < 0).any() or (d[:, 2] < 0).any() or (d[:, 3] > 0).any() \
                or (d[:, 4] < 0).any() or a[:, 4].min() < 0 or a[:, 4].max() > 1:
            raise ConfigError("rate knob anchors must be monotone (λ, quality, budget, strictness rising; "
                              "max_gop falling; strictness in [0, 1])")

    def params(self, lam: float, num_frames: int, min_gop: int = 2) -> RateParams:
        """Settings at ``lam`` (clipped to [0, 1]); ``max_gop`` is capped at the clip length."""
        a = np.asarray(self.anchors, np.float64)
        lam = min(max(float(lam), 0.0), 1.0)
        q, b, g, st = (float(np.interp(lam, a[:, 0], a[:, k])) for k in (1, 2, 3, 4))
        gop = max(min_gop, min(int(round(g)), max(num_frames, min_gop)))
        return RateParams(int(round(q)), max(1, int(round(b))), gop, round(st, 2))


def with_params(cfg: DictConfig, params: RateParams) -> DictConfig:
    """A copy of ``cfg`` (full config or codec section) with the knob's settings applied."""
    out = copy.deepcopy(cfg)
    codec = codec_section(out)
    codec.keyframe_codec.quality = params.quality
    codec.trajectories.budget_points = params.budget_points
    codec.trajectories.budget_bits = None
    codec.keyframes.max_gop = params.max_gop
    with open_dict(codec.keyframe_codec):
        codec.keyframe_codec.scale = float(params.scale)
    if params.strictness != 1.0:
        codec.keyframes.coverage_min = float(codec.keyframes.coverage_min) * params.strictness
        codec.keyframes.score_min = float(codec.keyframes.score_min) * params.strictness
    return out


__all__ = ["RateKnob", "RateParams", "anchors_from_rates", "default_anchors", "with_params"]
