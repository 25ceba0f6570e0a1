"""Merging shard results (``actdiff.evaluation.merge``): refused when a shard is missing, repeated or
of another split; differing settings warned about and kept; provenance in ``merged_from``."""

import pytest
from _eval_helpers import fake_results

from actdiff.errors import InputError
from actdiff.evaluation.merge import config_differences, load_many, merge_results
from actdiff.evaluation.results import save_results


def _shard(name, shard, seqs, **config):
    doc = fake_results("x", {s: ([0.01 * (k + 1), 0.02 * (k + 1)], [1.0 + k, 2.0 + k]) for k, s in enumerate(seqs)})
    doc["config"] = {"shard": shard, "rates": {"r1": ["a=1"]}, **config}
    doc["machine"] = {"host": name}
    return doc


def test_complete_shards_merge_with_provenance():
    merged = merge_results([_shard("m0", "0/3", ["a"]), _shard("m1", "1/3", ["b"]), _shard("m2", "2/3", ["c"])],
                           ["s0.json", "s1.json", "s2.json"])
    assert set(merged["sequences"]) == {"a", "b", "c"}
    assert merged["config"]["shard"] is None   # the merged document is no shard
    assert [(p["name"], p["shard"], p["sequences"], p["machine"]["host"]) for p in merged["merged_from"]] == [
        ("s0.json", "0/3", ["a"], "m0"), ("s1.json", "1/3", ["b"], "m1"), ("s2.json", "2/3", ["c"], "m2")]
    assert "config" not in merged["merged_from"][0]  # the same settings: kept once


@pytest.mark.parametrize("shards, message", [
    (["0/2"], r"shard\(s\) 1/2 missing"),
    (["0/3", "2/3"], r"shard\(s\) 1/3 missing"),
    (["0/2", "0/2"], "shard 0/2 given twice"),
    (["0/2", "1/3"], "different splits"),
    (["0/2", None], "not a shard"),
])
def test_incomplete_or_mixed_shards_refused(shards, message):
    parts = [_shard(f"m{k}", s, [f"seq{k}"]) for k, s in enumerate(shards)]
    with pytest.raises(InputError, match=message):
        merge_results(parts)


def test_differing_settings_warned_and_kept(capsys):
    a = _shard("m0", "0/2", ["a"], decoder="warp")
    b = _shard("m1", "1/2", ["b"], decoder="diffusion")
    merged = merge_results([a, b])
    assert "config differs (decoder)" in capsys.readouterr().err
    assert [p["config"]["decoder"] for p in merged["merged_from"]] == ["warp", "diffusion"]
    same = merge_results([_shard("m0", "0/2", ["a"]), _shard("m1", "1/2", ["b"])])
    assert "warning" not in capsys.readouterr().err and "config" not in same["merged_from"][1]


def test_config_differences_nested():
    assert config_differences({"a": {"b": 1, "c": [1]}, "shard": "0/2"}, {"a": {"b": 2, "c": [1]}, "shard": "1/2"}) \
        == ["a.b"]
    assert config_differences({"x": 1}, {}) == ["x"]


def test_load_many_single_file_as_is(tmp_path):
    """One file is read as it is (a shard alone plots as that shard); several are merged and checked."""
    s0 = save_results(_shard("m0", "0/2", ["a"]), tmp_path / "s0.json")
    assert load_many([s0])["config"]["shard"] == "0/2"
    with pytest.raises(InputError, match="given twice"):
        load_many([s0, s0])


def test_merge_cli_never_writes_over_a_shard(tmp_path, capsys):
    from actdiff.commands.evaluate import main as evaluate

    s0 = save_results(_shard("m0", "0/2", ["a"]), tmp_path / "s0.json")
    s1 = save_results(_shard("m1", "1/2", ["b"]), tmp_path / "s1.json")
    before = s0.read_bytes()
    assert evaluate(["--merge", str(s0), str(s1), "-o", str(s0), "--overwrite"]) == 2
    assert "is the input" in capsys.readouterr().err and s0.read_bytes() == before
