"""The schema of the ``codec`` config section: every key's type and allowed values, checked before any work.

Defaults live in ``configs/codec/default.yaml`` only (a key it always sets is mandatory here, optional keys are
``None`` when absent, :data:`OMIT` keys may be left out). :func:`check_codec_config` merges the section into a
structured config of these dataclasses (OmegaConf checks the types: ``budget_points=abc`` or an unknown key fails)
and checks ranges and names, each error naming the key and what it must be; ``codec.rd`` in every mode. The keys
the bitstream carries take their limits from :data:`actdiff.codec.params.STREAM_PARAMS`."""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field, fields, is_dataclass, make_dataclass
from typing import Any, Dict, List, Optional, Tuple

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import actdiff.entropy  # noqa: F401  (registers the trajectory coders)
import actdiff.image_codecs  # noqa: F401  (registers the image codecs)
import actdiff.selection.segments  # noqa: F401  (registers the keyframe selectors)
import actdiff.selection.trajectories  # noqa: F401  (registers the trajectory selectors)
import actdiff.tracking  # noqa: F401  (registers the trackers)
from actdiff import registry
from actdiff.codec.bitstream import MAX_SEED, MAX_SEGMENT_FRAMES, MAX_SIDE
from actdiff.codec.distortion import Distortion
from actdiff.codec.params import STEP_RANGE, STRIDE_RANGE
from actdiff.decoders import MODULES as DECODER_MODULES
from actdiff.decoders.base import check_device_name
from actdiff.entropy.prediction import SNAP_RANGE
from actdiff.errors import ConfigError, shorten
from actdiff.image_codecs.scaled import MAX_SCALE
from actdiff.motion.temporal import DEFAULT_SMOOTH_ENDS, DEFAULT_SMOOTH_KEEP, SMOOTH_ENDS
from actdiff.registry import DECODERS
from actdiff.selection.scores import SCORES
from actdiff.selection.trajectories import MAX_POINTS

INF = math.inf


#: ``default=OMIT``: a key that may be left out (its user's default applies), null only if ``Optional``.
OMIT = object()


def _spec(default: Any, **metadata: Any) -> Any:
    """A schema field: mandatory (``MISSING``), with a ``default``, or left out (:data:`OMIT`)."""
    if default is OMIT:
        return field(default=MISSING, metadata={**metadata, "omit": True})
    return field(default=default, metadata=metadata)


def rng(lo: float = -INF, hi: float = INF, *, lo_open: bool = False, default: Any = MISSING) -> Any:
    """A field allowed in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); ``default``: ``None`` for an optional key."""
    return _spec(default, range=(lo, hi, lo_open))


def one_of(choices: Any, default: Any = MISSING) -> Any:
    """A field whose value must be in ``choices`` (a registry or a collection of names)."""
    return _spec(default, choices=choices)


def partial(schema: Any) -> Any:
    """``schema`` with every key :data:`OMIT` (overrides of its section: only the keys they change)."""
    hints = typing.get_type_hints(schema)
    return make_dataclass(f"Partial{schema.__name__}", [(f.name, hints[f.name], _spec(OMIT, **f.metadata))
                                                        for f in fields(schema)])


@dataclass
class TrackerSchema:
    name: str = one_of(registry.TRACKERS)
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
    name: str = one_of(registry.KEYFRAME_SELECTORS)
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
    name: str = one_of(registry.TRAJECTORY_SELECTORS)
    weight_map: str = one_of(registry.WEIGHT_MAPS)
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
    name: str = one_of(registry.TRAJECTORY_CODERS)
    step: float = rng(*STEP_RANGE)
    snap: float = rng(*SNAP_RANGE)


@dataclass
class KeyframeCodecSchema:
    name: str = one_of(registry.IMAGE_CODECS)
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


DistortionSchema = partial(Distortion)   # codec.rd.distortion; its ranges: Distortion's own checks
TrajectoryOverridesSchema = partial(TrajectoriesSchema)   # codec.rd.search, codec.rd.selection


class _RD:
    """``codec.rd`` (:class:`actdiff.codec.rd_settings.RDSettings`; keys left out: its defaults)."""

    qualities: List[int] = rng(0, 100)
    budgets: List[int] = rng(1, MAX_POINTS)
    scales: List[float] = rng(1, MAX_SCALE, default=OMIT)
    max_gop: int = rng(2, MAX_SEGMENT_FRAMES, default=OMIT)
    min_gop: int = rng(2, MAX_SEGMENT_FRAMES, default=OMIT)
    propagation: float = rng(0, 1, default=OMIT)
    distortion: Optional[DistortionSchema] = None
    search_speed: Optional[int] = rng(0, 10, default=OMIT)
    final_qualities: bool = _spec(OMIT)
    fast_partition: bool = _spec(OMIT)
    inter_rd: bool = _spec(OMIT)
    endpoint_credit: bool = _spec(OMIT)
    stride_choice: bool = _spec(OMIT)
    decoder: Any = _spec(OMIT)   # a decoder name or a codec.decoder-style section: _check_rd
    keyflow: Optional[bool] = _spec(OMIT)
    edge: Optional[bool] = _spec(OMIT)
    search: Optional[TrajectoryOverridesSchema] = None   # type: ignore[valid-type]
    selection: Optional[TrajectoryOverridesSchema] = None   # type: ignore[valid-type]
    eval_stride: int = rng(1, 1 << 20, default=OMIT)
    eval_frames: int = rng(1, 1 << 20, default=OMIT)
    slack: Optional[float] = rng(0, default=OMIT)
    refine: bool = _spec(OMIT)
    inherit_quality: bool = _spec(OMIT)
    scale_margin: Optional[float] = rng(0, default=OMIT)
    threads: Optional[int] = rng(1, 64, default=OMIT)


