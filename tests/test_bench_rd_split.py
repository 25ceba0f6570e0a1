"""``benchmarks/bench_rd.py --sequences``: runs of different clips share one results folder safely."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from _eval_helpers import load_script

from actdiff.evaluation.results import load_results, new_results

SETTINGS = {"name": "warp", "prediction": "select", "keyflow": True}


def _fresh(settings: dict = SETTINGS, overrides: tuple = ()) -> dict:
    return new_results("actdiff-rd-warp", "set", {"name": "cpu"},
                       {"decoder_settings": settings, "overrides": list(overrides)})


def _point(psnr: float) -> list[dict]:
    return [{"bpp": 0.01, "bits_total": 960, "frames": 4, "height": 16, "width": 24, "quality_param": "rd0",
             "metrics": {"psnr": psnr}}]


def test_two_runs_of_different_clips_fill_one_document_and_restart_drops_only_their_own(tmp_path):
    bench = load_script("benchmarks/bench_rd.py")
    path = tmp_path / "actdiff_rd_warp_set.json"
    bench.start_document(tmp_path, path, _fresh(), SETTINGS, [], False, ["a"])
    bench.start_document(tmp_path, path, _fresh(), SETTINGS, [], False, ["b"])  # finds the first's document
    bench.save_sequence(tmp_path, path, "a", _point(30.0), SETTINGS, [])
    bench.save_sequence(tmp_path, path, "b", _point(20.0), SETTINGS, [])
    assert sorted(load_results(path)["sequences"]) == ["a", "b"]
    bench.start_document(tmp_path, path, _fresh(), SETTINGS, [], True, ["a"])     # re-measure a only
    assert list(load_results(path)["sequences"]) == ["b"]
    with pytest.raises(SystemExit, match="other overrides"):                      # resume refuses a mix
        bench.start_document(tmp_path, path, _fresh(), SETTINGS, ["codec.x=1"], False, ["a"])
    other = {**SETTINGS, "keyflow": False}
    bench.start_document(tmp_path, path, _fresh(other), other, [], True, ["a"])   # other settings: afresh
    assert load_results(path)["sequences"] == {}
    assert not list(tmp_path.glob("*.lock")) and (tmp_path / "streams" / f"{path.name}.lock").exists()


def _writer(args: tuple) -> None:
    folder, prefix, n, go = args
    bench = load_script("benchmarks/bench_rd.py")
    path = Path(folder) / "actdiff_rd_warp_set.json"
    time.sleep(max(0.0, go - time.time()))  # both start writing at once
    for i in range(n):
        bench.save_sequence(Path(folder), path, f"{prefix}{i}", _point(float(i)), SETTINGS, [])


def test_concurrent_writers_lose_no_clip(tmp_path):
    bench = load_script("benchmarks/bench_rd.py")
    path = tmp_path / "actdiff_rd_warp_set.json"
    bench.start_document(tmp_path, path, _fresh(), SETTINGS, [], False, [])
    go = time.time() + 10.0  # after both workers have imported
    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_writer, [(str(tmp_path), "a", 40, go), (str(tmp_path), "b", 40, go)])
    assert len(load_results(path)["sequences"]) == 80


def test_unknown_clip_names_fail_in_one_line_before_any_work(monkeypatch):
    bench = load_script("benchmarks/bench_rd.py")
    clips = {"samples": ["vtest", "cup"], "shared": ["carphone"]}
    monkeypatch.setattr(bench, "SETS", {"samples": (None, None), "shared": (["carphone"], None)})
    monkeypatch.setattr(bench, "load_dataset", lambda name, sequences=None: [
        SimpleNamespace(name=n) for n in clips[name] if sequences is None or n in sequences])
    assert [c.name for c in bench.clips_of("samples", ["cup", "carphone"])] == ["cup"]
    assert bench.clips_of("shared", ["cup"]) == []
    bench.check_sequences(["samples", "shared"], ["cup", "carphone"])
    with pytest.raises(SystemExit, match="--sequences box: not in samples, shared") as err:
        bench.check_sequences(["samples", "shared"], ["cup", "box"])
    assert "\n" not in str(err.value)
    assert bench.parser().parse_args(["--sequences", "cup", "vtest"]).sequences == ["cup", "vtest"]
