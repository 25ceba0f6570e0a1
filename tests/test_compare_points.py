"""experiments/compare_points.py: per-point changes between two versions of a results JSON."""

from __future__ import annotations

import pytest
from _eval_helpers import load_script


def _results(vmaf: float, bpp: float = 0.01) -> dict:
    return {"sequences": {"clip": [{"quality_param": "r0", "bpp": bpp, "metrics": {"psnr": 30.0, "vmaf_neg": vmaf}}]}}


def test_changes_per_point_and_refuses_another_bitstream():
    cmp = load_script("experiments/compare_points.py")
    rows = cmp.changes(_results(40.0), _results(41.5), ["psnr", "vmaf_neg", "niqe"])
    assert rows == [("clip", "r0", 0.01, {"psnr": 0.0, "vmaf_neg": 1.5})]
    with pytest.raises(SystemExit, match="not the same bitstream"):
        cmp.changes(_results(40.0), _results(41.5, bpp=0.02), ["psnr"])


def test_changes_with_side_information_added():
    cmp = load_script("experiments/compare_points.py")
    rows = cmp.changes(_results(40.0), _results(41.5, bpp=0.01002), ["vmaf_neg"], bpp_tolerance=0.005)
    assert rows[0][3]["vmaf_neg"] == pytest.approx(1.5)
    with pytest.raises(SystemExit, match="not the same bitstream"):
        cmp.changes(_results(40.0), _results(41.5, bpp=0.0101), ["vmaf_neg"], bpp_tolerance=0.005)


def test_curve_changes_after_an_encoder_change():
    """Other bitstreams: the BD-rate of the new curve against the old one (half the bits: -50 %)."""
    cmp = load_script("experiments/compare_points.py")

    def doc(scale: float) -> dict:
        pts = [(0.005, 30.0, 40.0), (0.01, 32.0, 50.0), (0.02, 34.0, 58.0)]
        return {"sequences": {"clip": [{"quality_param": f"r{i}", "bpp": b * scale,
                                        "metrics": {"psnr": p, "vmaf_neg": v}} for i, (b, p, v) in enumerate(pts)]}}

    out = cmp.curve_changes(doc(1.0), doc(0.5), ["psnr", "vmaf_neg", "niqe"])
    assert set(out) == {"psnr", "vmaf_neg"}
    assert out["psnr"]["clip"] == pytest.approx(-50.0) and out["vmaf_neg"]["clip"] == pytest.approx(-50.0)


def test_rate_changes_of_a_lossless_encoder_change():
    """Same frames, fewer bits: the rate change per point; a changed score is refused."""
    cmp = load_script("experiments/compare_points.py")
    assert cmp.rate_changes(_results(40.0), _results(40.0, bpp=0.009), ["psnr", "vmaf_neg"]) == [
        ("clip", "r0", 0.01, 0.009)]
    with pytest.raises(SystemExit, match="vmaf_neg changed"):
        cmp.rate_changes(_results(40.0), _results(40.5, bpp=0.009), ["psnr", "vmaf_neg"])
