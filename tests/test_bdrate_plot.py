"""BD-rate on synthetic curves with known answers; plot writes figures."""

import json

import numpy as np
import pytest
from _eval_helpers import fake_results

from actdiff.commands.bdrate import main as bdrate_main
from actdiff.commands.plot import main as plot_main
from actdiff.errors import InputError
from actdiff.evaluation.bdrate import (
    bd_rate,
    bd_rate_between,
    compare,
    matched_points,
    matched_savings,
    quality_overlap,
)
from actdiff.evaluation.results import save_results

RATES = np.array([0.005, 0.01, 0.02, 0.04])
PSNR = np.array([24.0, 27.5, 30.0, 33.5])
NIQE = np.array([9.0, 7.0, 5.5, 4.2])


@pytest.mark.parametrize("scale,expected", [(2.0, 100.0), (0.5, -50.0)])
def test_bd_rate_known_scaling(scale, expected):
    assert bd_rate((RATES, PSNR), (RATES * scale, PSNR), "psnr") == pytest.approx(expected, abs=1e-6)
    # lower-is-better metric: flipped internally, same answer
    assert bd_rate((RATES, NIQE), (RATES * scale, NIQE), "niqe") == pytest.approx(expected, abs=1e-6)


def test_bd_rate_between_a_common_interval():
    """Over the curves' whole overlap it is bd_rate; over any shared interval two tested curves
    differ against one anchor by exactly their own BD-rate there (bd_rate over each curve's own
    overlap does not: a curve that reaches further up where the anchor is strong scores worse)."""
    x265 = (RATES, PSNR)
    fast = (np.array([0.008, 0.012, 0.02]), np.array([25.0, 27.0, 28.5]))
    rd = (np.array([0.003, 0.006, 0.012, 0.03]), np.array([23.0, 26.0, 29.0, 31.0]))
    for a, b in ((x265, fast), (x265, rd), (fast, rd)):
        whole = quality_overlap([a, b], "psnr")
        assert bd_rate_between(a, b, "psnr", whole) == pytest.approx(bd_rate(a, b, "psnr"), abs=1e-6)
    common = quality_overlap([x265, fast, rd], "psnr")
    assert common == pytest.approx((25.0, 28.5))
    bf, br = (bd_rate_between(x265, c, "psnr", common) for c in (fast, rd))
    assert (1 + br / 100) / (1 + bf / 100) - 1 == pytest.approx(bd_rate_between(fast, rd, "psnr", common) / 100)
    assert bd_rate_between((RATES, NIQE), (RATES * 0.5, NIQE), "niqe", (8.0, 5.0)) == pytest.approx(-50.0)
    with pytest.raises(InputError, match="not inside"):
        bd_rate_between(x265, fast, "psnr", (20.0, 28.0))
    assert quality_overlap([x265, (RATES, PSNR + 20)], "psnr") is None


def test_matched_savings_known():
    s = matched_savings((RATES, PSNR), (RATES * 2, PSNR), "psnr")
    assert s == pytest.approx([50.0] * 4)
    # shift B's quality down: A's top point is above B's range → None
    s = matched_savings((RATES, PSNR), (RATES, PSNR - 1.0), "psnr")
    assert s[-1] is None and all(v > 0 for v in s[:-1])


def test_errors():
    with pytest.raises(InputError, match="at least 2"):
        bd_rate((RATES[:1], PSNR[:1]), (RATES, PSNR), "psnr")
    with pytest.raises(InputError, match="do not overlap"):
        bd_rate((RATES, PSNR), (RATES, PSNR + 20), "psnr")
    with pytest.raises(InputError, match="same psnr"):
        bd_rate((RATES, np.array([24.0, 24.0, 30, 33])), (RATES, PSNR), "psnr")


def test_compare_per_sequence_and_average():
    a = fake_results("actdiff-warp", {"s1": (RATES, PSNR), "s2": (RATES, PSNR + 1)})
    b = fake_results("x265", {"s1": (RATES * 2, PSNR), "s2": (RATES * 4, PSNR + 1)})
    rep = compare(a, b, "psnr")  # A needs 1/2 and 1/4 of B's bits: negative BD-rates (savings)
    assert rep["sequences"]["s1"]["bd_rate"] == pytest.approx(-50.0)
    assert rep["sequences"]["s2"]["bd_rate"] == pytest.approx(-75.0)
    assert rep["average"]["bd_rate"] == pytest.approx(-62.5)
    assert rep["average"]["saving"] == pytest.approx((50 + 75) / 2)


