"""Ablation sweep specifications (``configs/ablation/*.yaml``) and their expansion into points.

A spec::

    name: table1                       # default: the file's stem
    description: ...
    command: evaluate                  # evaluate | fit_evaluate (alias: fit), see below
    data: sample                       # dataset name / YAML / folder (as ``evaluate --data``)
    sequences: null                    # optional subset of the dataset's sequences
    protocol: cpu                      # protocol group or YAML
    rates: [r0, r2, r4]                # rate point names (configs/rates), target bpps ("0.01"),
                                       # or an inline mapping {name: [codec-relative overrides]}
    rates_file: null                   # YAML of named rate points (default configs/rates/default.yaml)
    metrics: [psnr, ms_ssim, niqe]
    decoder: warp                      # or {name: warp, bidirectional: false}
    config: null                       # base config (default experiment/codec)
    overrides: []                      # applied to every point
    reference: {name: full, overrides: []}
    points:                            # explicit points ...
      - {name: uniform_grid, overrides: [codec.trajectories.name=uniform]}
      - {name: no_bidirectional, decoder: {bidirectional: false}}
    grid:                              # ... and/or a product of key → values
      codec.trajectories.budget_points: [16, 32, 64]

Overrides are full config keys (``codec.…``, ``protocol.…``) or group swaps (``codec=fixed_gop``),
exactly as after ``actdiff evaluate``. Rate-point overrides are applied last.

Training sweeps (``command: fit_evaluate``; ``command: fit`` is the same thing, there is no
train-only sweep since the table compares evaluated points): every point, the reference
included, first **trains** with the machinery of ``actdiff fit`` (in-process), then is
**evaluated** with the weights it exported, exactly like an ``evaluate`` point::

    command: fit_evaluate
    fit:
      config: experiment/train_test    # base config of ``actdiff fit`` (group/name or YAML path)
      overrides: [logger=none]         # ``actdiff fit`` overrides for every point
    reference: {name: eps, fit_overrides: [model.prediction_type=epsilon]}
    points:
      - {name: v, fit_overrides: [model.prediction_type=v_prediction], overrides: [...]}
    grid:
      fit.model.residual_over_warp: [true, false]   # ``fit.``-prefixed keys are fit overrides

``fit_overrides`` (and ``fit.``-prefixed grid keys or command-line overrides) change the training
config, applied in the order ``fit.overrides``, command line, the point's own (so the ablated
setting survives a command-line group swap like ``fit.model=tiny``); ``overrides`` still change
the evaluation (codec) config. What the trained weights replace
depends on the fit config's ``task``:

* ``denoiser`` (no task): the point is decoded with ``decoder: {name: diffusion, weights: W}``
  (the spec's ``decoder`` defaults to ``diffusion`` and may add ``steps``, ``sampler``, …);
* ``keyframe_selector``: the codec gets ``codec.keyframes.name=learned codec.keyframes.weights=W``;
* ``trajectory_selector``: ``codec.trajectories.weight_map=learned
  codec.trajectories.weight_map_weights=W`` (both with the spec's decoder, ``warp`` by default).

The sweep sets the fit config's ``run_dir`` and ``export`` (see ``actdiff.sweeps.run`` for the
folder layout); ``--frames`` limits only the evaluated frames (limit training data with
``fit.data.max_frames=N``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import OmegaConf

from actdiff.config import load_yaml, resolve_config_path
from actdiff.errors import ConfigError

COMMANDS = ("evaluate", "fit_evaluate")
ALIASES = {"fit": "fit_evaluate"}  # ``command: fit`` trains then evaluates, like fit_evaluate
TASKS = ("denoiser", "keyframe_selector", "trajectory_selector")
FIT_PREFIX = "fit."  # grid keys / command-line overrides with this prefix change the fit config
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


@dataclass
class Point:
    """One run of a sweep.

    Attributes:
        name: unique, file-name safe (the per-point results file is ``points/<name>.json``).
        overrides: config overrides of this point (after the spec's common ``overrides``).
        decoder: decoder name and keyword arguments, e.g. ``{"name": "warp", "bidirectional": False}``.
        fit_overrides: ``actdiff fit`` overrides of this point only (``fit_evaluate`` sweeps; applied
            after the spec's ``fit.overrides`` and the command line's ``fit.…`` ones).
    """

    name: str
    overrides: List[str] = field(default_factory=list)
    decoder: Dict[str, Any] = field(default_factory=lambda: {"name": "warp"})
    fit_overrides: List[str] = field(default_factory=list)

    @property
    def decoder_label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.decoder.items()) if k != "name")
        return str(self.decoder["name"]) + (f"[{extra}]" if extra else "")


@dataclass
class FitSpec:
    """The ``fit:`` section of a training sweep: base ``actdiff fit`` config, the overrides of
    every point and the config's ``task`` (``denoiser`` | ``keyframe_selector`` | ``trajectory_selector``)."""

    config: str
    overrides: List[str] = field(default_factory=list)
    task: str = "denoiser"


@dataclass
class Spec:
    """A parsed sweep spec; ``points`` holds the reference first."""

    name: str
    path: Optional[Path]
    command: str
    data: str
    protocol: str
    rates: Any
    metrics: List[str]
    points: List[Point]
    sequences: Optional[List[str]] = None
    rates_file: Optional[str] = None
    config: Optional[str] = None
    description: str = ""
    fit: Optional[FitSpec] = None

    @property
    def trains(self) -> bool:
        """Whether each point trains before it is evaluated (``command: fit_evaluate``)."""
        return self.command == "fit_evaluate"

    @property
    def reference(self) -> Point:
        return self.points[0]

    def point(self, name: str) -> Point:
        for p in self.points:
            if p.name == name:
                return p
        raise ConfigError(f"sweep {self.name} has no point {name!r} (known: {', '.join(p.name for p in self.points)})")


def _str_list(value: Any, what: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ConfigError(f"{what} must be a list of strings")
    return [str(v) for v in value]


def _decoder(value: Any, default: Dict[str, Any], what: str) -> Dict[str, Any]:
    if value is None:
        return dict(default)
    if isinstance(value, str):
        return {**default, "name": value}
    if isinstance(value, dict):
        return {**default, **value}
    raise ConfigError(f"{what}: decoder must be a name or a mapping {{name: ..., key: value}}")


def _format_value(v: Any) -> str:
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def grid_points(grid: Dict[str, List[Any]], decoder: Dict[str, Any]) -> List[Point]:
    """The product of ``{key: [values…]}`` as points named ``leaf=value+leaf=value``; keys that
    start with ``fit.`` become ``fit_overrides`` (prefix removed)."""
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("grid must be a non-empty mapping of config key → list of values")
    keys = list(grid)
    for k in keys:
        if not isinstance(grid[k], list) or not grid[k]:
            raise ConfigError(f"grid key {k} must map to a non-empty list of values")
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        name = "+".join(f"{k.split('.')[-1]}={_format_value(v)}" for k, v in zip(keys, combo))
        ovs = [f"{k}={_format_value(v)}" for k, v in zip(keys, combo)]
        out.append(Point(name, [o for o in ovs if not o.startswith(FIT_PREFIX)], dict(decoder),
                         [o[len(FIT_PREFIX):] for o in ovs if o.startswith(FIT_PREFIX)]))
    return out


def _fit_section(doc: Dict[str, Any], command: str, where: str) -> Optional[FitSpec]:
    """The spec's ``fit:`` section (None for ``evaluate`` sweeps); composes it to learn the task."""
    section = doc.get("fit")
    if command != "fit_evaluate":
        if section is not None:
            raise ConfigError(f"{where}: a 'fit' section needs command: fit_evaluate (or fit)")
        return None
    if not isinstance(section, dict) or not section.get("config"):
        raise ConfigError(f"{where}: command {command} needs fit: {{config: experiment/NAME, overrides: [...]}}")
    unknown = sorted(set(section) - {"config", "overrides"})
    if unknown:
        raise ConfigError(f"{where}: unknown fit key(s) {', '.join(unknown)} (known: config, overrides)")
    common = _str_list(section.get("overrides"), f"{where}: fit.overrides")
    from actdiff.config import compose

    base = compose(str(section["config"]), common)
    task = str(base.get("task") or "denoiser")
    if task not in TASKS:
        raise ConfigError(f"{where}: fit config task {task!r} is not one of {', '.join(TASKS)}")
    return FitSpec(str(section["config"]), common, task)


def _check_decoder(point: Point, fit: Optional[FitSpec], where: str) -> None:
    if fit is None and point.fit_overrides:
        raise ConfigError(f"{where}: point {point.name} has fit overrides but the command is not fit_evaluate")
    if fit is not None and fit.task == "denoiser":
        if point.decoder["name"] != "diffusion":
            raise ConfigError(f"{where}: point {point.name}: a denoiser fit sweep decodes with the diffusion decoder, "
                              f"not {point.decoder['name']!r}")
        if "weights" in point.decoder:
            raise ConfigError(f"{where}: point {point.name}: decoder weights are set by the sweep (the trained ones)")


def parse_spec(doc: Dict[str, Any], name: str = "sweep", path: Optional[Path] = None) -> Spec:
    """Validate a spec mapping (see the module docstring) and expand its points."""
    where = str(path or name)
    known = {"name", "description", "command", "data", "sequences", "protocol", "rates", "rates_file",
             "metrics", "decoder", "config", "overrides", "reference", "points", "grid", "fit"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown sweep key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    command = str(doc.get("command", "evaluate"))
    command = ALIASES.get(command, command)
    if command not in COMMANDS:
        raise ConfigError(f"{where}: command {command!r} is not supported by sweep "
                          f"(supported: {', '.join(COMMANDS + tuple(ALIASES))})")
    if not doc.get("data"):
        raise ConfigError(f"{where}: needs 'data' (dataset name, YAML or folder)")
    fit = _fit_section(doc, command, where)
    default_decoder = {"name": "diffusion" if fit is not None and fit.task == "denoiser" else "warp"}
    decoder = _decoder(doc.get("decoder"), default_decoder, where)
    common = _str_list(doc.get("overrides"), f"{where}: overrides")
    ref = doc.get("reference") or {"name": "reference"}
    if not isinstance(ref, dict):
        raise ConfigError(f"{where}: reference must be a mapping {{name, overrides}}")
    entries = [ref] + list(doc.get("points") or [])
    points = []
    for i, p in enumerate(entries):
        what = "reference" if i == 0 else f"points[{i - 1}]"
        if not isinstance(p, dict) or (i > 0 and "name" not in p):
            raise ConfigError(f"{where}: {what} must be a mapping with a name")
        bad_keys = sorted(set(p) - {"name", "overrides", "decoder", "fit_overrides"})
        if bad_keys:
            raise ConfigError(f"{where}: {what} has unknown key(s) {', '.join(bad_keys)} "
                              "(known: name, overrides, decoder, fit_overrides)")
        pname = str(p.get("name", "reference"))
        points.append(Point(pname, common + _str_list(p.get("overrides"), f"{where}: point {pname}"),
                            _decoder(p.get("decoder"), decoder, where),
                            _str_list(p.get("fit_overrides"), f"{where}: point {pname} fit_overrides")))
    if doc.get("grid") is not None:
        for p in grid_points(dict(doc["grid"]), decoder):
            points.append(Point(p.name, common + p.overrides, p.decoder, p.fit_overrides))
    if len(points) < 2:
        raise ConfigError(f"{where}: needs 'points' and/or 'grid' besides the reference")
    for p in points:
        _check_decoder(p, fit, where)
    names = [p.name for p in points]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{where}: duplicate point name(s) {', '.join(dup)}")
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ConfigError(f"{where}: point name(s) {', '.join(bad)} must use letters, digits and _.=+-")
    rates = doc.get("rates")
    if rates is not None and not isinstance(rates, (list, dict)):
        raise ConfigError(f"{where}: rates must be a list of rate point names / target bpps or a mapping")
    metrics = _str_list(doc.get("metrics"), f"{where}: metrics") or None
    from actdiff.metrics import DEFAULT_METRICS

    return Spec(
        name=str(doc.get("name") or name), path=path, command=command, data=str(doc["data"]),
        protocol=str(doc.get("protocol", "cpu")), rates=rates, metrics=metrics or list(DEFAULT_METRICS),
        points=points, sequences=_str_list(doc.get("sequences"), f"{where}: sequences") or None,
        rates_file=doc.get("rates_file"), config=doc.get("config"), description=str(doc.get("description", "")),
        fit=fit,
    )


def load_spec(path: str | Path) -> Spec:
    """Read ``configs/ablation/NAME.yaml`` (or a path / ``ablation/NAME``)."""
    text = str(path)
    if not Path(text).exists() and text.startswith("configs/"):  # a repo path, run from elsewhere
        text = text[len("configs/"):]
    p = resolve_config_path(text)
    doc = OmegaConf.to_container(load_yaml(p), resolve=True)
    return parse_spec(doc, name=p.stem, path=p)


def fingerprint(payload: Dict[str, Any]) -> str:
    """Short stable hash of what a point's results depend on (a changed point is re-run)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
