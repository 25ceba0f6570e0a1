"""The schema of the ``codec`` config section: every key's type and allowed values, checked before any work.

``configs/codec/default.yaml`` is the one source of the defaults; the dataclasses below hold none
(a key the YAML always sets is mandatory here, optional keys are ``None`` when absent). Types are
checked by OmegaConf (the section is merged into a structured config of these dataclasses, so
``budget_points=abc`` or an unknown key fails with the key's name); ranges and names by
:func:`check_codec_config`, which names the key and its allowed range. The keys the bitstream
carries take their limits from :data:`actdiff.codec.params.STREAM_PARAMS`, and
:func:`check_codec_config` also runs the decoder's own header check on the header the encoder would
write — encode refuses what decode would refuse.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import actdiff.entropy  # noqa: F401  (registers the trajectory coders)
import actdiff.image_codecs  # noqa: F401  (registers the image codecs)
import actdiff.selection.segments  # noqa: F401  (registers the keyframe selectors)
import actdiff.selection.trajectories  # noqa: F401  (registers the trajectory selectors)
import actdiff.tracking  # noqa: F401  (registers the trackers)
from actdiff.codec.bitstream import MAX_SEED, MAX_SEGMENT_FRAMES, MAX_SIDE
from actdiff.codec.params import STEP_RANGE, STRIDE_RANGE
from actdiff.decoders import MODULES as DECODER_MODULES
from actdiff.entropy.prediction import SNAP_RANGE
from actdiff.errors import ConfigError
from actdiff.image_codecs.scaled import MAX_SCALE
from actdiff.motion.temporal import DEFAULT_SMOOTH_ENDS, DEFAULT_SMOOTH_KEEP, SMOOTH_ENDS
from actdiff.registry import (
    DECODERS,
    IMAGE_CODECS,
    KEYFRAME_SELECTORS,
    TRACKERS,
    TRAJECTORY_CODERS,
    TRAJECTORY_SELECTORS,
    WEIGHT_MAPS,
)
from actdiff.selection.scores import SCORES
from actdiff.selection.trajectories import MAX_POINTS

INF = math.inf


def rng(lo: float = -INF, hi: float = INF, *, lo_open: bool = False, default: Any = MISSING) -> Any:
    """A field allowed in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); ``default``: ``None`` for an optional key."""
    return field(default=default, metadata={"range": (lo, hi, lo_open)})


def one_of(choices: Any, default: Any = MISSING) -> Any:
    """A field whose value must be in ``choices`` (a registry or a collection of names)."""
    return field(default=default, metadata={"choices": choices})


@dataclass
class TrackerSchema:
    name: str = one_of(TRACKERS)
    preset: Optional[str] = None
    fb_threshold: float = rng(0, lo_open=True)
    visibility_threshold: float = rng(0, 1)
    appearance_tol: Optional[float] = rng(0, 255, default=None)  # grey levels; null/0: off
    checkpoint: Optional[str] = None   # cotracker3
    stride: Optional[int] = rng(1, 256, default=None)
    device: Optional[str] = None
    flow_memory_gb: Optional[float] = rng(0, default=None)  # null: half the memory available


@dataclass
class KeyframesSchema:
    name: str = one_of(KEYFRAME_SELECTORS)
    coverage_min: float = rng(0, 1)
    score: str = one_of(SCORES)
    score_min: float = rng(0, 1)
    patience: int = rng(1, MAX_SEGMENT_FRAMES)
    min_gop: int = rng(2, MAX_SEGMENT_FRAMES)
    max_gop: int = rng(2, MAX_SEGMENT_FRAMES)
    scene_cut_threshold: float = rng(0, 1)
    fixed_gop: int = rng(2, MAX_SEGMENT_FRAMES)
    weights: Optional[str] = None
    threshold: float = rng(0, 1)
    analysis_scale: Optional[float] = rng(0, 1, lo_open=True, default=None)


@dataclass
class TrajectoriesSchema:
    name: str = one_of(TRAJECTORY_SELECTORS)
    weight_map: str = one_of(WEIGHT_MAPS)
    weight_map_weights: Optional[str] = None
    budget_points: int = rng(0, MAX_POINTS)
    budget_bits: Optional[float] = rng(0, 1e9, lo_open=True, default=None)
    anchor_fraction: float = rng(0, 1)
    residual_cells: int = rng(1, 1 << 20)
    points_per_step: int = rng(1, MAX_POINTS)
    max_steps: int = rng(0, 1 << 20)
    anchor_snap: float = rng(0, 1e6)
    suppress: float = rng(0, 1e6)
    compare_grid: bool = MISSING
    compare_fractions: Optional[List[float]] = rng(0, 1, default=None)   # greedy: more anchor fractions tried
    visibility_balance: float = rng(0, 1, default=0.0)   # objective: weight of samples whose chains break
    objective_edge_sigma_r: float = rng(0, 1e4, default=0.0)   # objective: edge-aware fields (0: Gaussian)
    smooth_sigma: float = rng(0, 1000)
    smooth_ends: str = one_of(SMOOTH_ENDS, default=DEFAULT_SMOOTH_ENDS)
    smooth_keep: float = rng(0, 1000, default=DEFAULT_SMOOTH_KEEP)
    temporal_stride: int = rng(*STRIDE_RANGE)
    stride_tolerance: Optional[float] = rng(0, 1e3, default=None)
    decoded_choice: bool = False   # fast mode: the decoder chooses among the selector's candidate sets
    decoded_choice_frames: int = rng(1, 1 << 10, default=8)
    decoded_choice_temporal: float = rng(0, 1, default=0.0)
    decoded_choice_flow: float = rng(0, 4, default=0.0)


@dataclass
class EntropySchema:
    name: str = one_of(TRAJECTORY_CODERS)
    step: float = rng(*STEP_RANGE)
    snap: float = rng(*SNAP_RANGE)


@dataclass
class KeyframeCodecSchema:
    name: str = one_of(IMAGE_CODECS)
    quality: int = rng(0, 100)
    scale: float = rng(1, MAX_SCALE)
    speed: Optional[int] = None        # avif: checked by the codec
    checkpoint: Optional[str] = None   # compressai
    arch: Optional[str] = None         # compressai


@dataclass
class DecoderSchema:
    """Decoder options: types only here; values are checked by the decoder when it is built."""

    name: str = one_of(DECODERS)
    bidirectional: bool = MISSING
    prediction: Optional[str] = None
    prediction_params: Optional[Dict[str, Any]] = None
    weights: Optional[str] = None
    sampler: Optional[str] = None
    steps: Optional[int] = rng(1, 10000, default=None)
    strength: Optional[float] = None
    noise_mode: Optional[str] = None
    temporal_blend: Optional[float] = None
    base: Optional[str] = None
    detail_mix: Optional[float] = None
    residual_band: Optional[str] = None
    residual_from: Optional[str] = None
    residual_scale: Optional[float] = rng(0, 1, default=None)
    coarse_lock: Optional[bool] = None
    batch_size: int = rng(1, 1 << 16)
    device: Optional[str] = None


@dataclass
class RateControlSchema:
    target_bpp: Optional[float] = rng(0, 1e3, lo_open=True, default=None)
    tolerance: Optional[float] = rng(0, 1, lo_open=True, default=None)
    max_scale: Optional[float] = rng(1, MAX_SCALE, default=None)


@dataclass
class CodecSchema:
    seed: int = rng(0, MAX_SEED)
    mode: Optional[str] = one_of(("fast", "rd"), default=None)
    pad_multiple: int = rng(1, 256)
    min_size: int = rng(1, MAX_SIDE)
    repeat_psnr: Optional[float] = rng(20, 200, default=None)   # both modes: actdiff.codec.repeats
    tracker: TrackerSchema = field(default_factory=TrackerSchema)
    keyframes: KeyframesSchema = field(default_factory=KeyframesSchema)
    trajectories: TrajectoriesSchema = field(default_factory=TrajectoriesSchema)
    entropy: EntropySchema = field(default_factory=EntropySchema)
    keyframe_codec: KeyframeCodecSchema = field(default_factory=KeyframeCodecSchema)
    keyframe_spread: Optional[float] = rng(0, 100, default=None)   # fast mode: actdiff.codec.keyframe_quality
    keyframe_inter: Optional[bool] = None   # both modes: actdiff.codec.keyframe_inter
    send_detail_mix: Optional[bool] = None   # both modes: actdiff.codec.detail_mix
    detail_mix_stride: Optional[int] = rng(1, 64, default=None)   # actdiff.codec.detail_mix.scored_frames
    detail_mix_min_frames: Optional[int] = rng(1, 64, default=None)
    threads: Optional[int] = rng(1, 64, default=None)   # both modes: codec_threads below
    decoder: Optional[DecoderSchema] = None
    rate_control: Optional[RateControlSchema] = None
    rd: Optional[Dict[str, Any]] = None   # mode: rd; checked by actdiff.codec.rdo.RDSettings


def _nested(schema: Any, name: str) -> Any:
    """The dataclass of field ``name`` of ``schema`` (``Optional[...]`` unwrapped), or ``None``."""
    hint = typing.get_type_hints(schema)[name]
    return next((t for t in (hint, *typing.get_args(hint)) if is_dataclass(t)), None)


def _check_values(schema: Any, node: Dict[str, Any], prefix: str) -> None:
    """Ranges and names of the typed ``node`` (a plain dict) against the ``schema`` dataclass."""
    for f in fields(schema):
        value, key = node.get(f.name), f"{prefix}.{f.name}"
        if value is None:
            continue
        if isinstance(value, dict):
            if _nested(schema, f.name) is not None:   # a free-form section (rd) is checked by its user
                _check_values(_nested(schema, f.name), value, key)
            continue
        for v in value if isinstance(value, list) else [value]:   # a list: every element in range
            _check_number(f, key, v)
        choices = f.metadata.get("choices")
        if choices is not None and value not in choices and not (choices is DECODERS and value in DECODER_MODULES):
            known = choices.names() if hasattr(choices, "names") else sorted(choices)
            if choices is DECODERS:
                known = sorted(set(known) | set(DECODER_MODULES))
            raise ConfigError(f"{key} = {value!r} is not one of: {', '.join(known)}")


def _check_number(f: Any, key: str, value: Any) -> None:
    """One value of field ``f``: finite, and within the field's range if it has one."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} = {value} must be a finite number")
    if "range" in f.metadata:
        lo, hi, lo_open = f.metadata["range"]
        if value < lo or value > hi or (lo_open and value == lo):
            raise ConfigError(f"{key} = {value!r} is out of range {'(' if lo_open else '['}{lo:g}, {hi:g}]")


