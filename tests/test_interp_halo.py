"""experiments/interp_halo.py: the synthetic walker's measures move the way the interpolation implies."""

from __future__ import annotations

from _eval_helpers import load_script


def load():
    return load_script("experiments/interp_halo.py")


def test_more_points_follow_more_and_a_static_ring_confines_the_halo(tmp_path):
    halo = load()
    one, four = halo.measure(28, 1, 3.9), halo.measure(28, 4, 3.9)
    assert one["follow"] < four["follow"] == 1.0       # one point cannot carry a 16x40 object
    assert four["spill"] > 1.0                          # ... four drag more than its area along
    assert halo.measure(28, 4, 3.9, ring=8)["spill"] < 0.5 * four["spill"]
    assert halo.measure(28, 4, 8.0)["spill"] > four["spill"]  # a wider bandwidth drags more
    out = tmp_path / "halo.json"
    assert halo.main(["--spacing", "28", "--points", "2", "--bandwidths", "3.9", "--ring", "8", "-o", str(out)]) == 0
    assert out.exists() and '"rows"' in out.read_text()


def test_edge_rows_measure_the_edge_aware_field(tmp_path):
    """``--edge``: the same walker through the decoder's edge-aware field drags less background
    along at 8 px than the Gaussian field, and less still without the Gaussian fallback."""
    import json
    from dataclasses import replace

    halo = load()
    chosen = halo.FusionParams(edge_sigma_r=halo.EDGE_SIGMA_R).edge()
    gauss = halo.measure(28, 4, 8.0)["spill"]
    edge = halo.measure(28, 4, 8.0, edge=chosen)["spill"]
    bare = halo.measure(28, 4, 8.0, edge=replace(chosen, fallback=0.0))["spill"]
    assert bare < edge < gauss
    out = tmp_path / "halo.json"
    assert halo.main(["--spacing", "28", "--points", "4", "--bandwidths", "8", "--ring", "8", "--edge",
                      "-o", str(out)]) == 0
    fields = [r["field"] for r in json.loads(out.read_text())["rows"]]
    assert fields.count("gaussian") == 2 and "edge (fallback 0.1)" in fields and "edge (fallback 0)" in fields
