"""OmegaConf configs composed by Hydra's compose API from the config groups in ``configs/``.

A config file may start with a Hydra defaults list::

    defaults:
      - codec: default      # configs/codec/default.yaml under key ``codec``
      - protocol: cpu
      - _self_              # this file's own keys (merged last when omitted)

:func:`compose` reads the chosen file (any YAML path, or ``group/name`` in the config root), hands
it to ``hydra.compose`` as the primary config and returns the result, resolved and without struct
mode. Overrides follow Hydra's grammar: ``key=value`` (``codec.trajectories.budget=64``), group
swaps (``codec=fixed_gop`` picks ``configs/codec/fixed_gop.yaml``; a group not in the defaults
list is appended), additions of new keys (``+notes=baseline``, which may also set an existing
key) and deletions (``~key``). Value overrides apply after the groups are composed, so they
survive any group swap. An override naming an unknown key is an error, so typos never pass
silently. Plain entries of the primary's defaults list (``- common``) name configs of the
primary's own group (of the config root for a file outside it), merged at the root.

The config root is ``$ACTDIFF_CONFIG_DIR``, else the repository's ``configs/`` (a source checkout
or editable install), else ``<sys.prefix>/share/actdiff/configs`` (``pip install .``).

Configs are data: YAML is read with safe loaders only, and nothing is ever instantiated.
"""

from __future__ import annotations

import os
import re
import site
import sys
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from actdiff.errors import ConfigError

_PRIMARY = "__actdiff_primary__"  # ConfigStore name of the primary config while composing
#: The composed config of ``evaluate`` and the API when none is given: the codec at the cpu protocol.
DEFAULT_EXPERIMENT = "experiment/codec"
#: The config of ``encode``/``decode``: the codec alone (they take no protocol: --frames, --size instead).
ENCODE_EXPERIMENT = "experiment/encode"


def _config_roots() -> list[Path]:
    """Candidate config roots, in the order :func:`config_root` tries them."""
    env = os.environ.get("ACTDIFF_CONFIG_DIR")
    if env:
        return [Path(env)]
    share = Path("share") / "actdiff" / "configs"
    return [Path(__file__).resolve().parent.parent / "configs", Path(sys.prefix) / share,
            Path(site.getuserbase()) / share]


def config_root() -> Path:
    """Folder holding the config groups: ``$ACTDIFF_CONFIG_DIR``, the repository's ``configs/``
    or ``<sys.prefix>/share/actdiff/configs`` (installed data files), the first that applies."""
    roots = _config_roots()
    if os.environ.get("ACTDIFF_CONFIG_DIR"):
        return roots[0]
    for r in roots:
        if (r / "codec").is_dir():  # a config tree, not some other package's stray `configs/`
            return r
    raise ConfigError(f"no config folder found (set $ACTDIFF_CONFIG_DIR; looked in {', '.join(map(str, roots))})")


def resolve_config_path(name: Union[str, Path]) -> Path:
    """Find a config by path (``configs/codec/default.yaml``) or by ``group/name``."""
    p = Path(name)
    candidates = [p, p.with_suffix(".yaml") if p.suffix == "" else p]
    candidates += [config_root() / c for c in list(candidates)]
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(f"config not found: {name} (looked in . and {config_root()})")