def test_bdrate_cli(tmp_path, capsys):
    pa = save_results(fake_results("actdiff-warp", {"s1": (RATES, NIQE)}, "niqe"), tmp_path / "a.json")
    pb = save_results(fake_results("x265", {"s1": (RATES * 2, NIQE)}, "niqe"), tmp_path / "b.json")
    rc = bdrate_main([str(pa), str(pb), "--metric", "niqe", "--json", str(tmp_path / "r.json"),
                      "--markdown", str(tmp_path / "r.md")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| -50.0% | +50.0% |" in out  # BD-rate (negative = A saves bits), saving (positive = A saves)
    assert "negative = actdiff-warp needs fewer bits than the anchor x265" in out
    assert json.loads((tmp_path / "r.json").read_text())["average"]["bd_rate"] == pytest.approx(-50.0)
    assert bdrate_main([str(pa), str(pb), "--metric", "psnr"]) == 2  # metric absent → one-line error
    assert "no metric 'psnr'" in capsys.readouterr().err
    assert bdrate_main([str(pa), str(pb), "--metric", "niqe", "--json", str(tmp_path / "r.json")]) == 2
    capsys.readouterr()
    assert bdrate_main([str(pa), str(pb), "--metric", "niqe", "niqe"]) == 2  # printed twice before
    assert "metrics: niqe is given twice" in capsys.readouterr().err


def test_bdrate_never_writes_over_its_inputs_or_one_report_over_the_other(tmp_path, capsys):
    pa = save_results(fake_results("actdiff-warp", {"s1": (RATES, NIQE)}, "niqe"), tmp_path / "a.json")
    pb = save_results(fake_results("x265", {"s1": (RATES * 2, NIQE)}, "niqe"), tmp_path / "b.json")
    before = pa.read_bytes()
    assert bdrate_main([str(pa), str(pb), "--metric", "niqe", "--json", str(pa), "--overwrite"]) == 2
    assert "is the input" in capsys.readouterr().err and pa.read_bytes() == before
    both = tmp_path / "new" / "r.json"
    assert bdrate_main([str(pa), str(pb), "--metric", "niqe", "--json", str(both), "--markdown", str(both)]) == 2
    assert "two outputs are the same path" in capsys.readouterr().err and not both.exists()


@pytest.mark.parametrize("suffix", [".png", ".pdf"])
def test_plot_writes_figure(tmp_path, suffix):
    pa = save_results(fake_results("actdiff-warp", {"s1": (RATES, NIQE), "s2": (RATES, NIQE + 1)}, "niqe"),
                      tmp_path / "a.json")
    pb = save_results(fake_results("x265", {"s1": (RATES * 2, NIQE), "s2": (RATES * 2, NIQE + 1)}, "niqe"),
                      tmp_path / "b.json")
    out = tmp_path / f"curves{suffix}"
    assert plot_main([str(pa), str(pb), "--metric", "niqe", "-o", str(out)]) == 0
    head = out.read_bytes()[:8]
    assert head.startswith(b"\x89PNG" if suffix == ".png" else b"%PDF")
    assert plot_main([str(pa), "--metric", "niqe", "-o", str(out)]) == 2  # exists
    assert plot_main([str(pa), "--metric", "niqe", "-o", str(tmp_path / "c.txt")]) == 2


def test_plot_refuses_a_results_file_given_twice(tmp_path, capsys):
    """The same run twice (also as a shard, or by another spelling of its path) would be drawn twice."""
    pa = save_results(fake_results("actdiff-warp", {"s1": (RATES, NIQE)}, "niqe"), tmp_path / "a.json")
    out = tmp_path / "c.png"
    for args in ([str(pa), str(pa)], [str(pa), f"{tmp_path}/./a.json"], [f"{pa},{pa}"]):
        assert plot_main([*args, "--metric", "niqe", "-o", str(out)]) == 2
        assert "is given twice" in capsys.readouterr().err and not out.exists()


def test_non_monotonic_curve_is_flagged_in_the_report():
    # NIQE that improves as the rate drops (a generator adding texture): numbers, but flagged
    a = fake_results("actdiff-diffusion", {"s1": (RATES, np.array([4.0, 4.6, 5.1, 5.5])),
                                           "s2": (RATES, NIQE)}, "niqe")
    b = fake_results("x265", {"s1": (RATES * 2, NIQE), "s2": (RATES * 2, NIQE)}, "niqe")
    rep = compare(a, b, "niqe")
    assert "not monotonic" in rep["sequences"]["s1"]["warnings"][0]
    assert "warnings" not in rep["sequences"]["s2"]
    assert rep["average"]["unreliable"] == ["s1"]
    from actdiff.evaluation.bdrate import to_markdown

    md = to_markdown(rep)
    assert "includes unreliable: s1" in md and md.count("not monotonic") == 1


def test_matched_points_are_bounds_outside_the_tested_range():
    # A beats every point of B (NIQE lower than B's best): B would need more than its top rate
    a = (RATES, NIQE - 3.0)
    b = (RATES * 2, NIQE)
    pts = sorted(matched_points(a, b, "niqe"), key=lambda p: p["bpp"])
    assert [p["bound"] for p in pts] == [None, "lower", "lower", "lower"]  # NIQE 6.0 | 4.0 2.5 1.2 < 4.2
    top = [p for p in pts if p["bound"] == "lower"]
    assert top and all(p["saving"] == pytest.approx(100 * (1 - p["bpp"] / (RATES.max() * 2))) for p in top)
    inside = [p for p in pts if p["bound"] is None]
    assert all(p["saving"] > 50 for p in inside)  # B needs > 2x at every matched quality
    # A worse than every point of B: B reaches it at its lowest tested rate or below
    pts = matched_points((RATES, NIQE + 10.0), (RATES, NIQE), "niqe")
    assert all(p["bound"] == "upper" for p in pts)
    assert [p["saving"] for p in pts] == pytest.approx(list(100 * (1 - RATES / RATES.min())))
    assert [p["quality"] for p in sorted(pts, key=lambda p: p["bpp"])] == pytest.approx(list(NIQE + 10.0))
    # the interpolation-only view keeps None outside the range
    assert matched_savings((RATES, NIQE + 10.0), (RATES, NIQE), "niqe") == [None] * 4


def test_bounds_reported_when_ranges_do_not_overlap():
    a = fake_results("actdiff-diffusion", {"s1": (RATES, NIQE - 5.0)}, "niqe")
    b = fake_results("x265", {"s1": (RATES * 2, NIQE)}, "niqe")
    row = compare(a, b, "niqe")["sequences"]["s1"]
    assert "do not overlap" in row["error"] and row["saving"] is None
    assert [p["bound"] for p in row["points"]] == ["lower"] * 4
    b["source"] = {"s1": {"niqe": 6.0}}  # A beats the source: flagged, but the row has no numbers to average
    rep = compare(a, b, "niqe")
    assert rep["sequences"]["s1"]["warnings"] and rep["average"]["unreliable"] == []
    from actdiff.evaluation.bdrate import to_markdown

    md = to_markdown(compare(a, b, "niqe"))
    assert "0.0050: ≥+94%" in md  # 1 - 0.005 / 0.08


def test_better_than_source_is_noted():
    a = fake_results("actdiff-diffusion", {"s1": (RATES, NIQE), "s2": (RATES, NIQE)}, "niqe")
    b = fake_results("x265", {"s1": (RATES * 2, NIQE), "s2": (RATES * 2, NIQE)}, "niqe")
    b["source"] = {"s1": {"niqe": 6.0}, "s2": {"niqe": 3.0}}  # A records none: B's (same protocol) is used
    rep = compare(a, b, "niqe")
    s1, s2 = rep["sequences"]["s1"], rep["sequences"]["s2"]
    assert s1["source"] == 6.0 and s2["source"] == 3.0
    notes = [w for w in s1["warnings"] if "better than the source" in w]
    assert len(notes) == 2 and "at 2 of 4 points" in notes[0]  # NIQE 5.5 and 4.2 < 6.0, for A and B
    assert "warnings" not in s2  # nothing beats a source NIQE of 3.0
    assert rep["average"]["unreliable"] == ["s1"]
    assert rep["sequences"]["mean"]["source"] == pytest.approx(4.5)
    b["protocol"] = {"name": "other"}  # a different protocol read different source frames
    assert "source" not in compare(a, b, "niqe")["sequences"]["s1"]


def test_pareto_front_drops_dominated_points():
    from actdiff.evaluation.bdrate import pareto_front

    # NIQE (lower is better): 7.0 at 0.004 dominates the dearer 7.1 and 8.6; 6.5 at 0.07 is kept
    rate, niqe = pareto_front((np.array([0.027, 0.004, 0.008, 0.07]), np.array([8.6, 7.0, 7.1, 6.5])), "niqe")
    assert rate.tolist() == [0.004, 0.07] and niqe.tolist() == [7.0, 6.5]
    rate, psnr = pareto_front((RATES, PSNR), "psnr")  # monotonic curve: unchanged
    assert rate.tolist() == RATES.tolist() and psnr.tolist() == PSNR.tolist()


def test_frontier_compare_and_cli(tmp_path, capsys):
    # A: a non-monotonic curve whose cheapest point is its best; B: x265-like, non-monotonic too
    a = fake_results("actdiff-diffusion", {"s1": ([0.004, 0.008, 0.016, 0.027], [7.0, 7.1, 8.0, 8.6])}, "niqe")
    b = fake_results("x265", {"s1": ([0.007, 0.010, 0.020, 0.044], [10.7, 9.6, 8.5, 9.0])}, "niqe")
    plain = compare(a, b, "niqe")["sequences"]["s1"]
    assert len(plain["points"]) == 4 and plain["warnings"]  # non-monotonic: flagged
    row = compare(a, b, "niqe", frontier=True)["sequences"]["s1"]
    assert [(p["bpp"], p["bound"]) for p in row["points"]] == [(0.004, "lower")]
    assert row["points"][0]["saving"] == pytest.approx(100 * (1 - 0.004 / 0.020))  # B's front ends at 0.020
    assert "needs at least 2" in row["error"] and "warnings" not in row
    pa = save_results(a, tmp_path / "a.json")
    pb = save_results(b, tmp_path / "b.json")
    assert bdrate_main([str(pa), str(pb), "--metric", "niqe", "--frontier"]) == 0
    out = capsys.readouterr().out
    assert "Pareto fronts" in out and "0.0040: ≥+80%" in out


def test_plot_marks_the_source_clips_own_score():
    from actdiff.evaluation.plotting import draw

    a = fake_results("actdiff-diffusion", {"s1": (RATES, NIQE), "s2": (RATES, NIQE)}, "niqe")
    b = fake_results("x265", {"s1": (RATES * 2, NIQE), "s2": (RATES * 2, NIQE)}, "niqe")
    b["source"] = {"s1": {"niqe": 6.0}, "s2": {"niqe": 3.0}}
    fig = draw([a, b], "niqe")
    marks = {ax.get_title(): [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_label() == "source clip"]
             for ax in fig.axes if ax.get_title()}
    assert marks == {"s1": [6.0], "s2": [3.0], "mean": [pytest.approx(4.5)]}
    fig = draw([a], "niqe")  # no source recorded: no line
    assert not any(ln.get_label() == "source clip" for ax in fig.axes for ln in ax.get_lines())


# JVET-style pair of curves (kbps, PSNR dB): the test codec is slightly better at every point
JVET_ANCHOR = ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851])
JVET_TEST = ([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987])


