"""Ghost-free warp prediction: a fast object on a static background decodes as ONE object."""

import numpy as np
import pytest

from actdiff.codec import decode_segments, decode_video, encode_video
from actdiff.config import compose
from actdiff.decoders.warp import WarpDecoder
from actdiff.errors import ConfigError
from actdiff.motion.fusion import FusionParams, KeyWarp, effective_confidences, fuse_frame, fusion_weights
from actdiff.motion.prediction import blend_warps, predict_frame
from actdiff.training.synthetic import moving_square
from actdiff.types import Video

H, W, T, S = 128, 192, 17, 40  # frame size, frames, object side (px)


def _red(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, np.float32)
    return img[..., 0] - img[..., 1:].mean(-1) > 60


def _box(xy) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[xy[1]:xy[1] + S, xy[0]:xy[0] + S] = True
    return m


def _masks(boxes: np.ndarray, start: int, end: int, t: int):
    """(true box at t, ghost region: the boxes at start and end outside the true box)."""
    true = _box(boxes[t])
    return true, (_box(boxes[start]) | _box(boxes[end])) & ~true


@pytest.fixture(scope="module")
def coded():
    frames, boxes = moving_square(T, H, W, S)
    enc = encode_video(Video(frames, 25.0, "moving_square"), compose(None, []))
    return frames, boxes, enc.data


def test_moving_object_decodes_as_one_object(coded):
    frames, boxes, data = coded
    _, segs = decode_segments(data)
    long = [s for s in segs if s.segment.length >= 9]
    assert long, "the scenario needs a segment long enough for the object to move by its size"
    for seg in long:
        t = seg.segment.length // 2
        f = seg.segment.start + t
        true, ghost = _masks(boxes, seg.segment.start, seg.segment.end, f)
        new, diag = fuse_frame(seg, t)
        old = predict_frame(seg, t, mode="blend")
        assert _red(frames[f])[ghost].mean() == 0  # the source has no object there
        assert _red(old)[ghost].mean() > 0.3       # the old blend shows it at its start and end
        assert _red(new)[ghost].mean() < 0.08      # the new prediction does not
        assert _red(new)[true].mean() > 0.3        # ... and the object is still there
        assert np.allclose(diag["a0"] + diag["a1"], 1.0, atol=1e-5)


def test_select_decoder_is_deterministic_and_keeps_keyframes(coded):
    frames, _, data = coded
    dec = WarpDecoder(prediction="select")
    a, b = decode_video(data, dec).frames, decode_video(data, dec).frames
    assert a.shape == frames.shape and np.array_equal(a, b)
    _, segs = decode_segments(data)
    for s in segs:
        assert np.array_equal(a[s.segment.start], s.key_start) and np.array_equal(a[s.segment.end], s.key_end)
    with pytest.raises(ConfigError, match="unknown warp prediction"):
        WarpDecoder(prediction="average")
    assert WarpDecoder().prediction == "select"  # the default: the ghost-free fusion


def _kw(value: float, fb: float = 0.0) -> KeyWarp:
    z = np.zeros((8, 8), np.float32)
    return KeyWarp(np.full((8, 8, 3), value, np.float32), z + 1, z + fb, z)


def test_weights_blend_where_warps_agree_and_select_where_they_disagree():
    p = FusionParams()
    a0, a1, _ = fusion_weights(_kw(100), _kw(101), 0.3, p)  # agree → the old time blend
    np.testing.assert_allclose(a1, 0.3, atol=0.02)
    a0, a1, _ = fusion_weights(_kw(20), _kw(220), 0.2, p)  # disagree → the nearer keyframe
    assert a0.min() > 0.95
    a0, a1, _ = fusion_weights(_kw(20, fb=15.0), _kw(220), 0.2, p)  # K0's content moved away
    assert a1.min() > 0.95
    a0, a1, _ = fusion_weights(_kw(20), _kw(220), 0.2, FusionParams(t_select=1.0, use_fb=False))
    np.testing.assert_allclose(a1, 0.2, atol=1e-3)  # temperature 1 without the check: the plain blend


def test_effective_confidences_make_the_plain_blend_reproduce_the_fusion():
    rng = np.random.default_rng(0)
    w0, w1 = rng.uniform(0, 255, (2, 6, 6, 3)).astype(np.float32)
    a1 = rng.uniform(0, 1, (6, 6)).astype(np.float32)
    for tau in (0.1, 0.5, 0.9):
        c0, c1 = effective_confidences(1 - a1, a1, tau)
        assert c0.min() >= 0 and max(c0.max(), c1.max()) <= 1
        plain = blend_warps(w0, c0[..., None], w1, c1[..., None], tau)
        np.testing.assert_allclose(plain, (1 - a1)[..., None] * w0 + a1[..., None] * w1, atol=0.3)
    with pytest.raises(ValueError):
        effective_confidences(1 - a1, a1, 0.0)