# ``lambda``, a keyword, added by hand; never instantiated, no generated __init__/__repr__/__eq__ (could not name it)
_RD.__annotations__ = {"lambda": float, **_RD.__annotations__}
setattr(_RD, "lambda", rng(0))
RDSchema = dataclass(init=False, repr=False, eq=False)(_RD)
PartialDecoderSchema = partial(DecoderSchema)


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
    rd: Optional[RDSchema] = None   # mode: rd (checked in every mode); read by actdiff.codec.rd_settings


def _nested(schema: Any, name: str) -> Any:
    """The dataclass of field ``name`` of ``schema`` (``Optional[...]`` unwrapped), or ``None``."""
    hint = typing.get_type_hints(schema)[name]
    return next((t for t in (hint, *typing.get_args(hint)) if is_dataclass(t)), None)


def _check_given(schema: Any, node: Dict[str, Any], prefix: str) -> None:
    """What OmegaConf would let pass in ``node``: a section of ``schema`` that is no mapping (``codec.keyframes=5``),
    an :data:`OMIT` boolean given as ``yes`` or 1 (their users always refused those)."""
    hints = typing.get_type_hints(schema)
    for f in fields(schema):
        sub, value, key = _nested(schema, f.name), node.get(f.name), f"{prefix}.{f.name}"
        if sub is not None and value is not None and not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r} must be {_describe(schema, f.name)}")
        if sub is not None and value is not None:
            _check_given(sub, value, key)
        if f.metadata.get("omit") and bool in (hints[f.name], *typing.get_args(hints[f.name])) \
                and value is not None and not isinstance(value, bool):
            raise ConfigError(f"{key} must be {_describe(schema, f.name)}, got {value!r}")


def _check_values(schema: Any, node: Dict[str, Any], prefix: str) -> None:
    """Ranges and names of the typed ``node`` (a plain dict) against the ``schema`` dataclass."""
    for f in fields(schema):
        value, key = node.get(f.name), f"{prefix}.{f.name}"
        if value is None:
            continue
        if isinstance(value, dict):
            if _nested(schema, f.name) is not None:   # a free-form section (rd.decoder) is checked by _check_rd
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


def _interval(f: Any) -> str:
    """``[0, 100]``, ``(0, 1000]``, ``[0, inf]``: the range of field ``f`` as the messages write it."""
    lo, hi, lo_open = f.metadata["range"]
    num = [str(int(x)) if math.isfinite(x) and float(x).is_integer() else f"{x:g}" for x in (lo, hi)]
    return f"{'(' if lo_open else '['}{num[0]}, {num[1]}]"