@pytest.mark.parametrize("metric", ["psnr", "niqe"])
def test_bd_rate_sign_matches_the_bjontegaard_package(metric):
    """``compare(A, B)`` reports A (tested) against the anchor B exactly as ``bjontegaard.bd_rate``
    does with B as anchor: negative when A needs fewer bits (JVET/CompressAI/DCVC convention)."""
    import bjontegaard as bd

    sign = -1.0 if metric == "niqe" else 1.0  # a lower-is-better metric: same curves, quality negated
    (ra, qa), (rt, qt) = JVET_ANCHOR, JVET_TEST
    expected = bd.bd_rate(ra, qa, rt, qt, method="pchip")
    assert expected < 0  # the package: the test codec saves bits
    a = fake_results("actdiff-warp", {"s1": (rt, [sign * q for q in qt])}, metric)
    b = fake_results("x265", {"s1": (ra, [sign * q for q in qa])}, metric)
    rep = compare(a, b, metric)
    assert rep["sequences"]["s1"]["bd_rate"] == pytest.approx(expected, rel=1e-9)
    assert compare(b, a, metric)["sequences"]["s1"]["bd_rate"] > 0  # the other way round: more bits


def test_synthesized_detail_note_only_for_generative_decoders():
    curves = {"s1": (RATES, NIQE)}
    src = {"s1": {"niqe": 6.0}}
    for codec, generative in (("actdiff-diffusion", True), ("actdiff-warp", False), ("x265", False)):
        a = fake_results(codec, curves, "niqe")
        b = fake_results("x264", {"s1": (RATES * 2, NIQE)}, "niqe")
        a["source"] = src
        notes = compare(a, b, "niqe")["sequences"]["s1"]["warnings"]
        mine = [n for n in notes if n.startswith(f"{codec}/")]
        theirs = [n for n in notes if n.startswith("x264/")]
        assert len(mine) == 1 and len(theirs) == 1
        assert ("synthesized detail" in mine[0]) is generative
        assert "synthesized detail" not in theirs[0] and "not fidelity" in theirs[0]
