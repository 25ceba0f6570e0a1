"""The warping error split by the source's motion, and experiments/steady_texture.py's measures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _eval_helpers import load_script

from actdiff.metrics.temporal import reference_motion, warping_error, warping_error_by_motion


def square_scene(t: int = 6, h: int = 72, w: int = 96, step: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A static smooth texture with a textured 24 px square moving ``step`` px/frame to the right:
    ``(frames uint8 (T, H, W, 3), square bool (T, H, W))``."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    bg = np.stack([gaussian_filter(rng.standard_normal((h, w)), 2.0) for _ in range(3)], -1)
    fg = np.stack([gaussian_filter(rng.standard_normal((24, 24)), 1.5) for _ in range(3)], -1)
    frames, square = [], np.zeros((t, h, w), bool)
    for i in range(t):
        f = 110 + 60 * bg / np.abs(bg).max()
        x = 10 + step * i
        f[24:48, x:x + 24] = 150 + 60 * fg / np.abs(fg).max()
        square[i, 24:48, x:x + 24] = True
        frames.append(f)
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8), square


def flicker(frames: np.ndarray, where: np.ndarray, amount: int = 25) -> np.ndarray:
    """``frames`` brightened by ``amount`` at ``where`` on every odd frame."""
    out = frames.astype(np.int16)
    out[1::2][where[1::2]] += amount
    return np.clip(out, 0, 255).astype(np.uint8)


def test_the_split_weighs_back_to_the_warping_error_and_finds_where_it_flickers():
    ref, square = square_scene()
    steady = warping_error_by_motion(ref, ref)
    assert 0.4 < steady["static_share"] < 1.0
    assert steady["static"] < 0.002 and steady["moving"] < 0.02  # DIS blurs the square's edges a little
    background = flicker(ref, ~square)
    object_only = flicker(ref, square)
    for rec in (background, object_only):
        s = warping_error_by_motion(ref, rec)
        mean = s["static_share"] * s["static"] + (1 - s["static_share"]) * s["moving"]
        assert mean == pytest.approx(warping_error(ref, rec), rel=1e-6)
    bg, obj = warping_error_by_motion(ref, background), warping_error_by_motion(ref, object_only)
    assert bg["static"] > 0.08 and bg["static"] > 1.5 * bg["moving"]  # the flicker is on the static background
    assert obj["moving"] > 0.04 and obj["static"] == pytest.approx(steady["static"])  # it moves with the square


def test_the_split_of_too_short_a_clip_is_nan():
    ref, _ = square_scene(t=2)
    with pytest.warns(UserWarning, match="two frames"):
        out = warping_error_by_motion(ref[:1], ref[:1])
    assert all(math.isnan(v) for v in out.values())


def test_reference_motion_follows_the_moving_square():
    ref, square = square_scene()
    pairs = list(reference_motion(ref))
    assert len(pairs) == len(ref) - 1
    back, mask = pairs[2]
    inner = square[3] & np.roll(square[3], -4, axis=1) & np.roll(square[3], 4, axis=1)
    assert np.median(back[..., 0][inner & mask]) == pytest.approx(-3.0, abs=0.5)  # t → t-1: 3 px left
    assert np.median(np.abs(back[~square[3] & mask])) < 0.2


def test_steady_grain_is_one_image_and_steady_residual_does_not_change():
    mod = load_script("experiments/steady_texture.py")
    ref, _ = square_scene()
    grained = mod.steady_grain(ref, 3.0)
    diff = grained.astype(np.int16) - ref
    assert 2.0 < diff.std() < 4.0
    unclipped = (ref > 20) & (ref < 235)
    assert (diff[1:] == diff[:1])[unclipped[1:] & unclipped[:1]].all()  # the same grain at every frame
    rng = np.random.default_rng(1)
    base = ref.copy()
    texture = rng.integers(-6, 7, ref.shape[1:])
    steady = np.clip(base + texture, 0, 255).astype(np.uint8)
    redrawn = np.clip(base + rng.integers(-6, 7, ref.shape), 0, 255).astype(np.uint8)
    held = mod.residual_steadiness(ref, steady, base, still=0.5)
    fresh = mod.residual_steadiness(ref, redrawn, base, still=0.5)
    assert held["amplitude"] == pytest.approx(fresh["amplitude"], rel=0.1)
    assert held["change"] < 0.05 * held["amplitude"]
    assert fresh["change"] > 0.8 * fresh["amplitude"]
