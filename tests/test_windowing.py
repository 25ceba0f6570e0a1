"""Windows of long segments: plan, blend weights, frame-count rules."""

import numpy as np
import pytest

from actdiff.errors import ConfigError
from actdiff.models.generator import WindowSpec, plan_windows, window_weights


def _check_cover(windows, length):
    weights = window_weights(windows, length)
    total = np.zeros(length)
    for win, w in zip(windows, weights):
        np.add.at(total, np.asarray(win), w)
        assert np.all(w >= 0)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.mark.parametrize("length", [1, 2, 5, 16, 17, 30, 48, 97])
def test_plan_covers_and_weights_sum_to_one(length):
    spec = WindowSpec(max_frames=16)
    windows = plan_windows(length, spec, overlap=4)
    assert all(spec.is_valid(len(w)) for w in windows)
    assert set(t for w in windows for t in w) == set(range(length))
    for a, b in zip(windows, windows[1:]):
        assert len(set(a) & set(b)) >= 4
    _check_cover(windows, length)


def test_cogvideox_rule_pads_short_segments():
    spec = WindowSpec(max_frames=49, frame_multiple=4, frame_remainder=1, size_multiple=16)
    assert spec.longest() == 49 and spec.padded_length(10) == 13 and spec.padded_length(1) == 1
    (win,) = plan_windows(10, spec, overlap=8)
    assert len(win) == 13 and win[:10] == list(range(10)) and win[10:] == [9, 9, 9]
    (w,) = window_weights([win], 10)
    assert np.all(w[10:] == 0) and np.allclose(w[:10], 1)
    long = plan_windows(120, spec, overlap=8)
    assert all(len(x) == 49 for x in long)
    _check_cover(long, 120)


def test_crossfade_is_linear_in_the_overlap():
    windows = [list(range(0, 8)), list(range(4, 12))]
    w0, w1 = window_weights(windows, 12)
    np.testing.assert_allclose(w0[4:], [0.8, 0.6, 0.4, 0.2])
    np.testing.assert_allclose(w1[:4], [0.2, 0.4, 0.6, 0.8])


def test_bad_specs_and_overlaps():
    with pytest.raises(ConfigError):
        WindowSpec(max_frames=3, frame_multiple=4, frame_remainder=1, min_frames=2)
    with pytest.raises(ConfigError):
        WindowSpec(max_frames=8, frame_multiple=0)
    with pytest.raises(ConfigError, match="overlap"):
        plan_windows(40, WindowSpec(max_frames=8), overlap=8)
    with pytest.raises(ValueError):
        WindowSpec(max_frames=8).padded_length(9)
