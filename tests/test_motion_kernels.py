"""The warp predictor's inner kernels give the very numbers of their plain NumPy/OpenCV forms.

They were rewritten for speed (fewer temporaries, no reductions over an axis of two, one
two-channel remap map, the identity grid built once); decoded frames must not move by one bit,
so each is compared here with the straightforward formula it replaced, on awkward values too
(points far outside the image, NaN, signed zeros).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from actdiff.motion.edge_field import invert_displacement, outside_distance
from actdiff.motion.keyflow import progress
from actdiff.motion.warp import backward_warp, pixel_grid, vector_length


def _field(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    return (rng.standard_normal((h, w, 2)) * scale).astype(np.float32)


def test_pixel_grid_is_one_read_only_identity_map_per_size():
    grid = pixel_grid(5, 7)
    gy, gx = np.mgrid[0:5, 0:7].astype(np.float32)
    np.testing.assert_array_equal(grid, np.stack([gx, gy], -1))
    assert grid.dtype == np.float32 and grid is pixel_grid(5, 7)
    with pytest.raises(ValueError):
        grid[0, 0, 0] = 1.0   # shared by every caller: nobody may write into it


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vector_length_is_linalg_norm_to_the_bit(dtype):
    rng = np.random.default_rng(0)
    v = (rng.standard_normal((64, 80, 2)) * 10.0 ** rng.integers(-4, 5, (64, 80, 1))).astype(dtype)
    v[0, 0] = (-0.0, 0.0)
    v[0, 1] = (np.nan, 1.0)
    out = vector_length(v)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.linalg.norm(v, axis=-1))


def test_outside_distance_is_the_plain_formula():
    rng = np.random.default_rng(1)
    h, w = 40, 60
    q = pixel_grid(h, w) + _field(rng, h, w, 30.0)
    q[0, 0] = (-0.0, -0.0)
    q[1, 1] = (w - 1, h - 1)
    q[2, 2] = (1e30, -1e30)
    ox = np.maximum(0.0, np.maximum(-q[..., 0], q[..., 0] - (w - 1)))
    oy = np.maximum(0.0, np.maximum(-q[..., 1], q[..., 1] - (h - 1)))
    out = outside_distance(q)
    assert out.dtype == np.float32 and (out > 0).mean() > 0.2 and (out == 0).mean() > 0.2
    np.testing.assert_array_equal(out, np.hypot(ox, oy).astype(np.float32))
    assert not outside_distance(pixel_grid(h, w)).any()


def test_backward_warp_is_the_two_map_remap():
    rng = np.random.default_rng(2)
    h, w = 48, 64
    coords = pixel_grid(h, w) + _field(rng, h, w, 20.0)
    coords[3, 3] = (np.nan, 2.0)
    for image in (rng.integers(0, 256, (h, w, 3), dtype=np.uint8), _field(rng, h, w, 5.0),
                  rng.random((h, w)).astype(np.float32)):
        img = image[..., None] if image.ndim == 2 else image
        x, y = np.ascontiguousarray(coords[..., 0]), np.ascontiguousarray(coords[..., 1])
        plain = cv2.remap(img.astype(np.float32), x, y, interpolation=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).reshape(h, w, img.shape[2])
        np.testing.assert_array_equal(backward_warp(image, coords), plain)
    strided = np.asfortranarray(coords)   # any memory layout of the coordinates
    np.testing.assert_array_equal(backward_warp(image, strided), backward_warp(image, coords))


def _invert_plain(disp: np.ndarray, init: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """``invert_displacement`` as it was first written (no median)."""
    grid = pixel_grid(*disp.shape[:2])
    q = np.array(init, np.float32)
    best, best_r = q.copy(), np.full(disp.shape[:2], np.inf, np.float32)
    for k in range(iterations + 1):
        d = backward_warp(disp, q)
        e = q + d - grid
        r = np.hypot(e[..., 0], e[..., 1]) + outside_distance(q)
        better = r < best_r
        np.copyto(best, q, where=better[..., None])
        np.copyto(best_r, r, where=better)
        if k < iterations:
            q = grid - d
    return best, best_r


def test_invert_displacement_is_the_plain_iteration_for_any_layout():
    rng = np.random.default_rng(3)
    h, w = 50, 70
    disp = cv2.GaussianBlur(_field(rng, h, w, 40.0), (0, 0), 3)
    init = pixel_grid(h, w) - disp
    want = _invert_plain(disp, init, 6)
    for start in (init, np.asfortranarray(init), init.astype(np.float64)):
        back, resid = invert_displacement(disp, start, 6)
        np.testing.assert_array_equal(back, want[0])
        np.testing.assert_array_equal(resid, want[1])


def test_progress_is_the_plain_dot_product():
    rng = np.random.default_rng(4)
    h, w = 30, 40
    back = pixel_grid(h, w) + _field(rng, h, w, 3.0)
    motion = _field(rng, h, w, 6.0)
    motion[:5] = 0.0   # |m| << eps: the share is tau
    for tau, eps in ((0.0, 0.5), (0.4, 0.5), (1.0, 2.0)):
        total = backward_warp(motion, back)
        done = ((pixel_grid(h, w) - back) * total).sum(-1) + eps * eps * tau
        plain = np.clip(done / ((total * total).sum(-1) + eps * eps), 0.0, 1.0).astype(np.float32)
        np.testing.assert_array_equal(progress(back, motion, tau, eps), plain)
