"""Edge-aware interpolation on a keyframe's grid (``actdiff/motion/edge_field.py``): a small moving
object's points move the object and not the background beside it, and the inverse map flags the
pixels no keyframe pixel lands on."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
from test_no_crossfade import LENGTH, moving_square

from actdiff.motion.edge_field import DomainTransform, edge_aware_field, guided_field, impulse_peak, invert_displacement
from actdiff.motion.fusion import EDGE_SIGMA_R, FusionParams
from actdiff.motion.interpolate import interpolate_sparse
from actdiff.motion.prediction import predict_frame
from actdiff.motion.warp import pixel_grid

H, W, MOVE = 128, 192, 12.0
BOX = (88, 44, 16, 40)  # a "walker": x0, y0, width, height


def walker_scene(k: int = 4):
    """Static grid points (16 px) around a dark 16×40 walker carrying ``k`` points that move
    ``MOVE`` px right; the keyframe shows the walker on a smooth textured background."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), 3)
    guide = (bg - bg.min()) / (bg.max() - bg.min()) * 80 + 90
    x0, y0, w, h = BOX
    guide[y0:y0 + h, x0:x0 + w] = (40, 40, 60)
    gx, gy = np.meshgrid(np.arange(8, W, 16.0), np.arange(8, H, 16.0))
    bgp = np.stack([gx.ravel(), gy.ravel()], 1)
    near = (np.abs(bgp[:, 0] - (x0 + w / 2)) < w / 2 + 8) & (np.abs(bgp[:, 1] - (y0 + h / 2)) < h / 2 + 8)
    obj = np.stack([np.full(k, x0 + w / 2), np.linspace(y0 + 5, y0 + h - 5, k)], 1)
    pts = np.concatenate([bgp[~near], obj])
    vals = np.zeros_like(pts)
    vals[-k:, 0] = MOVE
    inside = np.zeros((H, W), bool)
    inside[y0:y0 + h, x0:x0 + w] = True
    return guide, pts, vals, inside


def follow_and_spill(field: np.ndarray, inside: np.ndarray) -> tuple[float, float]:
    """Share of the walker moved by > 75 % of its motion; background moved by > half, in walker areas."""
    mx = field[..., 0]
    return float((mx[inside] > 0.75 * MOVE).mean()), float(((mx > 0.5 * MOVE) & ~inside).sum() / inside.sum())


def test_walker_moves_alone():
    """With the settings chosen on training clips (``EDGE_SIGMA_R``, ``FusionParams``' defaults)
    the walker's points move the walker and at most 0.6× the Gaussian field's halo of background
    at 8 px (the codec's usual bandwidth); without the Gaussian fallback at most 0.45× at 4 and 8 px;
    at 16 px, where the Gaussian field loses the walker to the background points around it, the
    walker still follows its points."""
    guide, pts, vals, inside = walker_scene()
    fp = FusionParams(edge_sigma_r=EDGE_SIGMA_R)
    for bandwidth in (4.0, 8.0, 16.0):
        g_follow, g_spill = follow_and_spill(interpolate_sparse(pts, vals, H, W, bandwidth)[0], inside)
        bare = guided_field(guide, pts, vals, bandwidth, replace(fp.edge(), fallback=0.0))
        b_follow, b_spill = follow_and_spill(bare, inside)
        follow, spill = follow_and_spill(guided_field(guide, pts, vals, bandwidth, fp.edge()), inside)
        assert min(b_follow, follow) >= 0.95, (bandwidth, b_follow, follow)
        if bandwidth < 16.0:
            assert g_spill > 0.9 and b_spill < 0.45 * g_spill, (bandwidth, b_spill, g_spill)
        if bandwidth == 8.0:
            assert spill < 0.6 * g_spill, (spill, g_spill)
        if bandwidth == 16.0:
            assert g_follow < 0.1 and max(b_spill, spill) < 0.15, (g_follow, b_spill, spill)


