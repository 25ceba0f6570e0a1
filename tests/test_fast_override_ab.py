"""``experiments/fast_override_ab.py`` (and ``rd_flag_ab.py``, through the same helpers): BD-rates that
cannot be computed are recorded, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest
from _eval_helpers import load_script

from actdiff.evaluation.bdrate import bd_rate_of_points


def points(bpps, values):
    return [{"bpp": b, "vmaf_neg": v, "ms_ssim": v / 100, "psnr": v / 2, "warping_error": 0.01, "tof": 0.5}
            for b, v in zip(bpps, values)]


def test_curves_that_do_not_overlap_give_none_and_the_mean_skips_them():
    ab = load_script("experiments/fast_override_ab.py")
    off = points([0.004, 0.008, 0.016, 0.032], [20, 30, 40, 50])
    on_better = points([0.004, 0.008, 0.016, 0.032], [22, 32, 42, 52])
    on_apart = points([0.004, 0.008, 0.016, 0.032], [60, 70, 80, 90])  # no shared quality range
    assert bd_rate_of_points(off, on_better, "vmaf_neg") < 0
    assert bd_rate_of_points(off, on_apart, "vmaf_neg") is None
    assert ab.fmt(None) == "no overlap" and ab.fmt(-1.25) == "-1.2%"
    out = {"clips": {
        "a": {"bd_rate_on_vs_off": {m: bd_rate_of_points(off, on_better, m) for m in ab.QUALITY},
              "temporal_ratio_on_vs_off": {m: 1.0 for m in ab.TEMPORAL}},
        "b": {"bd_rate_on_vs_off": {m: bd_rate_of_points(off, on_apart, m) for m in ab.QUALITY},
              "temporal_ratio_on_vs_off": {m: 1.2 for m in ab.TEMPORAL}}}}
    ab.summarize(out)
    assert out["bd_rate_clips"] == {m: 1 for m in ab.QUALITY}
    only = out["clips"]["a"]["bd_rate_on_vs_off"]["vmaf_neg"]
    assert out["mean_bd_rate_on_vs_off"]["vmaf_neg"] == pytest.approx(only)
    assert out["mean_temporal_ratio_on_vs_off"]["tof"] == pytest.approx(1.1)


def test_merge_joins_runs_split_by_clip_and_recomputes_the_means(tmp_path):
    import json

    ab = load_script("experiments/fast_override_ab.py")
    off = points([0.004, 0.008, 0.016, 0.032], [20, 30, 40, 50])

    def run(name, clips, gain, override="trajectories.smooth_sigma=0"):
        on = points([0.004, 0.008, 0.016, 0.032], [20 + gain, 30 + gain, 40 + gain, 50 + gain])
        bd = {m: bd_rate_of_points(off, on, m) for m in ab.QUALITY}
        ratio = {m: 1.0 + gain / 10 for m in ab.TEMPORAL}
        out = {"args": {"override": [override], "clips": clips, "frames": 96, "output": name},
               "machine": {"cpu_count": 2},
               "clips": {c: {"off": off, "on": on, "bd_rate_on_vs_off": bd, "temporal_ratio_on_vs_off": ratio}
                         for c in clips}}
        ab.summarize(out)
        (tmp_path / name).write_text(json.dumps(out))
        return str(tmp_path / name), out

    a, ra = run("a.json", ["x", "y"], 2)
    b, rb = run("b.json", ["z"], -2)
    ab.main(["--merge", a, b, "-o", str(tmp_path / "all.json")])
    merged = json.loads((tmp_path / "all.json").read_text())
    assert list(merged["clips"]) == ["x", "y", "z"] and merged["args"]["clips"] == ["x", "y", "z"]
    bds = [ra["clips"]["x"]["bd_rate_on_vs_off"]["psnr"]] * 2 + [rb["clips"]["z"]["bd_rate_on_vs_off"]["psnr"]]
    assert merged["mean_bd_rate_on_vs_off"]["psnr"] == pytest.approx(sum(bds) / 3)
    assert merged["mean_temporal_ratio_on_vs_off"]["tof"] == pytest.approx((1.2 + 1.2 + 0.8) / 3)
    with pytest.raises(SystemExit, match="clip x is in an earlier file"):
        ab.merge([a, a], str(tmp_path / "twice.json"))
    c, _ = run("c.json", ["w"], 1, override="entropy.step=1.0")
    with pytest.raises(SystemExit, match="another override"):
        ab.merge([a, c], str(tmp_path / "mixed.json"))
    with pytest.raises(SystemExit, match="no such results file"):
        ab.merge([a, str(tmp_path / "gone.json")], str(tmp_path / "gone_all.json"))
    # --versus: run c's "on" (gain 1) against run a's (gain 2) on the clips both hold, over the same baseline
    d, _ = run("d.json", ["x", "z"], 1, override="entropy.step=1.0")
    ab.main(["--versus", a, d, "-o", str(tmp_path / "vs.json")])
    vs = json.loads((tmp_path / "vs.json").read_text())
    assert vs["args"]["clips"] == ["x"] and vs["args"]["on"] == ["entropy.step=1.0"]
    assert vs["clips"]["x"]["bd_rate_on_vs_off"]["vmaf_neg"] > 0          # one point of VMAF NEG less than a's
    assert vs["clips"]["x"]["temporal_ratio_on_vs_off"]["tof"] == pytest.approx(1.0)   # same temporal values
    with pytest.raises(SystemExit, match="exists"):                         # never over an existing result
        ab.versus([a, d], str(tmp_path / "vs.json"))
    other = json.loads(Path(d).read_text())
    other["clips"]["x"]["off"][0]["bpp"] = 0.005
    Path(d).write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="baselines differ"):
        ab.versus([a, d], str(tmp_path / "vs2.json"))


def test_every_override_goes_to_every_point_after_the_points_own(monkeypatch, tmp_path):
    from types import SimpleNamespace

    ab = load_script("experiments/fast_override_ab.py")
    seen = {}

    def encode(video, name, rates):
        seen[name] = rates[name]
        return SimpleNamespace(data=b"", stats={"bpp": 0.01, "keyframes": [0]})

    monkeypatch.setattr(ab, "encode_at_point", encode)
    monkeypatch.setattr(ab, "decode_video", lambda data, name: SimpleNamespace(frames=None))
    monkeypatch.setattr(ab, "compute_metrics", lambda ref, rec, names: dict.fromkeys(names, 1.0))
    video = SimpleNamespace(frames=None)
    rates = {"r0": ["keyframe_codec.quality=5"], "r1": ["keyframe_codec.quality=12"]}
    ab.curve(video, rates, ["trajectories.smooth_sigma=0", "trajectories.temporal_stride=1"])
    assert seen["r1"] == ["keyframe_codec.quality=12", "trajectories.smooth_sigma=0", "trajectories.temporal_stride=1"]
    ab.curve(video, rates, [])
    assert seen["r0"] == ["keyframe_codec.quality=5"]
    with pytest.raises(SystemExit):
        ab.main(["trajectories.smooth_sigma", "-o", str(tmp_path / "out.json")])


def test_rd_flag_ab_reads_values_and_codec_keys():
    """``rd_flag_ab.py``: booleans, numbers, tuples and names as values; ``+codec.<key>`` (a key the
    config files do not name) is a codec key like ``codec.<key>``, an RD setting is not."""
    ab = load_script("experiments/rd_flag_ab.py")
    assert [ab.parse_value(v) for v in ("true", "3", "0.5", "8,32", "pin")] == [True, 3, 0.5, (8, 32), "pin"]
    assert ab.is_codec_key("codec.entropy.step") and ab.is_codec_key("+codec.trajectories.smooth_ends")
    assert not ab.is_codec_key("propagation")


def test_rd_flag_ab_also_scores_with_other_warp_settings(codec_cfg, tmp_path):
    """``--also-score``: a second warp decoder's scores of the same stream (differ from the
    default's where the motion differs); bad settings stop the run before any encoding."""
    from conftest import moving_texture

    from actdiff.codec import encode_video
    from actdiff.errors import ConfigError
    from actdiff.types import Video
    ab = load_script("experiments/rd_flag_ab.py")
    video = Video(frames=moving_texture(), fps=25.0)
    data = encode_video(video, codec_cfg).data
    plain, gaussian = ab.scores(video, data), ab.scores(video, data, '{"edge_sigma_r": 0}')
    assert set(plain) == set(ab.METRICS) and plain != gaussian
    with pytest.raises(ConfigError, match="bad prediction_params"):
        ab.main(["codec.rd.edge", "--also-score", '{"edge_sigma_r": -1}', "-o", str(tmp_path / "out.json")])


