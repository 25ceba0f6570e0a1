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
