"""``benchmarks/bench_rd_frame_vmaf.py``: keyframes and in-between frames are summarised apart."""

from __future__ import annotations

import pytest
from _eval_helpers import load_script


def test_summary_separates_keyframes_and_bins_by_distortion():
    rows = [{"stream": "a", "bpp": 0.01, "t": t, "keyframe": t in (0, 9), "d": 0.1 + 0.03 * t,
             "vmaf_neg": 90.0 - 9.0 * t} for t in range(10)]
    rows += [{**r, "stream": "b", "bpp": 0.02} for r in rows]
    s = load_script("benchmarks/bench_rd_frame_vmaf.py")._summary(rows)
    a = s["streams"]["a"]
    assert (a["bpp"], a["keyframes"], s["frames"]) == (0.01, 2, 20)
    assert a["vmaf_neg_keyframes"] == pytest.approx((90.0 + 9.0) / 2)
    assert a["vmaf_neg_between"] == pytest.approx(sum(90.0 - 9.0 * t for t in range(1, 9)) / 8)
    assert a["d_between"] == pytest.approx(0.1 + 0.03 * 4.5)
    assert s["pearson_d_vmaf_neg"] == pytest.approx(-1.0) and s["spearman_d_vmaf_neg"] == pytest.approx(-1.0)
    assert sum(b["frames"] for b in s["vmaf_neg_by_d"]) <= 20
    assert all(b["d_from"] < b["d_to"] and b["frames"] >= 5 for b in s["vmaf_neg_by_d"])