def test_rd_flag_ab_merge_joins_runs_of_the_same_flag_only(tmp_path):
    import json

    ab = load_script("experiments/rd_flag_ab.py")
    off = points([0.004, 0.008, 0.016], [20, 30, 40])

    def run(name, clips, gain, values=("false", "true")):
        on = points([0.004, 0.008, 0.016], [20 + gain, 30 + gain, 40 + gain])
        bd = {m: bd_rate_of_points(off, on, m) for m in ab.METRICS}
        out = {"args": {"flag": "stride_choice", "values": list(values), "clips": clips, "frames": 96,
                        "lambdas": [2.5, 8, 32], "output": name}, "machine": {"cpu_count": 2},
               "clips": {c: {"off": off, "on": on, "bd_rate_on_vs_off": bd} for c in clips}}
        (tmp_path / name).write_text(json.dumps(out))
        return str(tmp_path / name), bd

    a, bda = run("a.json", ["x"], 2)
    b, bdb = run("b.json", ["y", "z"], -1)
    ab.main(["--merge", a, b, "-o", str(tmp_path / "all.json")])
    merged = json.loads((tmp_path / "all.json").read_text())
    assert merged["args"]["clips"] == ["x", "y", "z"]
    assert merged["mean_bd_rate_on_vs_off"]["vmaf_neg"] == pytest.approx((bda["vmaf_neg"] + 2 * bdb["vmaf_neg"]) / 3)
    c, _ = run("c.json", ["w"], 1, values=("2", "1"))
    with pytest.raises(SystemExit, match="another flag or values"):
        ab.merge([a, c], str(tmp_path / "mixed.json"))
