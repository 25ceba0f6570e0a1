"""Tests of actdiff.config (Hydra compose): defaults lists, overrides, group swaps, errors, safety."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import actdiff.config as config_mod
from actdiff.config import apply_overrides, compose, config_root, load_group, load_yaml, save_config, to_yaml
from actdiff.errors import ConfigError


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.fixture
def cfg_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "configs"
    write(root, "codec/a.yaml", "x: 1\nonly_a: true\nnested: {k: 2, l: [1, 2]}\n")
    write(root, "codec/b.yaml", "x: 10\nonly_b: hello\n")
    write(root, "codec/a_plus.yaml", "defaults:\n  - a\n  - _self_\nx: 2\n")  # an option built on another
    write(root, "protocol/p.yaml", "height: 64\nwidth: 96\n")
    write(root, "data/d.yaml", "name: d\nroot: ???\n")
    write(root, "experiment/base.yaml",
          "defaults:\n  - codec: a\n  - protocol: p\n  - _self_\n"
          "codec:\n  x: 5\nseed: 3\nsize: ${protocol.height}\n")
    write(root, "experiment/self_first.yaml", "defaults:\n  - _self_\n  - codec: a\ncodec:\n  x: 5\n")
    write(root, "experiment/no_self.yaml", "defaults:\n  - codec: a\ncodec:\n  x: 7\n")
    write(root, "experiment/common.yaml", "shared: 1\nseed: 0\n")
    write(root, "experiment/with_file.yaml", "defaults:\n  - common\n  - _self_\nseed: 9\n")
    monkeypatch.setenv("ACTDIFF_CONFIG_DIR", str(root))
    return root


def test_config_root_follows_env(cfg_dir):
    assert config_root() == cfg_dir


def test_config_root_falls_back_to_installed_data(tmp_path, monkeypatch):
    monkeypatch.delenv("ACTDIFF_CONFIG_DIR", raising=False)
    assert config_root() == Path(config_mod.__file__).resolve().parent.parent / "configs"  # the checkout
    monkeypatch.setattr(config_mod, "__file__", str(tmp_path / "site-packages" / "actdiff" / "config.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(config_mod.site, "getuserbase", lambda: str(tmp_path / "user"))
    with pytest.raises(ConfigError, match="no config folder found"):
        config_root()
    installed = write(tmp_path / "prefix" / "share" / "actdiff" / "configs", "codec/a.yaml", "x: 1\n").parent.parent
    assert config_root() == installed


def test_defaults_composition(cfg_dir):
    cfg = compose("experiment/base")
    assert cfg.codec.x == 5 and cfg.codec.only_a is True and cfg.codec.nested.k == 2
    assert cfg.protocol.height == 64 and cfg.seed == 3
    assert cfg.size == 64  # interpolation resolved
    assert "defaults" not in cfg and "hydra" not in cfg
    assert compose("codec/a_plus").only_a is True and compose("codec/a_plus").x == 2  # option on option


def test_self_position_decides_precedence(cfg_dir):
    assert compose("experiment/self_first").codec.x == 1  # the default wins when _self_ is first
    assert compose("experiment/no_self").codec.x == 7     # _self_ is merged last when omitted


def test_plain_file_default(cfg_dir):
    cfg = compose("experiment/with_file")  # `- common` is experiment/common, merged at the root
    assert cfg.shared == 1 and cfg.seed == 9 and "experiment" not in cfg


def test_default_argument_and_paths(cfg_dir):
    assert compose(default="experiment/base").seed == 3
    assert compose(cfg_dir / "experiment" / "base.yaml").seed == 3
    assert compose("experiment/base.yaml").seed == 3


def test_external_file_as_primary(cfg_dir, tmp_path):
    own = write(tmp_path / "elsewhere", "mine.yaml", "defaults:\n  - codec: b\n  - experiment/common\n"
                "  - _self_\nseed: 4\nnote: ${codec.only_b}\n")
    cfg = compose(own, ["codec.x=3"])
    assert cfg.codec.only_b == "hello" and cfg.codec.x == 3 and cfg.shared == 1 and cfg.seed == 4
    assert cfg.note == "hello"


def test_dotlist_overrides(cfg_dir):
    cfg = compose("experiment/base", ["codec.x=42", "codec.nested.l=[3,4,5]", "seed=1", "protocol.height=32"])
    assert cfg.codec.x == 42 and list(cfg.codec.nested.l) == [3, 4, 5] and cfg.seed == 1
    assert cfg.size == 32  # interpolations see the overridden value
    assert compose("experiment/base", ["codec.nested.l.0=9"]).codec.nested.l[0] == 9
    assert compose("experiment/base", ["seed='a b,c'"]).seed == "a b,c"
    assert compose("experiment/base", ["seed='~/x (2)#'"]).seed == "~/x (2)#"  # quoted: any characters


def test_group_swap(cfg_dir):
    cfg = compose("experiment/base", ["codec=b"])
    assert cfg.codec.only_b == "hello" and "only_a" not in cfg.codec and "nested" not in cfg.codec
    assert cfg.codec.x == 5  # the primary's own codec.x still applies on top of the option (Hydra)
    assert compose("experiment/self_first", ["codec=b"]).codec.x == 10
    assert compose("experiment/base", ["codec.x=11", "codec=b"]).codec.x == 11  # values survive swaps
    assert compose("experiment/base", ["+codec=b"]).codec.only_b == "hello"     # `+` on a listed group
    cfg = compose("experiment/base", ["data=d", "data.root=/somewhere"])  # a group not in the defaults
    assert cfg.data.root == "/somewhere" and cfg.data.name == "d"


def test_add_new_keys(cfg_dir):
    cfg = compose("experiment/base", ["+new=1", "+codec.extra=abc", "+notes.deep.key=x", "+seed=4"])
    assert cfg.new == 1 and cfg.codec.extra == "abc" and cfg.notes.deep.key == "x" and cfg.seed == 4
    assert "seed" not in compose("experiment/base", ["~seed"])


def test_result_is_plain_and_mutable(cfg_dir):
    cfg = compose("experiment/base")
    OmegaConf.update(cfg, "added.key", 1)  # no struct mode: callers add keys
    cfg.codec.more = 2
    assert cfg.added.key == 1 and not OmegaConf.is_readonly(cfg)


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
    assert str(e.value) == "unknown codec config 'nope' (known: a, a_plus, b)"
    write(cfg_dir, "experiment/bad_default.yaml", "defaults:\n  - protocol: huge\n")
    with pytest.raises(ConfigError) as e:
        compose("experiment/bad_default")
    assert str(e.value) == "unknown protocol config 'huge' (known: p)"
    with pytest.raises(ConfigError, match="config not found"):
        compose("experiment/absent")
    write(cfg_dir, "experiment/bad_file.yaml", "defaults:\n  - nothere\n")
    with pytest.raises(ConfigError, match="config not found: experiment/nothere"):
        compose("experiment/bad_file")


def test_cycle_is_an_error(cfg_dir):
    write(cfg_dir, "codec/loop.yaml", "defaults:\n  - loop\nk: 1\n")
    with pytest.raises(ConfigError, match="cycle"):
        compose("experiment/base", ["codec=loop"])


def test_bad_yaml_is_one_line(cfg_dir):
    write(cfg_dir, "experiment/broken.yaml", "a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError) as e:
        compose("experiment/broken")
    assert "invalid YAML" in str(e.value) and "broken.yaml" in str(e.value) and "\n" not in str(e.value)
    write(cfg_dir, "codec/broken.yaml", "a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError) as e:
        compose("experiment/base", ["codec=broken"])  # a group file read by Hydra
    assert "invalid YAML" in str(e.value) and "codec/broken.yaml" in str(e.value) and "\n" not in str(e.value)
    write(cfg_dir, "experiment/list.yaml", "- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        compose("experiment/list")
    write(cfg_dir, "experiment/bad_entry.yaml", "defaults:\n  - {a: 1, b: 2}\n")
    with pytest.raises(ConfigError, match="bad defaults entry"):
        compose("experiment/bad_entry")


def test_bad_override_values_are_one_line(cfg_dir):
    for bad, why in [("codec.x=[1", "cannot apply override 'codec.x=\\[1'"), ("seed=1,2", "comma"),
                     ("codec.nested={k: [1}", "cannot apply override"), ("seed=~/x", "unexpected character '~'")]:
        with pytest.raises(ConfigError, match=why) as e:
            compose("experiment/base", [bad])
        assert "\n" not in str(e.value)


def test_python_tags_are_refused_without_running(cfg_dir, tmp_path):
    marker = tmp_path / "ran"
    evil = f"x: !!python/object/apply:os.system ['touch {marker}']\n"
    for path in (write(tmp_path, "evil.yaml", evil), write(cfg_dir, "codec/evil.yaml", evil)):
        with pytest.raises(ConfigError, match="invalid YAML.*python/object/apply"):
            compose(path) if path.parent == tmp_path else compose("experiment/base", ["codec=evil"])
        with pytest.raises(ConfigError, match="invalid YAML"):
            load_yaml(path)
    assert not marker.exists()


def test_recursive_alias_and_a_group_replaced_by_a_scalar_are_one_line(cfg_dir, tmp_path):
    loop = write(tmp_path, "loop.yaml", "a: &a [*a]\n")
    for load in (compose, load_yaml):
        with pytest.raises(ConfigError, match="contains itself"):
            load(loop)
    scalar = write(tmp_path, "scalar.yaml", "defaults:\n  - codec: a\n  - _self_\ncodec: 5\n")
    with pytest.raises(ConfigError, match="codec must be a mapping of the codec group's keys, not 5"):
        compose(scalar)
    from omegaconf import OmegaConf

    from actdiff.codec.encoding import codec_section

    with pytest.raises(ConfigError, match="codec must be a mapping"):   # a file with no defaults
        codec_section(OmegaConf.create({"codec": 5}))


def test_targets_are_plain_data(cfg_dir, tmp_path):
    marker = tmp_path / "ran"
    write(cfg_dir, "codec/target.yaml", f"_target_: os.system\ncommand: touch {marker}\n")
    cfg = compose("experiment/base", ["codec=target"])
    assert cfg.codec._target_ == "os.system" and not marker.exists()


def test_hydra_state_is_left_clean(cfg_dir):
    compose("experiment/base")
    assert not GlobalHydra.instance().is_initialized()
    with pytest.raises(ConfigError):
        compose("experiment/base", ["codec=nope"])
    assert not GlobalHydra.instance().is_initialized()
    assert not any(k.startswith("__actdiff") for k in ConfigStore.instance().repo)


def test_load_group(cfg_dir):
    assert OmegaConf.to_container(load_group("codec", "a_plus")) == {
        "x": 2, "only_a": True, "nested": {"k": 2, "l": [1, 2]}}
    with pytest.raises(ConfigError, match="unknown codec config 'zzz'"):
        load_group("codec", "zzz")


def test_apply_overrides_to_a_composed_config(cfg_dir):
    base = compose("experiment/base")
    cfg = apply_overrides(base, ["codec.x=8", "+codec.extra=1"])
    assert cfg.codec.x == 8 and cfg.codec.extra == 1 and base.codec.x == 5  # the input is not changed
    cfg = apply_overrides(base, ["codec=b"])  # replaces the composed codec
    assert OmegaConf.to_container(cfg.codec) == {"x": 10, "only_b": "hello"} and cfg.seed == 3
    with pytest.raises(ConfigError, match="unknown config key 'codec.typo'"):
        apply_overrides({"codec": {"x": 1}}, ["codec.typo=2"])


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
    assert compose(None, ["codec=fixed_gop"]).codec.keyframes.name == "fixed"
    with pytest.raises(ConfigError, match="unknown protocol config 'fast' \\(known: cpu, native, paper\\)"):
        compose(None, ["protocol=fast"])
