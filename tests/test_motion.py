"""Motion geometry: warping, splatting, sparse interpolation, bandwidth codes."""

import numpy as np

from actdiff.motion import (
    backward_warp,
    bandwidth_code,
    bandwidth_from_code,
    dense_flow_from_tracks,
    fit_bandwidth,
    forward_splat,
    interpolate_sparse,
    quantize_bandwidth,
)
from actdiff.motion.interpolate import SparseField, coverage_weights, interpolation_trend
from actdiff.types import Tracks

H, W = 64, 96


def texture(seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (H, W, 3)).astype(np.float32), (0, 0), 2)
    return ((img - img.min()) / np.ptp(img) * 255).astype(np.float32)


def grid():
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    return gx, gy


def test_backward_warp_integer_shift():
    img = texture()
    gx, gy = grid()
    out = backward_warp(img, np.stack([gx + 3, gy - 2], -1))
    np.testing.assert_allclose(out[2:, :-3], img[:-2, 3:], atol=1e-3)
    assert out.dtype == np.float32 and out.shape == img.shape


def test_forward_splat_shift_and_coverage():
    img = texture()
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = 2.5
    warped, cov = forward_splat(img, flow, np.ones((H, W), np.float32))
    ref = backward_warp(img, np.stack([grid()[0] - 2.5, grid()[1]], -1))
    assert np.abs(warped[:, 4:-2] - ref[:, 4:-2]).mean() < 3.0
    assert np.all(cov[:, :2] < 0.6) and np.allclose(cov[:, 4:-2], 1.0, atol=1e-5)
    # zero weight splats nothing
    _, cov0 = forward_splat(img, flow, np.zeros((H, W), np.float32))
    assert cov0.max() == 0


def test_interpolate_constant_and_affine():
    rng = np.random.default_rng(1)
    pts = rng.uniform([0, 0], [W - 1, H - 1], (40, 2))
    dense, density = interpolate_sparse(pts, np.tile([[1.5, -2.0]], (40, 1)), H, W, 8.0)
    np.testing.assert_allclose(dense, np.broadcast_to([1.5, -2.0], dense.shape), atol=1e-4)
    assert density.max() > 1.0
    aff = lambda x, y: np.stack([0.05 * x - 0.02 * y + 1, 0.03 * y + 0.01 * x], -1)  # noqa: E731
    dense, _ = interpolate_sparse(pts, aff(pts[:, 0], pts[:, 1]), H, W, 12.0)
    gx, gy = grid()
    assert np.abs(dense - aff(gx, gy)).max() < 0.05


def test_interpolate_empty_and_few_points():
    dense, density = interpolate_sparse(np.zeros((0, 2)), np.zeros((0, 2)), H, W, 8.0)
    assert dense.shape == (H, W, 2) and not dense.any() and not density.any()
    dense, _ = interpolate_sparse(np.array([[10.0, 10.0]]), np.array([[3.0, 1.0]]), H, W, 4.0)
    np.testing.assert_allclose(dense, np.broadcast_to([3.0, 1.0], dense.shape), atol=1e-4)  # global motion


def test_sparse_field_is_interpolate_sparse_at_every_bandwidth():
    """One prepared point set evaluated at several bandwidths, in any order, gives each time what a
    fresh interpolation gives (nothing of one evaluation leaks into the next), with or without
    the density; non-finite and zero-weight points are dropped as interpolate_sparse drops them."""
    rng = np.random.default_rng(3)
    pts = rng.uniform([0, 0], [W - 1, H - 1], (30, 2))
    vals = rng.normal(0, 2, (30, 4))
    pts[4] = np.nan
    weights = rng.uniform(0.2, 1.0, 30)
    weights[7] = 0.0
    field = SparseField(pts, vals, H, W, weights)
    for b in (2.0, 24.0, 0.1, 2.0, 9.5):
        dense, density = field.at(b)
        ref_dense, ref_density = interpolate_sparse(pts, vals, H, W, b, weights)
        np.testing.assert_array_equal(dense, ref_dense)
        np.testing.assert_array_equal(density, ref_density)
        only, none = field.at(b, density=False)
        assert none is None
        np.testing.assert_array_equal(only, ref_dense)
    assert not np.array_equal(field.at(2.0)[0], field.at(24.0)[0])  # the bandwidth does matter
    empty, dens = SparseField(np.zeros((0, 2)), np.zeros((0, 3)), H, W).at(5.0)
    assert empty.shape == (H, W, 3) and not empty.any() and not dens.any()


