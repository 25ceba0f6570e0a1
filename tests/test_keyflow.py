"""Decoder-side refinement of the tracks' motion with the flow between the decoded keyframes."""

from __future__ import annotations

import numpy as np
from _eval_helpers import load_script, moving_texture

from actdiff.decoders import build_decoder
from actdiff.motion.keyflow import KeyflowParams, cached_corrections, keyframe_corrections, progress, refine_map
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks

H, W, L, SHIFT = 96, 128, 9, 6


def _segment() -> tuple[DecodedSegment, np.ndarray]:
    """A static textured background with a textured square moving SHIFT px right over the segment;
    the only decoded trajectories sit on the background (zero motion), so the tracks' field misses
    the square. Returns the segment and the true middle frame."""
    bg, obj = moving_texture(1, H, W, seed=0)[0], moving_texture(1, 32, 32, seed=1)[0]

    def frame(dx: int) -> np.ndarray:
        f = bg.copy()
        f[32:64, 40 + dx:72 + dx] = obj
        return f

    gx, gy = np.meshgrid(np.linspace(8, W - 8, 6), [8.0, H - 8.0])
    pts = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)
    tracks = Tracks(np.repeat(pts[None], L, 0), np.ones((L, len(pts)), bool), np.ones((L, len(pts)), np.float32))
    return DecodedSegment(Segment(0, L - 1), frame(0), frame(SHIFT), tracks, 16.0), frame(SHIFT // 2)


def test_correction_finds_the_motion_the_tracks_miss_and_leaves_the_background():
    seg, _ = _segment()
    c0, c1, _, _ = keyframe_corrections(seg, seg.bandwidth)
    assert np.allclose(np.median(c0[40:56, 48:64], axis=(0, 1)), [SHIFT, 0], atol=1.0)
    assert np.allclose(np.median(c1[40:56, 48 + SHIFT:64 + SHIFT], axis=(0, 1)), [-SHIFT, 0], atol=1.0)
    assert np.abs(c0[:24]).max() < 0.5 and np.abs(c0[76:]).max() < 0.5  # background rows far from it
    again = keyframe_corrections(seg, seg.bandwidth)
    assert np.array_equal(again[0], c0) and np.array_equal(again[1], c1)


def test_refined_warp_decoder_places_the_moving_square_better():
    seg, truth = _segment()
    header = StreamHeader(height=H, width=W, fps=25.0, num_frames=L, coded_height=H, coded_width=W, params={})
    t = (L - 1) // 2
    plain = build_decoder("warp", prediction_params={"keyflow": False}).decode_frames(header, seg, [t])[0]
    refined = build_decoder("warp").decode_frames(header, seg, [t])[0]  # keyflow is the default
    err = lambda x: np.abs(x.astype(float) - truth)[28:68, 36:80].mean()  # noqa: E731
    assert err(refined) < 0.6 * err(plain)


def test_short_segments_and_identity_refinement():
    seg, _ = _segment()
    short = DecodedSegment(Segment(0, 1), seg.key_start, seg.key_end, Tracks.empty(2), 16.0)
    corr = keyframe_corrections(short, 16.0)
    assert not any(x.any() for x in corr)
    back = np.random.default_rng(0).uniform(0, 90, (H, W, 2)).astype(np.float32)
    assert refine_map(back, np.ones((H, W, 2), np.float32), 0.0) is back
    assert np.allclose(refine_map(back, np.ones((H, W, 2), np.float32), 0.25), back - 0.25)


def test_cache_is_per_segment_object():
    seg, _ = _segment()
    a = cached_corrections(seg, 16.0)
    assert cached_corrections(seg, 16.0) is a
    other = DecodedSegment(seg.segment, seg.key_end, seg.key_start, seg.tracks, 16.0)
    assert cached_corrections(other, 16.0) is not a


def test_warp_decoder_records_its_prediction_params_and_keyflow():
    default = build_decoder("warp").settings()
    assert "prediction_params" not in default and default["keyflow"] is True
    dec = build_decoder("warp", prediction_params={"keyflow": False})
    assert dec.settings()["prediction_params"] == {"keyflow": False} and dec.settings()["keyflow"] is False
    assert "keyflow" not in build_decoder("warp", prediction="blend").settings()


def test_an_object_that_differs_from_its_background_in_colour_keeps_its_tracks():
    """DIS sees luma only; this red square is about as bright as its background, so its DIS flow is
    wrong. The trust check compares RGB errors, so the square's exact tracks stay uncorrected
    (a luma-only check moved its interior by 10-17 px)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from test_no_crossfade import moving_square
    seg, _, boxes = moving_square()
    c0, c1, _, _ = keyframe_corrections(seg, seg.bandwidth)
    (x0, y0), (x1, y1) = boxes[0], boxes[-1]
    assert np.abs(c0[y0 + 4:y0 + 10, x0 + 4:x0 + 10]).max() < 1.0
    assert np.abs(c1[y1 + 4:y1 + 10, x1 + 4:x1 + 10]).max() < 1.0


def test_progress_is_the_share_of_the_tracks_motion_done_and_tau_where_they_rest():
    grid = np.stack(np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32)), -1)
    motion = np.zeros((H, W, 2), np.float32)
    motion[:, : W // 2] = [20.0, 0.0]  # the left half moves 20 px by the other keyframe,
    motion[:, W // 2 :] = [4.0, 0.0]  # the right half 4 px
    back = grid - [5.0, 0.0]  # every point has moved 5 px by frame t
    share = progress(back.astype(np.float32), motion, tau=0.75, eps=2.0)
    assert np.allclose(share[:, 10 : W // 2 - 10], (5 * 20 + 4 * 0.75) / (400 + 4), atol=1e-4)  # ≈ 0.25, not τ
    assert np.allclose(share[:, W // 2 + 10 :], 1.0)  # 5 px done of 4: clipped to [0, 1]
    assert np.allclose(progress(grid, np.zeros_like(motion), tau=0.3, eps=2.0), 0.3)  # nothing moves: τ


def test_the_correction_grows_with_the_tracks_motion_not_with_time():
    """While the square of experiments/keyflow_spread.py rests, spreading the correction linearly
    in time (the first keyflow) drags the background beside it (the tracks' field leaks the later
    motion there, and the correction that undoes the leak at the end keyframe was applied from the
    start); spread with the tracks' progress (the default) it does not, and the whole segment is
    closer to the source than with the tracks alone or the time spread."""
    spread = load_script("experiments/keyflow_spread.py")
    assert KeyflowParams().spread == "progress"
    ts = list(range(2, 16, 2))
    err = spread.frame_errors(ts)
    resting = [i for i, t in enumerate(ts) if t <= 8]
    assert (err["progress"][resting] < 0.5 * err["time"][resting]).all(), err
    assert err["progress"].mean() < 0.8 * min(err["tracks"].mean(), err["time"].mean()), err


def test_unknown_spread_is_a_config_error():
    import pytest

    from actdiff.errors import ConfigError
    with pytest.raises(ConfigError, match="spread"):
        build_decoder("warp", prediction_params={"keyflow_params": {"spread": "linear"}})


def test_shared_spread_makes_the_two_shares_sum_to_one_and_progress_need_not():
    from actdiff.motion.fusion import _keyflow_share
    from actdiff.motion.interpolate import dense_flow_from_tracks

    seg, _, _ = load_script("experiments/keyflow_spread.py").rest_then_move()
    corr = keyframe_corrections(seg, seg.bandwidth)
    t, L = 11, seg.segment.length

    def shares(spread: str):
        kp = KeyflowParams(spread=spread)
        out = []
        for ref in (0, L - 1):
            back, _ = dense_flow_from_tracks(seg.tracks, t, ref, H, W, seg.bandwidth)
            out.append(np.broadcast_to(_keyflow_share(seg, t, ref, back, corr, kp, seg.bandwidth), (H, W)))
        return out

    s0, s1 = shares("shared")
    assert np.allclose(s0 + s1, 1.0, atol=1e-6)
    p0, p1 = shares("progress")
    assert np.array_equal(p0, s0) and np.abs(p0 + p1 - 1.0).max() > 0.05  # only the end keyframe's differs