def test_edge_scale_lets_one_point_fill_its_object():
    """``edge_scale``: a walker carrying ONE point, at the small bandwidth (4 px) the selector fits
    when points pile up on moving objects. With the filter's sigma at 4 bandwidths the point moves
    more of the walker and spills far less onto the background (the edges hold the wider reach;
    the Gaussian fallback keeps the bandwidth) than at 1."""
    guide, pts, vals, inside = walker_scene(k=1)
    edge = FusionParams().edge()
    follow1, spill1 = follow_and_spill(guided_field(guide, pts, vals, 4.0, edge), inside)
    follow4, spill4 = follow_and_spill(guided_field(guide, pts, vals, 4.0, FusionParams(edge_scale=4).edge()), inside)
    assert follow4 > follow1 + 0.1 and spill4 < 0.2 * spill1, (follow1, follow4, spill1, spill4)
    with pytest.raises(ValueError, match="edge_scale > 0"):
        FusionParams(edge_scale=0)


def test_edge_blind_limits():
    """One point: the field is its value everywhere (the trend). A flat guide's impulse response
    peaks at :func:`impulse_peak`."""
    guide = np.full((40, 60, 3), 128.0, np.float32)
    field, dens = edge_aware_field(guide, np.array([[30.0, 20.0]]), np.array([[3.0, -2.0]]), 5.0, 30.0)
    np.testing.assert_allclose(field, np.broadcast_to([3.0, -2.0], field.shape), atol=1e-5)
    assert dens[20, 30] == pytest.approx(1.0, rel=1e-3)
    img = np.zeros((41, 61, 1))
    img[20, 30] = 1.0
    assert DomainTransform(np.full((41, 61, 3), 128.0), 5.0, 30.0)(img)[20, 30, 0] == pytest.approx(
        impulse_peak(5.0), rel=1e-3)


def test_inverse_of_a_moving_block():
    """A constant shift inverts exactly, and the pixels it brings in from outside the keyframe have
    their distance from it as residual (without ``outside`` the clamped border would explain them
    exactly); with a block moving over a still background the pixels the block leaves (seen by no
    keyframe pixel at ``t``) have a large residual, the rest a small one."""
    disp = np.zeros((32, 48, 2), np.float32)
    disp[..., 0] = 3.0
    back, res = invert_displacement(disp, pixel_grid(32, 48))
    np.testing.assert_allclose(back[:, 1:, 0], pixel_grid(32, 48)[:, 1:, 0] - 3.0, atol=1e-4)  # x=0: a tie
    assert res[:, 3:].max() < 1e-4
    np.testing.assert_allclose(res[:, :3], np.broadcast_to([3.0, 2.0, 1.0], (32, 3)), atol=1e-4)
    assert invert_displacement(disp, pixel_grid(32, 48), outside=False)[1].max() < 1e-4
    disp[...] = 0.0
    disp[10:20, 10:20, 0] = 6.0  # block at x 10..19 moves to x 16..25
    back, res = invert_displacement(disp, pixel_grid(32, 48))
    left = res[12:18, 10:15]   # uncovered: the block has left, the background behind it is not in the keyframe
    assert left.min() > 2.0
    assert res[12:18, 18:24].max() < 0.5   # the block at its new place
    assert res[:, 30:].max() < 1e-4        # still background


def test_fusion_with_edges_predicts_the_square_better():
    """On the synthetic segment of ``test_no_crossfade.py`` (exact tracks, a red square crossing a
    textured background) the edge-aware maps cut the mean error of the in-between frames."""
    seg, frames, _ = moving_square()

    def error(params: FusionParams) -> float:
        return float(np.mean([np.abs(predict_frame(seg, t, params=params) - frames[t].astype(np.float32)).mean()
                              for t in range(1, LENGTH - 1)]))

    plain = error(FusionParams(edge_sigma_r=0))
    edge = error(FusionParams())
    assert edge < 0.85 * plain, (edge, plain)


def test_bad_edge_settings_are_refused_before_decoding():
    from actdiff.config import ConfigError
    from actdiff.decoders.warp import WarpDecoder

    with pytest.raises(ValueError, match="edge_step >= 1"):
        FusionParams(edge_sigma_r=EDGE_SIGMA_R, edge_step=0)
    with pytest.raises(ConfigError, match="bad prediction_params"):
        WarpDecoder(prediction_params={"edge_sigma_r": 120, "edge_iterations": -1})
    assert FusionParams(edge_sigma_r=0).edge() is None and FusionParams().edge().sigma_r == EDGE_SIGMA_R


