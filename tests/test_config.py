"""Tests of actdiff.config: defaults composition, overrides, group swaps, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from actdiff.config import compose, config_root, save_config, to_yaml
from actdiff.errors import ConfigError


def write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture
def cfg_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "configs"
    write(root, "codec/a.yaml", "x: 1\nonly_a: true\nnested: {k: 2, l: [1, 2]}\n")
    write(root, "codec/b.yaml", "x: 10\nonly_b: hello\n")
    write(root, "protocol/p.yaml", "height: 64\nwidth: 96\n")
    write(root, "data/d.yaml", "name: d\nroot: ???\n")
    write(root, "experiment/base.yaml",
          "defaults:\n  - codec: a\n  - protocol: p\n  - _self_\n"
          "codec:\n  x: 5\nseed: 3\nsize: ${protocol.height}\n")
    write(root, "experiment/self_first.yaml",
          "defaults:\n  - _self_\n  - codec: a\ncodec:\n  x: 5\n")
    write(root, "experiment/no_self.yaml", "defaults:\n  - codec: a\ncodec:\n  x: 7\n")
    write(root, "experiment/common.yaml", "shared: 1\nseed: 0\n")
    write(root, "experiment/with_file.yaml", "defaults:\n  - common\n  - _self_\nseed: 9\n")
    monkeypatch.setenv("ACTDIFF_CONFIG_DIR", str(root))
    return root


def test_config_root_follows_env(cfg_dir):
    assert config_root() == cfg_dir


def test_defaults_composition(cfg_dir):
    cfg = compose("experiment/base")
    assert cfg.codec.x == 5 and cfg.codec.only_a is True and cfg.codec.nested.k == 2
    assert cfg.protocol.height == 64 and cfg.seed == 3
    assert cfg.size == 64  # interpolation resolved
    assert "defaults" not in cfg


def test_self_position_decides_precedence(cfg_dir):
    assert compose("experiment/self_first").codec.x == 1   # the default wins when _self_ is first
    assert compose("experiment/no_self").codec.x == 7      # _self_ is merged last when omitted


def test_plain_file_default(cfg_dir):
    cfg = compose("experiment/with_file")
    assert cfg.shared == 1 and cfg.seed == 9


def test_default_argument_and_paths(cfg_dir):
    assert compose(default="experiment/base").seed == 3
    assert compose(cfg_dir / "experiment" / "base.yaml").seed == 3
    assert compose("experiment/base.yaml").seed == 3


def test_dotlist_overrides(cfg_dir):
    cfg = compose("experiment/base", ["codec.x=42", "codec.nested.l=[3,4,5]", "seed=1", "protocol.height=32"])
    assert cfg.codec.x == 42 and list(cfg.codec.nested.l) == [3, 4, 5] and cfg.seed == 1
    assert cfg.size == 32  # interpolations see the overridden value
    assert compose("experiment/base", ["codec.nested.l.0=9"]).codec.nested.l[0] == 9


def test_group_swap(cfg_dir):
    cfg = compose("experiment/base", ["codec=b"])
    assert cfg.codec.x == 10 and cfg.codec.only_b == "hello"
    assert "only_a" not in cfg.codec  # replaced, not merged
    cfg = compose("experiment/base", ["codec=b", "codec.x=11"])
    assert cfg.codec.x == 11
    cfg = compose("experiment/base", ["data=d", "data.root=/somewhere"])  # new group, ??? value set
    assert cfg.data.root == "/somewhere"


def test_add_new_keys(cfg_dir):
    cfg = compose("experiment/base", ["+new=1", "+codec.extra=abc", "+notes.deep.key=x"])
    assert cfg.new == 1 and cfg.codec.extra == "abc" and cfg.notes.deep.key == "x"


def test_unknown_key_error(cfg_dir):
    with pytest.raises(ConfigError) as e:
        compose("experiment/base", ["codec.typo=1"])
    assert str(e.value) == "unknown config key 'codec.typo' (use +codec.typo=1 to add a new key)"
    with pytest.raises(ConfigError, match="unknown config key 'nothere'"):
        compose("experiment/base", ["nothere=1"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        compose("experiment/base", ["codec.x"])
    with pytest.raises(ConfigError, match="empty key"):
        compose("experiment/base", ["+=3"])


def test_missing_group_name(cfg_dir):
    with pytest.raises(ConfigError) as e:
        compose("experiment/base", ["codec=nope"])
    assert str(e.value) == "unknown codec config 'nope' (known: a, b)"
    write(cfg_dir, "experiment/bad_default.yaml", "defaults:\n  - protocol: huge\n")
    with pytest.raises(ConfigError, match="unknown protocol config 'huge' \\(known: p\\)"):
        compose("experiment/bad_default")
    with pytest.raises(ConfigError, match="config not found"):
        compose("experiment/absent")


def test_cycle_detection(cfg_dir):
    write(cfg_dir, "experiment/c1.yaml", "defaults:\n  - c2\nk: 1\n")
    write(cfg_dir, "experiment/c2.yaml", "defaults:\n  - c1\nk: 2\n")
    with pytest.raises(ConfigError, match="cycle"):
        compose("experiment/c1")
    write(cfg_dir, "codec/loop.yaml", "defaults:\n  - codec: loop\n")
    with pytest.raises(ConfigError, match="cycle"):
        compose("codec/loop")


def test_bad_yaml_is_one_line(cfg_dir):
    write(cfg_dir, "experiment/broken.yaml", "a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError) as e:
        compose("experiment/broken")
    assert "invalid YAML" in str(e.value) and "\n" not in str(e.value)
    write(cfg_dir, "experiment/list.yaml", "- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        compose("experiment/list")
    write(cfg_dir, "experiment/bad_entry.yaml", "defaults:\n  - {a: 1, b: 2}\n")
    with pytest.raises(ConfigError, match="bad defaults entry"):
        compose("experiment/bad_entry")


def test_bad_value_type(cfg_dir):
    write(cfg_dir, "experiment/typed.yaml", "k: {a: 1}\n")
    with pytest.raises(ConfigError):
        compose("experiment/typed", ["k=[1"])  # unparsable list


def test_save_and_yaml(cfg_dir, tmp_path):
    cfg = compose("experiment/base", ["codec=b"])
    out = save_config(cfg, tmp_path / "run")  # not a folder yet → file "run"
    assert OmegaConf.load(out) == cfg
    (tmp_path / "dir").mkdir()
    assert save_config(cfg, tmp_path / "dir").name == "config.yaml"
    assert "only_b: hello" in to_yaml(cfg)


def test_real_codec_experiment_composes(monkeypatch):
    monkeypatch.delenv("ACTDIFF_CONFIG_DIR", raising=False)
    cfg = compose()  # configs/experiment/codec.yaml
    assert cfg.codec.decoder.name == "warp"
    assert (cfg.protocol.height, cfg.protocol.width, cfg.protocol.max_frames) == (256, 384, 96)
    cfg = compose(None, ["protocol=paper", "codec.trajectories.budget_points=64", "+data=sample"])
    assert cfg.protocol.height == 480 and cfg.codec.trajectories.budget_points == 64
    assert cfg.data.name == "sample"
    with pytest.raises(ConfigError, match="unknown protocol config 'fast'"):
        compose(None, ["protocol=fast"])
