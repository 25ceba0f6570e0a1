"""``actdiff sweep``: grid expansion, failed points recorded, resume, table and W&B YAML."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from _eval_helpers import fail_point_at_run_time, write_clip_folder

from actdiff.commands.sweep import main as sweep
from actdiff.config import compose, config_root
from actdiff.errors import ConfigError
from actdiff.sweeps import load_spec, parse_spec

RATES = {"lo": ["keyframe_codec.quality=10", "trajectories.budget_points=8"],
         "hi": ["keyframe_codec.quality=40", "trajectories.budget_points=16"]}


def _spec(tmp_path, data, bad_selector="no_such_selector"):
    doc = {"name": "tiny", "command": "evaluate", "data": str(data), "protocol": "native", "rates": RATES,
           "metrics": ["psnr"], "reference": {"name": "ref", "overrides": []},
           "points": [{"name": "uniform", "overrides": ["codec.trajectories.name=uniform"]},
                      {"name": "bad", "overrides": [f"codec.trajectories.name={bad_selector}"]}]}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _table(out):
    with open(out / "table.csv") as f:
        return {r["point"]: r for r in csv.DictReader(f)}


def test_a_point_that_cannot_run_is_refused_before_any_point_runs(tmp_path, capsys):
    """A setting that does not compose or check (an unknown selector, an unknown key) used to fail
    its point only when reached, after the points before it had run."""
    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    spec, out = _spec(tmp_path, data), tmp_path / "sweep"
    for extra in ([], ["--point", "bad"]):
        assert sweep([str(spec), "-o", str(out), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "point bad" in err[0] and "no_such_selector" in err[0], err
        assert not (out / "points").exists()
    assert sweep([str(spec), "-o", str(out), "--point", "uniform", "--point", "ref", "--frames", "2"]) == 0
    capsys.readouterr()


def test_failed_point_is_recorded_and_resume_skips_finished(tmp_path, capsys, monkeypatch):
    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    spec, out = _spec(tmp_path, data, bad_selector="motion"), tmp_path / "sweep"
    with monkeypatch.context() as m:
        fail_point_at_run_time(m, "bad")
        assert sweep([str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad: FAILED: RuntimeError" in err and "1 point(s) failed: bad" in err
    rows = _table(out)
    assert rows["ref"]["status"] == rows["uniform"]["status"] == "ok"
    assert rows["bad"]["status"] == "failed" and "simulated evaluate failure" in rows["bad"]["error"]
    assert float(rows["ref"]["d_psnr"]) == 0 and float(rows["uniform"]["bpp"]) > 0
    assert rows["uniform"]["bd_psnr"] != ""  # two rate points → a BD-rate
    assert "| bad | failed: RuntimeError" in (out / "table.md").read_text()
    assert (out / "points" / "bad.error.json").is_file()
    done_mtime = (out / "points" / "uniform.json").stat().st_mtime_ns

    assert sweep([str(spec), "-o", str(out)]) == 0  # the failure is gone; the others are unchanged
    err = capsys.readouterr().err
    assert "ref: finished before, skipped" in err and "uniform: finished before, skipped" in err
    assert "bad: running" in err
    assert (out / "points" / "uniform.json").stat().st_mtime_ns == done_mtime
    assert not (out / "points" / "bad.error.json").exists()
    rows = _table(out)
    assert all(r["status"] == "ok" for r in rows.values())
    res = json.loads((out / "points" / "bad.json").read_text())
    assert [p["quality_param"] for p in res["sequences"]["alpha"]] == ["lo", "hi"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == "ref" and set(summary["points"]) == {"ref", "uniform", "bad"}

    # a changed setting (extra override) re-runs the points
    assert sweep([str(spec), "-o", str(out), "--point", "uniform", "codec.entropy.step=1.0"]) == 0
    assert "uniform: running" in capsys.readouterr().err


def test_wandb_yaml_and_list(tmp_path, capsys):
    spec = _spec(tmp_path, tmp_path)
    path = tmp_path / "wandb.yaml"
    assert sweep([str(spec), "-o", "sw", "--frames", "8", "--wandb-yaml", str(path)]) == 0
    doc = yaml.safe_load(path.read_text())
    assert doc["program"] == "actdiff" and doc["method"] == "grid"
    assert doc["parameters"]["point"]["values"] == ["ref", "uniform", "bad"]
    assert doc["command"][:3] == ["${env}", "actdiff", "sweep"] and doc["command"][-1] == "${args}"
    assert "--frames" in doc["command"]
    capsys.readouterr()
    assert sweep([str(spec), "--list"]) == 0
    assert "uniform: codec.trajectories.name=uniform" in capsys.readouterr().out


def test_grid_expansion_and_spec_errors():
    spec = parse_spec({"data": "sample", "reference": {"name": "ref"}, "overrides": ["codec.seed=1"],
                       "grid": {"codec.trajectories.budget_points": [8, 16],
                                "codec.keyframes.name": ["fixed", "adaptive"]},
                       "points": [{"name": "nobi", "decoder": {"bidirectional": False}}]})
    names = [p.name for p in spec.points]
    assert names == ["ref", "nobi", "budget_points=8+name=fixed", "budget_points=8+name=adaptive",
                     "budget_points=16+name=fixed", "budget_points=16+name=adaptive"]
    assert spec.points[2].overrides == ["codec.seed=1", "codec.trajectories.budget_points=8",
                                        "codec.keyframes.name=fixed"]
    assert spec.point("nobi").decoder == {"name": "warp", "bidirectional": False}
    for bad in ({"data": "x", "points": [{"name": "a"}], "bogus": 1},
                {"data": "x", "points": [{"name": "a"}], "command": "train"},
                {"data": "x", "points": [{"name": "a"}, {"name": "a"}]},
                {"data": "x"},
                {"points": [{"name": "a"}]},
                {"data": "x", "grid": {"k": []}}):
        with pytest.raises(ConfigError):
            parse_spec(bad)


def test_bad_spec_is_one_line_error(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("data: x\npoints: [{name: a}, {name: a}]\n")
    assert sweep([str(path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.parametrize("key,value,words", [("metrics", ["psnr", "nosuch"], "unknown metric(s) nosuch"),
                                             ("metrics", ["psnr", "psnr"], "metrics: psnr is given twice"),
                                             ("rates", ["lo", "lo"], "rate points: lo is given twice")])
def test_metrics_and_rates_are_checked_before_any_point_runs(tmp_path, capsys, key, value, words):
    """An unknown metric failed every point, each after coding it; a repeated one or a repeated rate
    point was silently done once."""
    spec, out = _spec(tmp_path, tmp_path / "no_data_needed"), tmp_path / "sweep"
    doc = yaml.safe_load(spec.read_text())
    doc[key] = value
    if key == "rates":  # names of a rates file's points
        rates = tmp_path / "rates.yaml"
        rates.write_text(yaml.safe_dump({"points": RATES}))
        doc["rates_file"] = str(rates)
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert sweep([str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and not out.exists()


@pytest.mark.parametrize("name", sorted(p.stem for p in (config_root() / "ablation").glob("*.yaml")))
def test_shipped_ablation_specs_compose(name, tmp_path):
    """Every point of every shipped spec composes (no typo in a key) with every rate point;
    training sweeps also compose each point's fit config."""
    from actdiff.sweeps.run import fit_config, fit_fingerprint, fit_overrides, resolve_rates

    spec = load_spec(f"ablation/{name}")
    rates = resolve_rates(spec)
    assert len(rates) >= 2
    fps = set()
    for p in spec.points:
        cfg = compose(None, [f"protocol={spec.protocol}"] + p.overrides)
        assert cfg.codec.keyframe_codec.quality >= 0
        if spec.trains:
            fcfg = fit_config(spec, p, fit_overrides(spec, p), tmp_path / p.name)
            assert fcfg.run_dir == str(tmp_path / p.name / "run") and fcfg.trainer.max_steps >= 1
            fps.add(fit_fingerprint(fcfg))
            assert p.decoder["name"] == "diffusion" and set(p.decoder) <= {"name", "bidirectional", "steps", "sampler"}
        else:
            assert set(p.decoder) <= {"name", "bidirectional"}
    assert not spec.trains or len(fps) == len(spec.points)  # every point trains something different


