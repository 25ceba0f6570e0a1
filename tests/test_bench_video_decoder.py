"""benchmarks/bench_video_decoder.py: issue 13's per-point checks and the source's own warping error."""

from __future__ import annotations

import pytest
from _eval_helpers import load_script


def _row(bpp: float, **metrics: float) -> dict:
    base = {"psnr": 30.0, "psnr_lowres": 35.0, "ms_ssim": 0.95, "vmaf_neg": 50.0, "niqe": 6.0,
            "warping_error": 0.002, "tof": 0.10}
    return {"bpp": bpp, "metrics": {**base, **metrics}}


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/bench_video_decoder.py")


def test_x265_values_are_interpolated_in_log_bpp_and_held_at_the_ends(bench):
    curve = [_row(0.01, tof=0.2), _row(0.04, tof=0.1)]
    assert bench.on_x265_curve(0.02, curve, "tof")[0] == pytest.approx(0.15)
    assert bench.on_x265_curve(0.001, curve, "tof") == (0.2, "below x265's lowest rate: its lowest-rate point")
    assert bench.on_x265_curve(0.1, curve, "tof")[0] == 0.1


def test_verdict_checks_each_target_and_records_what_the_source_would_meet(bench):
    curve = [_row(0.01, warping_error=0.003, tof=0.2), _row(0.04, warping_error=0.003, tof=0.1)]
    warp = _row(0.02, warping_error=0.002, niqe=6.0)
    good = _row(0.02, warping_error=0.0023, tof=0.12, niqe=5.4, psnr_lowres=35.1, vmaf_neg=48.5)
    v = bench.verdict(good, warp, curve, source_we=0.0035)
    assert v["met"] and all(v["checks"].values())
    # the source (0.0035) is above 1.2 x warp (0.0024) and above x265 (0.003): it would fail both
    assert v["source_meets"] == {"warp_err_x265": False, "warp_err_warp": False}
    assert bench.verdict(good, warp, curve, source_we=0.0021)["source_meets"] == {"warp_err_x265": True,
                                                                                  "warp_err_warp": True}
    assert "source_meets" not in bench.verdict(good, warp, curve)
    bad = _row(0.02, warping_error=0.0025, tof=0.16, niqe=5.6, psnr_lowres=34.9, vmaf_neg=47.9)
    failed = {k for k, ok in bench.verdict(bad, warp, curve, 0.001)["checks"].items() if not ok}
    assert failed == {"lowres", "vmaf", "tof_x265", "tof_warp", "warp_err_warp", "niqe"}  # all but warp_err_x265


def _doc(clip: str, met: bool, fps: float, settings: str = "s") -> dict:
    checks = {"lowres": met, "vmaf": True}
    verdicts = [{"checks": checks, "met": met, "source_meets": {"warp_err_x265": met, "warp_err_warp": True}}]
    return {"protocol": "cpu", "frames": 96, "rates": ["r0"], "x265_crf": [51], "metrics": ["psnr"],
            "settings": {"video": settings}, "targets": {}, "machine": {},
            "clips": [{"clip": clip, "rows": {"video": [{"frames_per_second": fps}]}, "verdicts": verdicts}]}


def test_merge_recomputes_the_summary_over_all_clips_and_refuses_mismatched_runs(bench, tmp_path, capsys):
    import json

    paths = []
    for name, doc in (("a", _doc("a", True, 2.0)), ("b", _doc("b", False, 1.5)), ("c", _doc("c", True, 2.0, "t"))):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(doc))
    out = tmp_path / "all.json"
    bench.main([str(paths[0]), str(paths[1]), "--merge", "-o", str(out)])
    doc = json.loads(out.read_text())
    assert [c["clip"] for c in doc["clips"]] == ["a", "b"]
    assert doc["targets_met_every_clip_and_point"] == {"lowres": False, "vmaf": True}
    assert doc["video_frames_per_second"]["min"] == 1.5 and doc["source_meets"]["warp_err_x265"] == 1
    with pytest.raises(SystemExit, match="differs .* in settings"):
        bench.main([str(paths[0]), str(paths[2]), "--merge", "-o", str(tmp_path / "bad.json")])
    assert not (tmp_path / "bad.json").exists()


def test_merge_names_the_shipped_weights_by_package_path_but_not_other_folders(bench, tmp_path):
    import json

    def doc(clip: str, folder: str) -> dict:
        d = _doc(clip, True, 2.0)
        d["settings"] = {"diffusion-2d": {"steps": 5, "model": f"ControlledDenoiser (frame by frame) from {folder}"}}
        return d

    runs = {"a": "/tmp/wt_a/actdiff/assets/weights/tiny", "b": "/tmp/wt_b/actdiff/assets/weights/tiny",
            "c": "/tmp/wt_b/actdiff/assets/weights/small", "d": "/home/me/my_weights"}
    for name, folder in runs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(doc(name, folder)))
    bench.main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--merge", "-o", str(tmp_path / "ab.json")])
    assert [c["clip"] for c in json.loads((tmp_path / "ab.json").read_text())["clips"]] == ["a", "b"]
    for other in ("c", "d"):
        with pytest.raises(SystemExit, match="differs .* in settings"):
            bench.main([str(tmp_path / "a.json"), str(tmp_path / f"{other}.json"), "--merge", "-o",
                        str(tmp_path / "bad.json")])


def test_without_a_video_generator_the_2d_decoder_is_checked_also_when_merging(bench, tmp_path):
    """A run without ``--video`` checks the 2D decoder; results written before that (rows, x265
    curve and source warping error, no verdicts) get the verdicts when merged."""
    import json

    curve = [_row(0.01, warping_error=0.003, tof=0.2), _row(0.04, warping_error=0.003, tof=0.1)]
    warp = {**_row(0.02, warping_error=0.002, niqe=6.0), "frames_per_second": 9.0}
    two_d = {**_row(0.02, warping_error=0.0023, tof=0.12, niqe=5.4, psnr_lowres=35.1, vmaf_neg=48.5),
             "frames_per_second": 1.5}
    clip = {"clip": "a", "rows": {"warp": [warp], "diffusion-2d": [two_d]}, "x265": curve,
            "source_warping_error": 0.0035}
    doc = {"protocol": "cpu", "frames": 96, "rates": ["r0"], "x265_crf": [51], "metrics": ["psnr"],
           "settings": {}, "targets": {}, "machine": {}, "clips": [clip]}
    src, out = tmp_path / "a.json", tmp_path / "all.json"
    src.write_text(json.dumps(doc))
    bench.main([str(src), "--merge", "-o", str(out)])
    merged = json.loads(out.read_text())
    assert merged["clips"][0]["checked"] == "diffusion-2d" and merged["clips"][0]["verdicts"][0]["met"]
    assert merged["video_frames_per_second"]["min"] == 1.5 and merged["meets_all_targets"]
    assert bench.checked_label({"warp": [], "diffusion-2d": [], "video": []}) == "video"
    assert bench.checked_label({"warp": []}) is None
