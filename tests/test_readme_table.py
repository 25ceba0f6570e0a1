"""``experiments/readme_table.py``: the README's table, with the diffusion decoder's warping error
and tOF each divided by the warp decoder's on the same bitstreams."""

from __future__ import annotations

from _eval_helpers import load_script

table = load_script("experiments/readme_table.py")


def _rows(**metrics: list[float]) -> list[dict]:
    n = len(next(iter(metrics.values())))
    return [{"metrics": {m: v[i] for m, v in metrics.items()}} for i in range(n)]


def test_ratio_range_divides_point_by_point_and_says_when_a_file_lacks_the_metric():
    diff = _rows(tof=[0.2, 0.3], warping_error=[3.0, 4.0])
    warp = _rows(tof=[0.1, 0.4], warping_error=[2.0, 2.0])
    assert table.ratio_range(diff, warp, "tof") == "0.75–2.00"
    assert table.ratio_range(diff, warp, "warping_error") == "1.50–2.00"
    assert table.ratio_range(diff, _rows(warping_error=[1.0, 1.0]), "tof") == "–"  # older results: no tOF


def test_the_committed_results_give_every_clip_a_tof_ratio(capsys):
    table.main([])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "tOF ÷ warp decoder" in lines[0]
    rows = [ln for ln in lines[2:] if ln.startswith("| ")]
    assert len(rows) == len(table.CLIPS)
    tof_column = lines[0].split(" | ").index("tOF ÷ warp decoder")
    assert all("–" != r.split(" | ")[tof_column].strip() for r in rows)  # a range, not "missing"
    assert "psnr_lowres below at" in out and "tof below at" in out