@pytest.mark.parametrize("height,width,length,points", [(37, 53, 5, 6), (16, 16, 3, 1), (41, 67, 6, 0)])
def test_any_size_any_tracks_and_deterministic(height, width, length, points):
    """Odd sizes (the 2×-reduced filter grid is cropped back), a frame where no trajectory is visible,
    one or no trajectory at all: finite frames of the keyframes' size, the same when predicted again."""
    from actdiff.types import DecodedSegment, Segment, Tracks

    rng = np.random.default_rng(1)
    keys = [(rng.random((height, width, 3)) * 255).astype(np.uint8) for _ in range(2)]
    pos = (rng.random((length, points, 2)) * [width, height]).astype(np.float32)
    vis = np.ones((length, points), bool)
    vis[1] = points < 2  # frame 1: nothing visible when there are several trajectories
    seg = DecodedSegment(Segment(0, length - 1), keys[0], keys[1], Tracks(pos, vis, vis.astype(np.float32)),
                         bandwidth=5.0)
    params = FusionParams(edge_sigma_r=EDGE_SIGMA_R)
    first = [predict_frame(seg, t, params=params) for t in range(length)]
    for t, frame in enumerate(first):
        assert frame.shape == (height, width, 3) and np.isfinite(frame).all()
        np.testing.assert_array_equal(frame, predict_frame(seg, t, params=params))


def test_median_removes_an_isolated_pixel_sampled_from_the_other_side():
    """A one-pixel object moving 4 px right: pixel ``p`` it lands on has two solutions, the object
    (``q0``) and the still background (``p``). Started at the object there and at the identity
    everywhere else, the inversion keeps that isolated pixel; the 5 px median gives it its
    neighbours' (background) position."""
    disp = np.zeros((15, 15, 2), np.float32)
    disp[7, 5, 0] = 4.0  # keyframe pixel (x=5, y=7) moves to (9, 7)
    init = pixel_grid(15, 15).copy()   # the shared grid is read-only
    init[7, 9] = (5.0, 7.0)
    kept, _ = invert_displacement(disp, init, iterations=3)
    np.testing.assert_allclose(kept[7, 9], (5.0, 7.0))
    cleaned, _ = invert_displacement(disp, init, iterations=3, median=5)
    np.testing.assert_allclose(cleaned[7, 9], (9.0, 7.0))


def test_edge_check_reads_the_tracks_maps_forward_backward_error():
    """``edge_check``: ``residual`` is the inversion's, ``tracks`` the Gaussian maps' forward–backward
    error (the same as with the edge-aware field off), ``both`` their per-pixel maximum; the samples
    (the warped keyframe) are the edge-aware field's in all three. Unknown names are refused."""
    from actdiff.motion.fusion import warp_keyframe

    seg, _, _ = moving_square()
    t, bw = LENGTH // 2, seg.bandwidth
    res, trk, both = (warp_keyframe(seg, t, 0, bw, FusionParams(edge_check=c)) for c in ("residual", "tracks", "both"))
    gauss = warp_keyframe(seg, t, 0, bw, FusionParams(edge_sigma_r=0))
    np.testing.assert_array_equal(trk.fb_error, gauss.fb_error)
    np.testing.assert_array_equal(both.fb_error, np.maximum(res.fb_error, gauss.fb_error))
    assert not np.array_equal(res.fb_error, gauss.fb_error)
    np.testing.assert_array_equal(trk.image, res.image)
    with pytest.raises(ValueError, match="edge_check"):
        FusionParams(edge_check="max")


def _random_segment(length: int, points: int, seed: int):
    """A 32x48 segment of ``length`` frames between two smooth random keyframes, with ``points``
    tracks drifting at random (all visible), bandwidth 6 px."""
    from actdiff.types import DecodedSegment, Segment, Tracks

    rng = np.random.default_rng(seed)
    keys = [cv2.GaussianBlur((rng.random((32, 48, 3)) * 255).astype(np.float32), (0, 0), 1.5).astype(np.uint8)
            for _ in range(2)]
    pos = (rng.random((1, points, 2)) * [48, 32]
           + np.arange(length)[:, None, None] * rng.normal(0, 0.3, (1, points, 2)))
    vis = np.ones((length, points), bool)
    return DecodedSegment(Segment(0, length - 1), keys[0], keys[1],
                          Tracks(pos.astype(np.float32), vis, vis.astype(np.float32)), bandwidth=6.0)