def _describe(full_key: str) -> str:
    """``an integer in [0, 2048]``-style description of the schema field at ``full_key``."""
    schema, f = CodecSchema, None
    for part in full_key.split("."):
        f = next((x for x in fields(schema) if x.name == part), None) if schema else None
        schema = _nested(schema, part) if f else None
    if f is None:
        return "a value of the schema's type"
    hint = typing.get_type_hints(_owner(full_key))[f.name]
    base = next((t for t in (hint, *typing.get_args(hint)) if t in (int, float, bool, str)), hint)
    text = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(base, str(base))
    if "range" in f.metadata:
        lo, hi, lo_open = f.metadata["range"]
        text += f" in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    return text + (" or null" if type(None) in typing.get_args(hint) else "")


def _owner(full_key: str) -> Any:
    schema = CodecSchema
    for part in full_key.split(".")[:-1]:
        schema = _nested(schema, part)
    return schema


def _type_error(e: OmegaConfBaseException) -> str:
    """One line for an OmegaConf merge error, naming the key and what it must be."""
    full_key = str(getattr(e, "full_key", "") or "")
    key = f"codec.{full_key}" if full_key else "codec"
    kind = type(e).__name__
    if kind == "ConfigKeyError":
        return f"{key} is not a key of the codec section (a typo?)"
    if kind == "MissingMandatoryValue":
        return f"{key} is missing"
    if kind == "ValidationError" and full_key:
        try:
            return f"{key} = {getattr(e, 'value', None)!r} must be {_describe(full_key)}"
        except (KeyError, TypeError, StopIteration):
            pass
    return f"{key}: {(str(getattr(e, 'msg', '') or e).splitlines() or [kind])[0]}"


