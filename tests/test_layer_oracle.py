"""experiments/layer_oracle.py: the source mask marks what moves against the camera, and the
layered field lets each keyframe pixel follow its own layer's trajectories."""

from __future__ import annotations

import numpy as np
from _eval_helpers import load_script

from actdiff.motion.edge_field import EdgeParams, segment_displacement
from actdiff.types import DecodedSegment, Segment, Tracks

H, W = 64, 96


def load():
    return load_script("experiments/layer_oracle.py")


def test_affine_residual_is_zero_on_a_camera_motion_and_marks_an_object():
    lo = load()
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    flow = np.stack([0.02 * gx + 1.0, -0.01 * gy + 0.5], -1)  # a zoom-and-pan of the camera
    conf = np.ones((H, W), np.float32)
    assert lo.affine_residual(flow, conf).max() < 1e-2   # the trend's small ridge on the slopes
    flow[16:32, 24:48] += (5.0, 0.0)  # an object moving 5 px against it
    dev = lo.affine_residual(flow, conf)
    assert dev[20:28, 30:42].min() > 4.0 and np.median(dev) < 0.1


def test_motion_mask_marks_the_blocks_of_a_moving_square():
    lo = load()
    rng = np.random.default_rng(0)
    src = np.repeat(rng.integers(0, 255, (1, H, W, 3), np.uint8), 3, 0)  # textured everywhere
    fw = np.zeros((2, H, W, 2), np.float32)
    fw[:, 16:32, 24:48, 0] = 2.0  # the square moves 2 px/frame to the right, 4 px in all
    bw = -fw
    mask = lo.motion_mask(src, fw, bw, 0, 2, threshold=2.0, block=8, fill=0.25)
    assert mask[16:32, 24:48].all()
    assert not mask[:8].any() and not mask[:, 64:].any()


def _segment(key: np.ndarray) -> DecodedSegment:
    """Three static trajectories and two on an object moving 6 px right over 5 frames."""
    start = np.array([[8, 8], [80, 8], [8, 56], [40, 30], [46, 34]], np.float32)
    pos = np.repeat(start[None], 5, 0)
    pos[:, 3:, 0] += np.linspace(0, 6, 5)[:, None]
    tracks = Tracks(positions=pos, visible=np.ones((5, 5), bool), confidence=np.ones((5, 5), np.float32))
    return DecodedSegment(segment=Segment(0, 4), key_start=key, key_end=key, tracks=tracks, bandwidth=12.0)


def test_layered_displacement_splits_the_trajectories_by_the_mask():
    lo = load()
    key = np.full((H, W, 3), 128, np.uint8)
    seg, params = _segment(key), EdgeParams(sigma_r=120.0)
    shipped = segment_displacement(seg, 4, 0, 12.0, params)
    lo.MASKS.clear()
    assert np.array_equal(lo.layered_displacement(seg, 4, 0, 12.0, params), shipped)  # no mask: shipped
    mask = np.zeros((H, W), bool)
    mask[24:40, 32:56] = True
    lo.MASKS[(0, 0)] = mask
    for variant in lo.VARIANTS:
        lo.VARIANT[0] = variant
        field = lo.layered_displacement(seg, 4, 0, 12.0, params)
        assert np.abs(field[~mask]).max() < 1e-3  # the background follows the static points alone
        assert abs(field[30, 44, 0] - 6.0) < (0.01 if variant == "layered" else 3.0)
    assert np.abs(shipped[~mask]).max() > 0.5  # ... where the shipped field drags it along
