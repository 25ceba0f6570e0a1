"""The ``codec.rd`` section of the config, checked once into :class:`RDSettings` (the RD search
of :mod:`actdiff.codec.rdo` reads nothing else). Keys and defaults: ``configs/codec/default.yaml``;
types and ranges: :class:`actdiff.codec.schema.RDSchema`, checked in every mode."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Optional, Tuple

from omegaconf import DictConfig, OmegaConf

from actdiff.codec.distortion import Distortion
from actdiff.codec.rd_keyframes import DEFAULT_PROPAGATION
from actdiff.codec.schema import TrajectoriesSchema, check_codec_config, codec_threads
from actdiff.errors import ConfigError
from actdiff.image_codecs.scaled import check_scale
from actdiff.motion.fusion import EDGE_SIGMA_R


def plain(section: Any) -> Any:
    """A config section as plain Python (dicts, lists); anything else unchanged."""
    return OmegaConf.to_container(section, resolve=True) if OmegaConf.is_config(section) else section


#: ``codec.rd`` switches of the loop's warp decoder: key → (``FusionParams`` field, value when true, when false).
LOOP_SWITCHES = {"keyflow": ("keyflow", True, False), "edge": ("edge_sigma_r", EDGE_SIGMA_R, 0.0)}


def _loop_switches(rd: DictConfig) -> Dict[str, Any]:
    """The loop's warp decoder's ``prediction_params`` set by :data:`LOOP_SWITCHES` (each true,
    false or null: as the decoder's section says)."""
    switches: Dict[str, Any] = {}
    for key, (name, on, off) in LOOP_SWITCHES.items():
        value = rd.get(key, None)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise ConfigError(f"codec.rd.{key} must be true, false or null, got {value!r}")
        switches[name] = on if value else off
    return switches


def _loop_decoder(rd: DictConfig) -> Any:
    """``codec.rd.decoder`` (a name or a section) with ``codec.rd.keyflow`` and ``codec.rd.edge``
    applied when it is the warp decoder and its section does not set them itself."""
    decoder, switches = plain(rd.get("decoder", "warp")), _loop_switches(rd)
    if not switches:
        return decoder
    section = {"name": decoder} if isinstance(decoder, str) else dict(decoder or {})
    if section.get("name") != "warp":
        return decoder
    params = dict(section.get("prediction_params") or {})
    return {**section, "prediction_params": {**switches, **params}}


def rd_distortion(codec: DictConfig) -> Distortion:
    """The distortion measure of ``codec.rd.distortion`` (defaults without the section)."""
    rd = codec.get("rd") or {}
    dist = dict(plain(rd.get("distortion")) or {})
    if "scale_weights" in dist:
        dist["scale_weights"] = tuple(float(x) for x in dist["scale_weights"])
    try:
        return Distortion(**dist)
    except TypeError as e:
        raise ConfigError(f"codec.rd.distortion: {e}") from None


def trajectory_overrides(rd: DictConfig, key: str) -> Dict[str, Any]:
    """``codec.rd.<key>``: overrides of ``codec.trajectories`` (a mapping of its keys, or null)."""
    value = plain(rd.get(key)) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"codec.rd.{key} must be a mapping of codec.trajectories keys, got {value!r}")
    known = {f.name for f in fields(TrajectoriesSchema)}
    bad = sorted(set(value) - known)
    if bad:
        raise ConfigError(f"codec.rd.{key}.{bad[0]} is not a key of codec.trajectories")
    return dict(value)