def _frame_by_frame(seg, params) -> dict:
    """Every in-between frame's field (keyframe 0), each asked for in order, with an empty cache before and after."""
    from actdiff.motion import edge_field as ef

    ef._CACHE.clear()
    every = {t: ef.segment_displacement(seg, t, 0, seg.bandwidth, params) for t in range(1, seg.segment.length)}
    ef._CACHE.clear()
    return every


def test_chunks_follow_the_callers_stride_and_never_change_a_field():
    """A caller scoring every 4th frame gets chunks of every 4th frame (one filter pass serves 8 of its
    requests, not 2); the fields are bitwise those of a frame-by-frame pass, from any thread."""
    from concurrent.futures import ThreadPoolExecutor

    from actdiff.motion import edge_field as ef

    assert ef.chunk_frames(3, 0, 40, None) == list(range(3, 11))
    assert ef.chunk_frames(7, 0, 40, 3) == [7, 11, 15, 19, 23, 27, 31, 35]
    assert ef.chunk_frames(7, 11, 12, 3) == [7]                     # the keyframe itself is never a chunk frame
    assert ef.chunk_frames(30, 0, 40, 3) == list(range(30, 38))      # a gap above CHUNK: a jump, not a stride
    length = 40
    seg = _random_segment(length, 12, seed=2)
    params = FusionParams().edge()
    every = _frame_by_frame(seg, params)
    strided = {}
    for t in range(1, length, 4):
        strided[t] = ef.segment_displacement(seg, t, 0, seg.bandwidth, params)
        if t == 9:  # the second pass: the stride learnt from 5 → 9
            # the strided chunk, and the first chunk's frames after the last one asked for (5)
            assert sorted(ef._CACHE[(id(seg), 0)][2]) == [6, 7, 8] + list(range(9, length, 4))
    for t, field in strided.items():
        np.testing.assert_array_equal(field, every[t])
    ef._CACHE.clear()
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda t: ef.segment_displacement(seg, t, length - 1, seg.bandwidth, params),
                                 range(0, length - 1, 3)))
    ef._CACHE.clear()
    for t, field in zip(range(0, length - 1, 3), threaded):
        np.testing.assert_array_equal(field, ef.segment_displacement(seg, t, length - 1, seg.bandwidth, params))


def test_planned_frames_share_a_pass_and_survive_a_request_outside_the_plan():
    """A caller that plans frames 3, 9, 14, … (the decoded choice's evenly spaced frames, whose gaps are
    not constant) gets them from one filter pass; a request outside the plan in between (the keyflow's
    keyframe-to-keyframe field) does not drop them; every field is bitwise the frame-by-frame one."""
    from actdiff.motion import edge_field as ef

    plan = (3, 9, 14, 20, 25, 31, 36, 42)
    assert ef.chunk_frames(3, 0, 46, None, plan) == list(plan)
    assert ef.chunk_frames(0, 45, 46, None, plan) == [0, 3, 9, 14, 20, 25, 31, 36]  # t first, then the plan
    assert ef.chunk_frames(45, 0, 46, 3, plan) == [45]
    length = 46
    seg = _random_segment(length, 10, seed=3)
    params = FusionParams().edge()
    every = _frame_by_frame(seg, params)
    calls = []
    real = ef.guided_fields
    ef.guided_fields = lambda guide, sets, *a: calls.append(len(sets)) or real(guide, sets, *a)
    try:
        with ef.planned_frames(seg, reversed(plan)):
            got = {plan[0]: ef.segment_displacement(seg, plan[0], 0, seg.bandwidth, params)}
            outside = ef.segment_displacement(seg, length - 1, 0, seg.bandwidth, params)
            got.update({t: ef.segment_displacement(seg, t, 0, seg.bandwidth, params) for t in plan[1:]})
        assert ef._PLANS == {}                                    # the plan ends with the block
    finally:
        ef.guided_fields = real
        ef._CACHE.clear()
    assert calls == [len(plan), 1]                                # one pass for the plan, one for the outside frame
    np.testing.assert_array_equal(outside, every[length - 1])
    for t, field in got.items():
        np.testing.assert_array_equal(field, every[t])
