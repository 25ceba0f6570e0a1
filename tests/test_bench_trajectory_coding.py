"""``benchmarks/bench_trajectory_coding.py`` on the bundled sample: every scheme measured on the
tracks the real (multi-threaded) encoder codes, and rounding toward the prediction saves bits."""

from __future__ import annotations

from pathlib import Path

from _eval_helpers import load_script

from actdiff.config import compose

SAMPLE = Path(__file__).resolve().parents[1] / "actdiff/assets/sample/bigbuckbunny_256x384.mp4"


def test_schemes_on_the_sample_with_the_encoders_threads():
    bench = load_script("benchmarks/bench_trajectory_coding.py")
    cfg = compose(None, ["codec.threads=2"])  # segments' tracks are computed ahead, out of order
    segs = bench.bench_clip(str(SAMPLE), cfg, snap=0.9)
    assert segs, "the sample has segments with trajectories"
    out = bench.summarise(segs)["schemes"]
    assert set(out) == set(bench.SCHEMES)
    plain, snap = out["actdiff"], out["actdiff_snap"]
    assert snap["bits"] < 0.95 * plain["bits"], (snap["bits"], plain["bits"])
    # a coded position moves at most 0.4 steps (0.2 px at the default ½ px step) further
    assert snap["error_px"]["mean"] < plain["error_px"]["mean"] + 0.2
    assert plain["bits"] < out["reference"]["bits"]
    nogrid = out["actdiff_nogrid"]  # the default coder names grids: same positions, fewer frame-0 bits
    assert nogrid["error_px"] == plain["error_px"]
    assert plain["parts_bits"]["first_frame"] < 0.8 * nogrid["parts_bits"]["first_frame"]