def test_bandwidth_code_roundtrip():
    for code in (0, 1, 77, 128, 255):
        assert bandwidth_code(bandwidth_from_code(code)) == code
    for b in (1.0, 3.3, 16.0, 50.0):
        q = quantize_bandwidth(b)
        assert abs(np.log2(q / b)) <= 1 / 64 + 1e-9 and quantize_bandwidth(q) == q
    assert bandwidth_from_code(bandwidth_code(1e9)) == bandwidth_from_code(255)


def test_fit_bandwidth_prefers_smooth_for_smooth_field():
    gx, gy = grid()
    target = np.stack([np.sin(gx / 30.0) * 3, np.cos(gy / 25.0) * 2], -1).astype(np.float32)
    pts = np.stack(np.meshgrid(np.arange(4, W, 12), np.arange(4, H, 12)), -1).reshape(-1, 2).astype(np.float32)
    vals = target[pts[:, 1].astype(int), pts[:, 0].astype(int)]
    cands = [1.0, 2.0, 6.0, 12.0, 48.0]
    b = fit_bandwidth(pts, vals, target, None, cands, grid_step=1)
    assert b in [quantize_bandwidth(c) for c in cands] and 4 <= b <= 16


def test_dense_flow_from_tracks_translation():
    pts0 = np.stack(np.meshgrid(np.arange(8, W, 16), np.arange(8, H, 16)), -1).reshape(-1, 2).astype(np.float32)
    pos = np.stack([pts0 + [2.0 * t, 1.0 * t] for t in range(3)]).astype(np.float32)
    tracks = Tracks(pos, np.ones(pos.shape[:2], bool), np.ones(pos.shape[:2], np.float32))
    coords, conf = dense_flow_from_tracks(tracks, 2, 0, H, W, 12.0)
    gx, gy = grid()
    np.testing.assert_allclose(coords[..., 0] - gx, -4.0, atol=1e-3)
    np.testing.assert_allclose(coords[..., 1] - gy, -2.0, atol=1e-3)
    assert conf[20:40, 20:60].min() > 0.9
    ident, c1 = dense_flow_from_tracks(tracks, 1, 1, H, W, 12.0)
    assert np.allclose(ident[..., 0], gx) and c1.min() == 1.0
    _, c0 = dense_flow_from_tracks(Tracks.empty(3), 2, 0, H, W, 12.0)
    assert c0.max() == 0


def test_coverage_weights_are_voronoi_areas():
    pts = np.array([[10.0, 10.0], [12.0, 11.0], [14.0, 9.0], [70.0, 40.0]])
    w = coverage_weights(pts, H, W)
    assert w.shape == (4,) and np.isclose(w.sum(), 4) and (w > 0).all()
    assert w[3] > 0.5 * 4 and w[:3].max() < w[3] / 2  # the lone point owns most of the frame


def test_trend_ignores_a_cluster_on_a_moving_object():
    """Points piled on a small moving object neither outweigh nor skew the background pan."""
    rng = np.random.default_rng(2)
    bg = np.stack(np.meshgrid(np.arange(8, W, 24), np.arange(8, H, 24)), -1).reshape(-1, 2).astype(np.float64)
    obj = rng.uniform([20, 20], [32, 32], (40, 2))
    pts = np.concatenate([bg, obj])
    vals = np.where((pts[:, :1] >= 20) & (pts[:, :1] <= 32) & (pts[:, 1:] >= 20) & (pts[:, 1:] <= 32),
                    [[-6.0, 4.0]], [[1.5, 0.5]])
    coef = interpolation_trend(pts, vals, H, W)
    np.testing.assert_allclose(coef[0], [1.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(coef[1:], 0, atol=1e-6)
    dense, _ = interpolate_sparse(pts, vals, H, W, 3.0)
    assert np.abs(dense[45:, 60:] - [1.5, 0.5]).max() < 1e-4    # background far from the object: exact
    assert np.abs(dense[25:28, 25:28] - [-6.0, 4.0]).max() < 0.1  # the object keeps its own motion