def _yaml_error(path: Union[str, Path], e: yaml.YAMLError) -> ConfigError:
    mark = getattr(e, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark is not None else ""
    what = getattr(e, "problem", None) or str(e).splitlines()[0]
    return ConfigError(f"invalid YAML in {path}{where}: {what}")


def load_yaml(path: Union[str, Path]) -> DictConfig:
    """Load one YAML file (safe loader, no composition) as a ``DictConfig`` (one-line ``ConfigError``)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not a text (YAML) file") from None
    except yaml.YAMLError as e:
        raise _yaml_error(path, e) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a mapping, not {type(data).__name__}")
    try:
        return OmegaConf.create(data)
    except RecursionError:
        raise ConfigError(f"config {path} contains itself (a recursive YAML alias)") from None


def _read_primary(path: Path) -> dict:
    """The primary config file as a plain dict, read by OmegaConf's loader (a ``yaml.SafeLoader``
    that parses numbers like ``1e-3`` as Hydra does for the group files)."""
    try:
        cfg = OmegaConf.load(path)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not a text (YAML) file") from None
    except yaml.YAMLError as e:
        raise _yaml_error(path, e) from None
    except RecursionError:
        raise ConfigError(f"config {path} contains itself (a recursive YAML alias)") from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"config {path} must hold a mapping, not a list")
    return OmegaConf.to_container(cfg, resolve=False)


def _primary_group(path: Path) -> str:
    """``codec`` for ``<root>/codec/x.yaml``, ``""`` for a file at the root or outside it."""
    try:
        rel = path.resolve().relative_to(config_root().resolve())
    except ValueError:
        return ""
    return rel.parent.as_posix() if rel.parent != Path(".") else ""


def _prepare_defaults(node: dict, group: str, where: str) -> list[str]:
    """Rewrite the primary's defaults list for Hydra (in place); return the groups it names.

    Plain entries (``- common``) become ``group/common@_here_`` (the primary sits at the root of
    the search path, so Hydra would otherwise look for them at the root and nest them under their
    group); ``_self_`` is appended when missing (this file's keys win, as documented)."""
    defaults = node.get("defaults", [])
    if defaults is None:
        defaults = []
    if not isinstance(defaults, list):
        raise ConfigError(f"the defaults of {where} must be a list, not {type(defaults).__name__}")
    out, groups = [], []
    for entry in defaults:
        if isinstance(entry, str) and entry != "_self_" and not entry.startswith("/") and "@" not in entry:
            entry = f"{group}/{entry}@_here_" if group else f"{entry}@_here_"
        elif isinstance(entry, dict) and len(entry) == 1:
            key = str(next(iter(entry))).split()[-1]  # "override codec" / "optional codec" → "codec"
            groups.append(key.lstrip("/").split("@")[0])
        elif not isinstance(entry, str):
            raise ConfigError(f"bad defaults entry {entry!r} in {where} (a name or one group: option)")
        out.append(entry)
    if "_self_" not in out:
        out.append("_self_")
    node["defaults"] = out
    return groups


def _prepare_overrides(overrides: Iterable[str], groups: Sequence[str], root: Path) -> list[str]:
    """Old-style overrides → Hydra's: ``+key`` may also set an existing key (``++key``); a group
    swap of a group missing from the defaults list appends it (``+group=x``) and ``+group=x`` of
    a listed group swaps it."""
    out = []
    for item in overrides:
        item = str(item)
        if item.startswith("~"):
            out.append(item)
            continue
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        bare = key.lstrip("+")
        if not bare:
            raise ConfigError(f"override {item!r} has an empty key")
        if re.fullmatch(r"\w[\w-]*(/\w[\w-]*)*", bare) and (root / bare).is_dir():  # a group choice (Hydra)
            out.append(f"{bare}={value}" if bare in groups else f"+{bare}={value}")
        elif key.startswith("+"):
            out.append(f"++{bare}={value}")
        else:
            out.append(item)
    return out


def _one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines()]
    keep = []
    for ln in lines:
        if ln.startswith(("Config search path", "Search path", "See https://hydra.cc")):
            break
        if ln:
            keep.append(ln)
    return "; ".join(keep).replace(f"'{_PRIMARY}'", "the primary config") or type(e).__name__


def _hydra_error(e: Exception, where: str) -> ConfigError:
    """A Hydra/OmegaConf/YAML exception as a one-line message a user understands."""
    from hydra.errors import MissingConfigException, OverrideParseException

    msg = str(e)
    if isinstance(e, MissingConfigException):
        missing = str(e.missing_cfg_file or "")
        group, _, name = missing.rpartition("/")
        if e.options is not None:  # a group option (a plain config default has no options)
            known = ", ".join(sorted(e.options or [])) or "none"
            return ConfigError(f"unknown {group} config {name!r} (known: {known})")
        return ConfigError(f"config not found: {missing} (in {where}; config root {config_root()})")
    if isinstance(e, OverrideParseException):
        lines = msg.splitlines()
        if len(lines) > 1 and lines[1].strip() == "^":  # a lexer error: a caret under the character
            col = lines[1].index("^")
            why = f"unexpected character {lines[0][col:col + 1] or '?'!r}"
        else:  # drop the first line, "Error parsing override '…'"
            why = _one_line(e).split("; ", 1)[-1]
        return ConfigError(f"cannot apply override {e.override!r}: {why} "
                           "(quote a value with special characters: key='…')")
    m = re.match(r"Could not override '([^']+)'\.\nTo append to your config use \+(.*)", msg)
    if m:  # the unknown key itself (deeper than the override's when a {dict} value adds keys)
        key = getattr(e.__cause__, "full_key", None) or m.group(1)
        return ConfigError(f"unknown config key {key!r} (use +{m.group(2)} to add a new key)")
    m = re.match(r"Ambiguous value for argument '(.*)'", msg)
    if m:
        return ConfigError(f"cannot apply override {m.group(1)!r}: a comma makes it ambiguous; "
                           "write a list as key=[a,b] or quote a string as key='a,b'")
    m = re.match(r"Error merging override (.*)", msg)
    if m and e.__cause__ is not None:
        return ConfigError(f"cannot apply override {m.group(1)!r}: {_one_line(e.__cause__)}")
    if isinstance(e, yaml.YAMLError):
        mark = getattr(e, "problem_mark", None)
        return _yaml_error(mark.name if mark is not None else where, e)
    if isinstance(e, RecursionError):
        return ConfigError(f"the defaults lists of {where} form a cycle")
    return ConfigError(f"cannot compose {where}: {_one_line(e)}")


