"""experiments/interp_halo.py: the synthetic walker's measures move the way the interpolation implies."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "interp_halo.py"


def load():
    spec = importlib.util.spec_from_file_location("interp_halo", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
