"""Results JSON: round trip, validation errors, curves, shard merge."""

import json
import math

import numpy as np
import pytest
from _eval_helpers import fake_results

from actdiff.errors import InputError, OutputError
from actdiff.evaluation.merge import load_many, merge_results
from actdiff.evaluation.results import (
    SCHEMA,
    compute_mean,
    load_results,
    parse_shard,
    save_results,
    source_value,
    to_curves,
)


def test_round_trip(tmp_path):
    res = fake_results("x265", {"a": ([0.01, 0.02], [25.0, 28.0]), "b": ([0.03, 0.05], [30.0, float("nan")])})
    path = save_results(res, tmp_path / "r.json")
    back = load_results(path)
    assert back["schema"] == SCHEMA and back["codec"] == "x265"
    assert back["sequences"]["a"][1]["metrics"]["psnr"] == 28.0
    assert math.isnan(back["sequences"]["b"][1]["metrics"]["psnr"])
    # mean per rate-point index; NaN left out
    assert back["mean"][0]["bpp"] == pytest.approx(0.02)
    assert back["mean"][1]["metrics"]["psnr"] == pytest.approx(28.0)
    assert {"python", "torch", "av"} <= set(back["versions"])


def test_refuses_overwrite_and_atomic(tmp_path):
    res = fake_results("x", {"a": ([0.01], [1.0])})
    p = save_results(res, tmp_path / "r.json")
    with pytest.raises(OutputError, match="--overwrite"):
        save_results(res, p)
    save_results(res, p, overwrite=True)
    assert [q.name for q in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


@pytest.mark.parametrize("mutate,msg", [
    (lambda d: d.update(schema="compressai"), "schema"),
    (lambda d: d.pop("sequences"), "missing key"),
    (lambda d: d["sequences"]["a"][0].pop("bpp"), "lacks bpp"),
    (lambda d: d["sequences"].update(a="oops"), "list of rate points"),
])
def test_validation_errors(tmp_path, mutate, msg):
    res = fake_results("x", {"a": ([0.01], [1.0])})
    mutate(res)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(res))
    with pytest.raises(InputError, match=msg):
        load_results(p)


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_results(tmp_path / "none.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_results(tmp_path / "x.json")


def test_to_curves_sorted_and_mean():
    res = fake_results("x", {"a": ([0.04, 0.01, 0.02], [3.0, 1.0, 2.0])})
    bpp, val = to_curves(res, "psnr")["a"]
    assert bpp.tolist() == [0.01, 0.02, 0.04] and val.tolist() == [1.0, 2.0, 3.0]
    assert "mean" in to_curves(res, "psnr", include_mean=True)


def test_merge_shards(tmp_path):
    a = save_results(fake_results("x", {"a": ([0.01, 0.02], [1.0, 2.0])}), tmp_path / "s0.json")
    b = save_results(fake_results("x", {"b": ([0.03, 0.04], [3.0, 4.0])}), tmp_path / "s1.json")
    merged = load_many([a, b])
    assert set(merged["sequences"]) == {"a", "b"}
    assert merged["mean"][0]["bpp"] == pytest.approx(0.02)
    with pytest.raises(InputError, match="two shards"):
        merge_results([load_results(a), load_results(a)])
    other = fake_results("y", {"c": ([0.1], [1.0])})
    with pytest.raises(InputError, match="different codec"):
        merge_results([load_results(a), other])


def test_parse_shard():
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) == (0, 1)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(InputError):
            parse_shard(bad)


def test_compute_mean_truncates_to_common_points():
    seqs = fake_results("x", {"a": ([0.01, 0.02], [1.0, 2.0]), "b": ([0.03], [3.0])})["sequences"]
    mean = compute_mean(seqs)
    assert len(mean) == 1 and mean[0]["metrics"]["psnr"] == pytest.approx(2.0)
    assert np.isclose(mean[0]["bpp"], 0.02)


def test_source_metrics_validated_and_merged(tmp_path):
    res = fake_results("x", {"a": ([0.01, 0.02], [1.0, 2.0])})
    res["source"] = {"a": {"niqe": "bad"}}
    (tmp_path / "bad.json").write_text(json.dumps(res))
    with pytest.raises(InputError, match="'source'"):
        load_results(tmp_path / "bad.json")
    res["source"] = {"a": {"niqe": 5.0}}
    a = save_results(res, tmp_path / "s0.json")
    other = fake_results("x", {"b": ([0.03, 0.04], [3.0, 4.0])})
    other["source"] = {"b": {"niqe": 7.0}}
    merged = load_many([a, save_results(other, tmp_path / "s1.json")])
    assert merged["source"] == {"a": {"niqe": 5.0}, "b": {"niqe": 7.0}}
    assert source_value(merged, "mean", "niqe") == pytest.approx(6.0)
    assert source_value(merged, "a", "psnr") is None


@pytest.mark.parametrize("change, message", [
    ({"bpp": 1e308}, "is not a bit rate"),
    ({"bpp": -0.01}, "is not a bit rate"),
    ({"bpp": float("inf")}, "is not a bit rate"),
    ({"metrics": {"psnr": "abc"}}, "metric 'psnr' is 'abc', not a number"),
    ({"metrics": {"psnr": True}}, "not a number"),
])
def test_absurd_points_refused(tmp_path, change, message):
    res = fake_results("x", {"a": ([0.01, 0.02], [1.0, 2.0])})
    res["sequences"]["a"][0].update(change)
    (tmp_path / "r.json").write_text(json.dumps(res))
    with pytest.raises(InputError, match=message):
        load_results(tmp_path / "r.json")


def test_points_a_real_run_writes_are_kept(tmp_path):
    """NaN bpp (a failed point), infinite PSNR (a lossless frame) and null metrics load."""
    res = fake_results("x", {"a": ([0.01, 0.02], [1.0, 2.0])})
    res["sequences"]["a"][0].update(bpp=float("nan"), metrics={"psnr": float("inf"), "niqe": None})
    assert load_results(save_results(res, tmp_path / "r.json"))["sequences"]["a"][0]["metrics"]["niqe"] is None


def test_results_path_must_be_a_small_regular_file(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="not a regular file"):
        load_results("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        load_results(tmp_path)
    from actdiff.evaluation import results

    p = save_results(fake_results("x", {"a": ([0.01], [1.0])}), tmp_path / "r.json")
    monkeypatch.setattr(results, "MAX_RESULTS_BYTES", 100)
    with pytest.raises(InputError, match="larger than any results JSON"):
        load_results(p)
