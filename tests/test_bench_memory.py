"""``benchmarks/bench_memory.py``: its evaluate row is the run's own result, with the child's memory."""

from __future__ import annotations

import json

from _eval_helpers import load_script


def test_evaluate_row_reports_the_runs_own_point_and_its_memory(tmp_path):
    bench = load_script("benchmarks/bench_memory.py")
    clip = tmp_path / "clip.y4m"
    bench.synthetic_clip(clip, 6, 72, 40)   # 40 rows: the encoder pads to 48
    out = tmp_path / "evaluate.json"
    row = bench.evaluate_run(str(clip), 6, "72x40", out)
    (point,) = json.loads(out.read_text())["sequences"]["clip"]
    assert (row["bpp"], row["psnr"]) == (point["bpp"], point["metrics"]["psnr"])
    assert (point["frames"], point["height"], point["width"]) == (6, 40, 72)
    assert row["command"] == "evaluate r1" and 0 < row["peak_anon_gb"] <= row["peak_gb"] and row["seconds"] > 0