def test_evaluate_no_bidirectional_flag(tmp_path):
    """The decoder ablation is also reachable from ``actdiff evaluate --no-bidirectional``."""
    from actdiff.commands.evaluate import main as evaluate
    from actdiff.evaluation.results import load_results

    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    common = ["--data", str(data), "--protocol", "native", "--rates", "r2", "--metrics", "psnr", "-q"]
    assert evaluate(common + ["-o", str(tmp_path / "bi.json")]) == 0
    assert evaluate(common + ["--no-bidirectional", "-o", str(tmp_path / "uni.json")]) == 0
    bi, uni = load_results(tmp_path / "bi.json"), load_results(tmp_path / "uni.json")
    assert uni["codec"] == "actdiff-warp-nobidir" and uni["config"]["bidirectional"] is False
    (p_bi,), (p_uni,) = bi["sequences"]["alpha"], uni["sequences"]["alpha"]
    assert p_bi["bits_total"] == p_uni["bits_total"] and p_bi["metrics"]["psnr"] != p_uni["metrics"]["psnr"]


# --------------------------------------------------------------------------- training sweeps

def _fit_spec(tmp_path, data, v_fit=(), v_overrides=()):
    """Two micro-decoder points (1 training step on the clip folder); ``v`` gets extra settings."""
    doc = {"name": "fitty", "command": "fit", "data": str(data), "protocol": "native",
           "rates": {"lo": RATES["lo"]}, "metrics": ["psnr"],
           "decoder": {"name": "diffusion", "steps": 1},
           "fit": {"config": "experiment/train_test",
                   "overrides": ["logger=none", f"data.sources=[{data}]", "data.max_frames=6", "data.val_videos=0",
                                 "trainer.max_steps=1", f"data.cache_dir={tmp_path}/cache"]},
           "reference": {"name": "ref"},
           "points": [{"name": "v", "fit_overrides": ["model.prediction_type=v_prediction", *v_fit],
                       "overrides": list(v_overrides)}]}
    path = tmp_path / "fitty.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_fit_sweep_trains_evaluates_records_failures_and_resumes(tmp_path, capsys, monkeypatch):
    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    spec, out = _fit_spec(tmp_path, data, v_fit=["optim.lr=-1"]), tmp_path / "sweep"
    pts = out / "points"
    # 0) v's fit config is refused before any point trains (a negative learning rate)
    assert sweep([str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "point v: optim.lr" in err and "training" not in err and not pts.exists()
    # 1) v's fit fails while training: recorded, ref trained and evaluated
    _fit_spec(tmp_path, data)
    with monkeypatch.context() as m:
        fail_point_at_run_time(m, "v", stage="fit")
        assert sweep([str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "ref: training" in err and "v: FAILED: fit: RuntimeError: simulated fit failure" in err
    assert json.loads((pts / "v.error.json").read_text())["stage"] == "fit"
    ref_w = pts / "ref" / "weights"
    assert (ref_w / "config.json").is_file() and list(ref_w.glob("*.safetensors"))
    fit_doc = json.loads((ref_w / "fit.json").read_text())
    assert fit_doc["config"]["model"]["preset"] == "micro" and fit_doc["config"]["trainer"]["max_steps"] == 1
    assert (pts / "ref" / "run" / "config.yaml").is_file()  # resolved fit config beside the checkpoints
    res = json.loads((pts / "ref.json").read_text())
    assert res["config"]["decoder"] == {"name": "diffusion", "steps": 1, "weights": str(ref_w)}
    assert res["config"]["fit"]["fingerprint"] == fit_doc["fingerprint"]
    rows = _table(out)
    assert rows["ref"]["status"] == "ok" and float(rows["ref"]["d_psnr"]) == 0
    assert rows["v"]["status"] == "failed" and rows["v"]["error"].startswith("fit: RuntimeError")
    ref_mtime = (ref_w / "fit.json").stat().st_mtime_ns

    # 2) training fixed, but v's evaluation breaks: ref is skipped, v trains, then fails in evaluate
    with monkeypatch.context() as m:
        fail_point_at_run_time(m, "v")
        assert sweep([str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "ref: finished before, skipped" in err and "v: training" in err
    assert "v: FAILED: evaluate: RuntimeError" in err
    assert json.loads((pts / "v.error.json").read_text())["stage"] == "evaluate"
    assert json.loads((pts / "v" / "weights" / "fit.json").read_text())["config"]["model"]["prediction_type"] \
        == "v_prediction"
    v_mtime = (pts / "v" / "weights" / "fit.json").stat().st_mtime_ns

    # 3) evaluation fixed: v is evaluated with its complete weights, not retrained
    assert sweep([str(spec), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "ref: finished before, skipped" in err and "v: weights trained before" in err and "training" not in err
    assert (pts / "v" / "weights" / "fit.json").stat().st_mtime_ns == v_mtime
    assert (ref_w / "fit.json").stat().st_mtime_ns == ref_mtime
    assert not (pts / "v.error.json").exists()
    rows = _table(out)
    assert rows["ref"]["status"] == rows["v"]["status"] == "ok" and rows["v"]["d_psnr"] != ""
    md = (out / "table.md").read_text()
    assert "| ref | ok |" in md and "| v | ok |" in md
    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"] == "fit_evaluate" and summary["points"]["v"]["weights"] == str(pts / "v" / "weights")

    # 4) incomplete export (no fit.json) with unchanged settings: resumes from last.ckpt, no retraining
    (ref_w / "fit.json").unlink()
    assert sweep([str(spec), "-o", str(out), "--point", "ref"]) == 0
    err = capsys.readouterr().err
    assert "ref: training" in err and "resuming the interrupted training" in err
    assert (ref_w / "fit.json").is_file()
    # 5) a changed fit setting from the command line retrains from scratch (cleared run folder)
    assert sweep([str(spec), "-o", str(out), "--point", "v", "fit.trainer.max_steps=2"]) == 0
    err = capsys.readouterr().err
    assert "v: training" in err and "clearing" in err
    assert json.loads((pts / "v" / "weights" / "fit.json").read_text())["config"]["trainer"]["max_steps"] == 2
    # 6) --force retrains from scratch even though the checkpoints match
    assert sweep([str(spec), "-o", str(out), "--point", "ref", "--force"]) == 0
    err = capsys.readouterr().err
    assert "ref: training" in err and "clearing" in err and "resuming" not in err


def test_fit_sweep_of_a_selector_exports_a_folder_the_codec_uses(tmp_path, capsys):
    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    doc = {"name": "wmap", "command": "fit", "data": str(data), "protocol": "native", "rates": {"lo": RATES["lo"]},
           "metrics": ["psnr"], "decoder": {"name": "warp"},
           "fit": {"config": "experiment/train_trajectory_selector",
                   "overrides": ["logger=none", f"data.sources=[{data}]", "data.max_frames=8", "data.size=null",
                                 "data.window=4", "data.window_every=2", "data.batch_size=2", "trainer.max_steps=1",
                                 "trainer.val_check_interval=1", "trainer.progress_bar=false"]},
           "reference": {"name": "ref"}, "points": [{"name": "wide", "fit_overrides": ["model.channels=[8,8]"]}]}
    spec, out = tmp_path / "wmap.yaml", tmp_path / "sweep"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert sweep([str(spec), "-o", str(out)]) == 0, capsys.readouterr().err
    w = out / "points" / "wide" / "weights"
    assert (w / "config.json").is_file() and (w / "diffusion_pytorch_model.safetensors").is_file()
    assert json.loads((w / "config.json").read_text())["channels"] == [8, 8]
    res = json.loads((out / "points" / "wide.json").read_text())
    assert f"codec.trajectories.weight_map_weights={w}" in res["config"]["overrides"]
    assert res["config"]["fit"]["weights"] == str(w)
    assert sweep([str(spec), "-o", str(out)]) == 0  # complete weights: skipped, not retrained
    assert "wide: finished before, skipped" in capsys.readouterr().err


def test_fit_spec_parsing_grid_and_errors(tmp_path):
    from actdiff.sweeps.run import fit_overrides, split_extra, trained_decoder

    base = {"data": "sample", "fit": {"config": "experiment/train_test", "overrides": ["logger=none"]},
            "reference": {"name": "eps"}}
    spec = parse_spec({**base, "command": "fit", "grid": {"fit.model.prediction_type": ["v_prediction"],
                                                          "codec.seed": [3]}})
    assert spec.command == "fit_evaluate" and spec.trains and spec.fit.task == "denoiser"
    p = spec.points[1]
    assert p.name == "prediction_type=v_prediction+seed=3"
    assert p.overrides == ["codec.seed=3"] and p.fit_overrides == ["model.prediction_type=v_prediction"]
    assert p.decoder == {"name": "diffusion"}
    # command-line fit overrides go before the point's own, the rest to the evaluation
    ev, fit = split_extra(spec, ["fit.model=tiny", "+fit.notes=x", "codec.seed=1"])
    assert ev == ["codec.seed=1"] and fit == ["model=tiny", "+notes=x"]
    assert fit_overrides(spec, p, fit) == ["logger=none", "model=tiny", "+notes=x",
                                           "model.prediction_type=v_prediction"]
    # a selector task keeps the warp decoder and points the codec at the exported net
    sel = parse_spec({**base, "command": "fit_evaluate", "fit": {"config": "experiment/train_keyframe_selector"},
                      "points": [{"name": "b", "fit_overrides": ["data.horizon=24"]}]})
    assert sel.fit.task == "keyframe_selector" and sel.points[1].decoder == {"name": "warp"}
    dec, ovs = trained_decoder(sel.points[1], "keyframe_selector", tmp_path / "w")
    assert dec == {"name": "warp"} and f"codec.keyframes.weights={tmp_path / 'w'}" in ovs
    cfg = compose(None, ovs)  # the overrides name real codec keys
    assert cfg.codec.keyframes.name == "learned"
    _, ovs = trained_decoder(sel.points[1], "trajectory_selector", tmp_path / "t")
    assert compose(None, ovs).codec.trajectories.weight_map == "learned"
    with pytest.raises(ConfigError, match="fit_evaluate"):
        split_extra(load_spec("ablation/gop"), ["fit.trainer.max_steps=3"])
    for bad in ({**base, "command": "fit"},  # no point besides the reference
                {**base, "command": "fit", "points": [{"name": "a"}], "decoder": "warp"},
                {**base, "command": "fit", "points": [{"name": "a", "decoder": {"weights": "x"}}]},
                {**base, "command": "fit", "points": [{"name": "a"}], "fit": {"overrides": []}},
                {**base, "command": "fit", "points": [{"name": "a"}], "fit": {"config": "experiment/nope"}},
                {**base, "command": "fit", "points": [{"name": "a", "fit_overides": []}]},
                {"data": "x", "points": [{"name": "a", "fit_overrides": ["model.x=1"]}]},
                {"data": "x", "points": [{"name": "a"}], "fit": {"config": "experiment/train_test"}},
                {"data": "x", "grid": {"fit.model.residual_over_warp": [True]}}):
        with pytest.raises(ConfigError):
            parse_spec(bad)


def test_fit_sweep_wandb_yaml_and_list(tmp_path, capsys):
    spec = _fit_spec(tmp_path, tmp_path)
    path = tmp_path / "wandb.yaml"
    assert sweep([str(spec), "-o", "sw", "--wandb-yaml", str(path), "fit.trainer.max_steps=5"]) == 0
    doc = yaml.safe_load(path.read_text())
    assert doc["parameters"]["point"]["values"] == ["ref", "v"]
    assert "fit.trainer.max_steps=5" in doc["command"] and doc["command"][-1] == "${args}"
    capsys.readouterr()
    assert sweep([str(spec), "--list"]) == 0
    out = capsys.readouterr().out
    assert "v: (no overrides); decoder diffusion[steps=1]; fit logger=none" in out
    assert out.splitlines()[1].endswith("model.prediction_type=v_prediction")


def test_sweep_reads_each_clip_into_the_buffer_the_encoder_pads(tmp_path, capsys, monkeypatch):
    """As ``evaluate``: a clip whose size is no multiple of ``codec.pad_multiple`` is read padded."""
    from actdiff.evaluation import runner
    from actdiff.io.geometry import padded_buffer

    seen, encode = [], runner.encode_point

    def spy(video, cfg):
        seen.append(padded_buffer(video.frames, 12, 6) is not None)   # 52x90 → 64x96
        return encode(video, cfg)

    monkeypatch.setattr(runner, "encode_point", spy)
    data = write_clip_folder(tmp_path / "clips", names=("alpha",), h=52, w=90)
    assert sweep([str(_spec(tmp_path, data)), "-o", str(tmp_path / "sweep"), "--point", "ref", "--frames", "2"]) == 0
    capsys.readouterr()
    assert seen == [True, True]   # both rate points
