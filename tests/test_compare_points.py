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
