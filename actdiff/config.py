"""OmegaConf configs composed from groups in ``configs/``.

A config file may start with a Hydra-style ``defaults`` list::

    defaults:
      - codec: default      # loads configs/codec/default.yaml under key ``codec``
      - protocol: cpu
      - _self_              # this file's own keys (merged last when omitted)

Command-line overrides are ``key=value`` dotlists (``codec.trajectories.budget=64``), group
swaps (``codec=fixed_gop`` loads ``configs/codec/fixed_gop.yaml`` in place of ``codec``) and
additions of new keys (``+notes=baseline``). An override naming an unknown key is an error,
so typos never pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from actdiff.errors import ConfigError

GROUPS = ("codec", "model", "data", "protocol", "trainer", "logger", "experiment", "ablation")


def config_root() -> Path:
    """Folder holding the config groups (``$ACTDIFF_CONFIG_DIR`` or the repo's ``configs/``)."""
    env = os.environ.get("ACTDIFF_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "configs"


def resolve_config_path(name: Union[str, Path]) -> Path:
    """Find a config by path (``configs/codec/default.yaml``) or by ``group/name``."""
    p = Path(name)
    candidates = [p, p.with_suffix(".yaml") if p.suffix == "" else p]
    candidates += [config_root() / c for c in list(candidates)]
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(f"config not found: {name} (looked in . and {config_root()})")


def load_yaml(path: Path) -> DictConfig:
    """Load one YAML file as a ``DictConfig`` (one-line ``ConfigError`` on failure)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML in {path}: {str(e).splitlines()[0]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a mapping, not {type(data).__name__}")
    return OmegaConf.create(data)


def _group_file(group: str, name: str) -> Path:
    path = config_root() / group / f"{name}.yaml"
    if not path.is_file():
        known = sorted(q.stem for q in (config_root() / group).glob("*.yaml"))
        raise ConfigError(f"unknown {group} config {name!r} (known: {', '.join(known) or 'none'})")
    return path


def load_composed(path: Path, _stack: tuple = ()) -> DictConfig:
    """Load ``path`` and recursively apply its ``defaults`` list."""
    path = Path(path).resolve()
    if path in _stack:
        raise ConfigError(f"config defaults form a cycle through {path}")
    raw = load_yaml(path)
    defaults = raw.pop("defaults", None) or []
    out = OmegaConf.create({})
    merged_self = False
    for entry in defaults:
        if entry == "_self_":
            out = OmegaConf.merge(out, raw)
            merged_self = True
        elif isinstance(entry, str):
            out = OmegaConf.merge(out, load_composed(resolve_config_path(path.parent / entry), _stack + (path,)))
        elif isinstance(entry, (dict, DictConfig)) and len(entry) == 1:
            group, name = next(iter(entry.items()))
            if name is None:
                continue
            sub = load_composed(_group_file(str(group), str(name)), _stack + (path,))
            out = OmegaConf.merge(out, {str(group): sub})
        else:
            raise ConfigError(f"bad defaults entry {entry!r} in {path}")
    if not merged_self:
        out = OmegaConf.merge(out, raw)
    return out


def _key_exists(cfg: DictConfig, key: str) -> bool:
    """Whether dotted ``key`` is in ``cfg`` (a mandatory ``???`` value counts as present)."""
    if "[" in key:
        return OmegaConf.select(cfg, key, default="__missing__") != "__missing__"
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=None) if parent_key else cfg
    if isinstance(parent, DictConfig):
        return leaf in parent.keys()  # noqa: SIM118 - `in parent` is False for ??? values
    if isinstance(parent, ListConfig):
        return leaf.isdigit() and int(leaf) < len(parent)
    return False


def _is_leaf(cfg: DictConfig, key: str) -> bool:
    """Whether top-level ``key`` holds a plain value (so ``key=value`` sets it, not a group swap)."""
    if key not in cfg.keys():  # noqa: SIM118 - `in cfg` is False for ??? values
        return False
    return OmegaConf.is_missing(cfg, key) or not isinstance(cfg[key], (DictConfig, ListConfig))


def apply_overrides(cfg: DictConfig, overrides: Iterable[str]) -> DictConfig:
    """Apply ``key=value``, ``group=name`` and ``+key=value`` overrides in order."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        add = key.startswith("+")
        key = key.lstrip("+")
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        if key in GROUPS and "." not in value and (
                (config_root() / key / f"{value}.yaml").is_file() or not _is_leaf(cfg, key)):
            sub = load_composed(_group_file(key, value))  # unknown name: error listing the known
            cfg = OmegaConf.merge(cfg, {})
            cfg[key] = sub
            continue
        if not add and not _key_exists(cfg, key):
            raise ConfigError(f"unknown config key {key!r} (use +{key}={value} to add a new key)")
        try:  # parse the value as YAML (interpolations kept), then set it at the dotted path
            parsed = OmegaConf.to_container(OmegaConf.from_dotlist([f"v={value}"]), resolve=False)["v"]
            OmegaConf.update(cfg, key, parsed, merge=True, force_add=add)
        except (OmegaConfBaseException, yaml.YAMLError, TypeError, ValueError) as e:
            raise ConfigError(f"cannot apply override {item!r}: {str(e).splitlines()[0]}") from None
    return cfg


def compose(
    config: Optional[Union[str, Path]] = None,
    overrides: Sequence[str] = (),
    default: str = "experiment/codec",
) -> DictConfig:
    """Compose a config: file (or ``default``) + its defaults + overrides, resolved."""
    cfg = load_composed(resolve_config_path(config or default))
    cfg = apply_overrides(cfg, overrides)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as e:
        raise ConfigError(f"cannot resolve config: {str(e).splitlines()[0]}") from None
    return cfg


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


def save_config(cfg: DictConfig, path: Union[str, Path]) -> Path:
    """Write the resolved config as YAML (``path`` may be a folder → ``config.yaml``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(cfg))
    return path