@dataclass(frozen=True)
class RDSettings:
    """The ``codec.rd`` section, checked. See ``configs/codec/default.yaml``."""

    lam: float
    qualities: Tuple[int, ...]
    budgets: Tuple[int, ...]
    scales: Tuple[float, ...]
    max_gop: int
    min_gop: int
    propagation: float
    distortion: Distortion = field(default_factory=Distortion)
    decoder: Any = "warp"
    search: Dict[str, Any] = field(default_factory=dict)    # trajectory overrides while searching
    eval_stride: int = 3
    eval_frames: int = 8
    refine: bool = False
    inherit_quality: bool = False
    slack: Optional[float] = None
    threads: int = 1
    scale_margin: Optional[float] = None
    search_speed: Optional[int] = None
    final_qualities: bool = False
    fast_partition: bool = False
    inter_rd: bool = True
    endpoint_credit: bool = False
    stride_choice: bool = False
    selection: Dict[str, Any] = field(default_factory=dict)  # trajectory overrides of the stream's own selection

    @classmethod
    def from_config(cls, codec: DictConfig, lam: Optional[float] = None) -> "RDSettings":
        """The settings of ``codec.rd`` (``lam``: λ instead of ``codec.rd.lambda``). Every key's type and
        range is checked first (:func:`actdiff.codec.schema.check_codec_config`, one-line ``ConfigError``)."""
        rd = codec.get("rd")
        if rd is None:
            raise ConfigError("codec.mode=rd needs a codec.rd section (see configs/codec/default.yaml)")
        for key in ("search", "selection") if hasattr(rd, "get") else ():   # named as keys of codec.trajectories
            trajectory_overrides(rd, key)
        codec = check_codec_config(codec)
        rd = codec.rd
        lam = float(rd.get("lambda")) if lam is None else float(lam)
        if not (lam >= 0 and math.isfinite(lam)):
            raise ConfigError(f"codec.rd.lambda must be a finite number >= 0, got {lam!r}")

        def ints(key: str, lo: int, hi: int) -> Tuple[int, ...]:
            v = plain(rd.get(key))
            if not isinstance(v, (list, tuple)) or not v or any(
                    isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi for x in v):
                raise ConfigError(f"codec.rd.{key} must be a non-empty list of integers in [{lo}, {hi}], got {v!r}")
            return tuple(sorted(set(v)))

        scales = plain(rd.get("scales", [1.0]))
        if not isinstance(scales, (list, tuple)) or not scales:
            raise ConfigError(f"codec.rd.scales must be a non-empty list of numbers, got {scales!r}")
        max_gop, min_gop = int(rd.get("max_gop", 96)), int(rd.get("min_gop", 2))
        if min_gop < 2 or max_gop < min_gop:
            raise ConfigError(f"codec.rd: need 2 <= min_gop <= max_gop, got min_gop={min_gop} max_gop={max_gop}")
        rho = float(rd.get("propagation", DEFAULT_PROPAGATION))
        if not 0 <= rho <= 1:
            raise ConfigError(f"codec.rd.propagation must be in [0, 1], got {rho!r}")
        stride, most = int(rd.get("eval_stride", 3)), int(rd.get("eval_frames", 8))
        if stride < 1 or most < 1:
            raise ConfigError(f"codec.rd: eval_stride and eval_frames must be >= 1, got {stride}, {most}")
        slack = rd.get("slack", None)
        if slack is not None and not float(slack) >= 0:
            raise ConfigError(f"codec.rd.slack must be null or >= 0, got {slack!r}")
        margin = rd.get("scale_margin", None)
        if margin is not None and not float(margin) >= 0:
            raise ConfigError(f"codec.rd.scale_margin must be null or >= 0, got {margin!r}")
        threads = rd.get("threads", None)
        if threads is None:  # the encoder's (checked by the codec schema)
            threads = codec_threads(codec)
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 64:
            raise ConfigError(f"codec.rd.threads must be null or an integer in [1, 64], got {threads!r}")
        speed = rd.get("search_speed", None)
        if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int) or not 0 <= speed <= 10):
            raise ConfigError(f"codec.rd.search_speed must be null or an integer 0–10, got {speed!r}")
        final = rd.get("final_qualities", False)
        if not isinstance(final, bool):
            raise ConfigError(f"codec.rd.final_qualities must be true or false, got {final!r}")
        fast_partition = rd.get("fast_partition", False)
        if not isinstance(fast_partition, bool):
            raise ConfigError(f"codec.rd.fast_partition must be true or false, got {fast_partition!r}")
        inter_rd = rd.get("inter_rd", True)
        if not isinstance(inter_rd, bool):
            raise ConfigError(f"codec.rd.inter_rd must be true or false, got {inter_rd!r}")
        endpoint_credit = rd.get("endpoint_credit", False)
        if not isinstance(endpoint_credit, bool):
            raise ConfigError(f"codec.rd.endpoint_credit must be true or false, got {endpoint_credit!r}")
        stride_choice = rd.get("stride_choice", False)
        if not isinstance(stride_choice, bool):
            raise ConfigError(f"codec.rd.stride_choice must be true or false, got {stride_choice!r}")
        return cls(lam, ints("qualities", 0, 100), ints("budgets", 1, 2048),
                   tuple(sorted({check_scale(float(s)) for s in scales})), max_gop, min_gop, rho,
                   rd_distortion(codec), _loop_decoder(rd), trajectory_overrides(rd, "search"),
                   stride, most, bool(rd.get("refine", False)), bool(rd.get("inherit_quality", False)),
                   None if slack is None else float(slack), threads, None if margin is None else float(margin),
                   speed, final, fast_partition, inter_rd, endpoint_credit, stride_choice,
                   trajectory_overrides(rd, "selection"))


__all__ = ["RDSettings", "plain", "rd_distortion"]