def _check_number(f: Any, key: str, value: Any) -> None:
    """One value of field ``f``: finite, and within the field's range if it has one."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} = {value} must be a finite number")
    if "range" in f.metadata:
        lo, hi, lo_open = f.metadata["range"]
        if value < lo or value > hi or (lo_open and value == lo):
            raise ConfigError(f"{key} = {value!r} is out of range {_interval(f)}")


def _field(schema: Any, full_key: str) -> Tuple[Any, Any]:
    """``(owner dataclass, field)`` at ``full_key`` (``keyframes.min_gop``, ``rd.qualities[1]``) of ``schema``."""
    names = [part.split("[")[0] for part in full_key.split(".")]
    for name in names[:-1]:
        schema = _nested(schema, name)
    return schema, next(f for f in fields(schema) if f.name == names[-1])


_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("true or false", "booleans"),
          str: ("a string", "strings")}


def _describe(schema: Any, full_key: str) -> str:
    """``an integer in [0, 2048]``, ``a list of numbers in [0, 1] or null``: the field at ``full_key`` of ``schema``."""
    owner, f = _field(schema, full_key)
    hint = typing.get_type_hints(owner)[f.name]
    nullable, element = type(None) in typing.get_args(hint), full_key.endswith("]")
    base = next(t for t in typing.get_args(hint) if t is not type(None)) if nullable else hint
    listed = typing.get_origin(base) in (list, tuple)
    section = "a section (a mapping of its keys)" if is_dataclass(base) else "a value"
    one, many = _NAMES.get(typing.get_args(base)[0] if listed else base, (section, "values"))
    text = f"a list of {many}" if listed and not element else one
    text += f" in {_interval(f)}" if "range" in f.metadata else ""
    return (text.replace(" or ", ", ") + " or null") if nullable and not element else text


def _type_error(e: OmegaConfBaseException, schema: Any, prefix: str) -> str:
    """One line for an OmegaConf merge error, naming the key and what it must be."""
    full_key = str(getattr(e, "full_key", "") or "")
    key = f"{prefix}.{full_key}" if full_key else prefix
    if type(e).__name__ == "ConfigKeyError":
        return f"{shorten(key)} is not a key of the codec section (a typo?)"
    if type(e).__name__ == "ValidationError" and full_key:
        value = getattr(e, "value", None)
        try:
            return f"{key} = {'null' if value is None else repr(value)} must be {_describe(schema, full_key)}"
        except (KeyError, TypeError, StopIteration):
            pass
    return f"{key}: {(str(getattr(e, 'msg', '') or e).splitlines() or [type(e).__name__])[0]}"


def _checked(schema: Any, given: Dict[str, Any], prefix: str) -> Dict[str, Any]:
    """``given`` (plain) converted to the ``schema`` dataclass's types (``"12"`` → 12 for an int key),
    nothing added, and checked; ``ConfigError`` naming the key (``prefix.key``) otherwise."""
    _check_given(schema, given, prefix)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), given)
        typed = OmegaConf.to_container(merged, resolve=True, throw_on_missing=False)
    except OmegaConfBaseException as e:
        raise ConfigError(_type_error(e, schema, prefix)) from None
    for key in sorted(OmegaConf.missing_keys(merged)):
        if not _field(schema, key)[1].metadata.get("omit"):
            raise ConfigError(f"{prefix}.{key} is missing")
    typed = _only_given(typed, given)
    _check_values(schema, typed, prefix)
    return typed


def _check_rd(rd: Dict[str, Any]) -> None:
    """What the types and ranges of ``codec.rd`` (typed) leave: lists not empty, ``min_gop <= max_gop``,
    the distortion's own checks, and the loop's decoder (a name or a section; typed in place)."""
    for key in ("qualities", "budgets", "scales"):
        if rd.get(key) == []:
            raise ConfigError(f"codec.rd.{key} = [] must be a non-empty list")
    if rd.get("min_gop", 2) > rd.get("max_gop", MAX_SEGMENT_FRAMES):
        raise ConfigError(f"codec.rd.min_gop = {rd['min_gop']} is larger than max_gop = {rd.get('max_gop')}")
    try:
        Distortion(**{k: tuple(v) if isinstance(v, list) else v for k, v in (rd.get("distortion") or {}).items()})
    except ConfigError as e:
        raise ConfigError(f"codec.{e}") from None
    spec = rd.get("decoder", "warp")
    if not isinstance(spec, (str, dict)):
        raise ConfigError(f"codec.rd.decoder must be a decoder name or a section (codec.decoder's keys), got {spec}")
    section = _checked(PartialDecoderSchema, {"name": spec} if isinstance(spec, str) else spec, "codec.rd.decoder")
    if isinstance(spec, dict):
        rd["decoder"] = section


def check_codec_config(cfg: Any) -> DictConfig:
    """Check a ``codec`` section (or a full config holding one) against :class:`CodecSchema`.

    Returns the section with its values converted to the schema's types (``"12"`` → 12) and nothing added; a one-line
    ``ConfigError`` naming the key otherwise (unknown, wrong type, out of range, unknown name, missing, a decoder device
    no decoder runs on, ``min_gop > max_gop``); ``codec.rd`` too in every mode (a mistake where unused still is)."""
    section = cfg.codec if isinstance(cfg, DictConfig) and "codec" in cfg else cfg
    given = OmegaConf.to_container(section, resolve=True) if isinstance(section, DictConfig) else dict(section)
    typed = _checked(CodecSchema, given, "codec")
    kf = typed["keyframes"]
    if kf["min_gop"] > kf["max_gop"]:
        raise ConfigError(f"codec.keyframes.min_gop = {kf['min_gop']} is larger than max_gop = {kf['max_gop']}")
    _check_rd(typed.get("rd") or {})
    if (typed.get("decoder") or {}).get("device") is not None:   # its name: another machine may decode
        check_device_name(typed["decoder"]["device"])
    return OmegaConf.create(typed)


def codec_threads(codec: Any) -> int:
    """``codec.threads`` (default 1): the encoder's worker threads (RD mode: ``codec.rd.threads``); no stream effect."""
    return int(codec.get("threads", None) or 1)


def _only_given(typed: Dict[str, Any], given: Dict[str, Any]) -> Dict[str, Any]:
    """``typed`` restricted to the keys of ``given`` (the schema's optional keys are not added)."""
    return {k: _only_given(typed[k], v) if isinstance(v, dict) and isinstance(typed.get(k), dict) else typed[k]
            for k, v in given.items()}