def _wrapped_interrupt(e: Optional[BaseException]) -> Optional[KeyboardInterrupt]:
    """The ``KeyboardInterrupt`` (a signal, :class:`actdiff.errors.Interrupted`) that a library
    turned into ``e`` by raising from it, if any."""
    seen: set = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _compose_node(node: dict, overrides: Sequence[str], where: str, group: str = "") -> DictConfig:
    """Compose ``node`` (a primary config as a plain dict, ``defaults`` included) with Hydra."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    root = config_root()
    if not root.is_dir():
        raise ConfigError(f"config folder {root} does not exist")
    node = dict(node)
    groups = _prepare_defaults(node, group, where)
    hydra_overrides = _prepare_overrides(overrides, groups, root)
    store = ConfigStore.instance()
    was_initialized = GlobalHydra.instance().is_initialized()
    try:
        store.store(name=_PRIMARY, node=node)
        with initialize_config_dir(config_dir=str(root.resolve()), version_base="1.3"):
            cfg = hydra_compose(config_name=_PRIMARY, overrides=hydra_overrides)
    except (HydraException, OmegaConfBaseException, yaml.YAMLError, ValueError, RecursionError) as e:
        interrupt = _wrapped_interrupt(e)
        if interrupt is not None:  # SIGINT/SIGTERM arrived while composing: an interrupt, not a config error
            raise interrupt from None
        raise _hydra_error(e, where) from None
    finally:
        store.repo.pop(f"{_PRIMARY}.yaml", None)
        if not was_initialized and GlobalHydra.instance().is_initialized():
            GlobalHydra.instance().clear()
    try:  # a plain, resolved config: no struct/read-only flags, so callers may add keys
        out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    except OmegaConfBaseException as e:
        raise ConfigError(f"cannot resolve config {where}: {_one_line(e)}") from None
    for name in groups:  # ``codec: 5`` in a file replaces the group's whole section
        value = out.get(name)
        if value is not None and not isinstance(value, DictConfig):
            raise ConfigError(f"{where}: {name} must be a mapping of the {name} group's keys, not {value!r}")
    return out


def compose(
    config: Optional[Union[str, Path]] = None,
    overrides: Sequence[str] = (),
    default: str = DEFAULT_EXPERIMENT,
) -> DictConfig:
    """Compose a config: file (or ``default``) + its defaults list + overrides, resolved.

    ``config`` is a YAML path (anywhere) or ``group/name`` in :func:`config_root`."""
    path = resolve_config_path(config or default)
    return _compose_node(_read_primary(path), list(overrides), str(path), _primary_group(path))


def load_group(group: str, name: str) -> DictConfig:
    """One option of a config group (``load_group("model", "tiny")``), composed with its defaults."""
    return _compose_node({"defaults": [{group: name}]}, (), f"{group}/{name}")[group]


def apply_overrides(cfg: Any, overrides: Iterable[str]) -> DictConfig:
    """Apply overrides to an already composed config (a dict or ``DictConfig``), as :func:`compose`
    does; a group swap (``codec=fixed_gop``) replaces that key by the composed option."""
    overrides = list(overrides)
    node = OmegaConf.to_container(OmegaConf.create(cfg), resolve=False)
    if not isinstance(node, dict):
        raise ConfigError("apply_overrides needs a mapping config")
    root = config_root()
    for item in overrides:
        key = str(item).split("=", 1)[0].lstrip("+")
        if "=" in str(item) and key and not key.startswith("~") and (root / key).is_dir():
            node.pop(key, None)
    node.pop("defaults", None)
    return _compose_node(node, overrides, "the given config")


def to_yaml(cfg: DictConfig) -> str:
    """The config as resolved YAML (what ``--print-config`` prints)."""
    return OmegaConf.to_yaml(cfg, resolve=True)


def save_config(cfg: DictConfig, path: Union[str, Path]) -> Path:
    """Write the resolved config as YAML (``path`` may be a folder → ``config.yaml``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(cfg))
    return path


def setting(cfg: Any, key: str, default: Any) -> Any:
    """``cfg[key]`` of a mapping, an object's attribute, or ``default`` (``cfg`` None, key missing or null)."""
    if cfg is None:
        return default
    value = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    return default if value is None else value