def check_codec_config(cfg: Any) -> DictConfig:
    """Check a ``codec`` section (or a full config holding one) against :class:`CodecSchema`.

    Returns the section with its values converted to the schema's types (``"12"`` → 12 for an
    int key) and nothing added; ``ConfigError`` naming the key on an unknown key, a wrong type,
    a value out of range or an unknown registry name, a missing key, or ``min_gop > max_gop``.
    """
    section = cfg.codec if isinstance(cfg, DictConfig) and "codec" in cfg else cfg
    given = OmegaConf.to_container(section, resolve=True) if isinstance(section, DictConfig) else dict(section)
    try:
        typed = OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(CodecSchema), given),
                                       resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as e:
        raise ConfigError(_type_error(e)) from None
    _check_values(CodecSchema, typed, "codec")
    kf = typed["keyframes"]
    if kf["min_gop"] > kf["max_gop"]:
        raise ConfigError(f"codec.keyframes.min_gop = {kf['min_gop']} is larger than max_gop = {kf['max_gop']}")
    return OmegaConf.create(_only_given(typed, given))


def codec_threads(codec: Any) -> int:
    """``codec.threads`` (default 1): the encoder's worker threads in both modes (``codec.rd.threads``
    overrides it in the RD mode). The stream does not depend on it."""
    return int(codec.get("threads", None) or 1)


def _only_given(typed: Dict[str, Any], given: Dict[str, Any]) -> Dict[str, Any]:
    """``typed`` restricted to the keys of ``given`` (the schema's optional keys are not added)."""
    return {k: _only_given(typed[k], v) if isinstance(v, dict) and isinstance(typed.get(k), dict) else typed[k]
            for k, v in given.items()}
