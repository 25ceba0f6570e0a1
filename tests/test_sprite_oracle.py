"""``experiments/sprite_oracle.py``: moving objects from the source, drawn once by the warp decoder."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from _eval_helpers import load_script

from actdiff.decoders import build_decoder
from actdiff.tracking.dis import DISTracker
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks

H, W, L, MOVE = 96, 128, 17, 40


def clip() -> np.ndarray:
    """``uint8 (L, H, W, 3)``: a 20x16 blue textured block crossing ``MOVE`` px of still, smooth background."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur((rng.random((H, W, 3)) * 40 + 110).astype(np.uint8), (0, 0), 3.0)
    obj = np.zeros((20, 16, 3), np.uint8)
    obj[..., 2] = 200
    obj[..., 1] = (rng.random((20, 16)) * 120).astype(np.uint8)
    frames = []
    for t in range(L):
        f = bg.copy()
        x = 24 + int(round(MOVE * t / (L - 1)))
        f[36:56, x:x + 16] = obj
        frames.append(f)
    return np.stack(frames)


def args(**kw) -> argparse.Namespace:
    base = dict(threshold=2.0, block=8, fill=0.25, min_area=128, max_share=0.1, keep=0.5)
    return argparse.Namespace(**{**base, **kw})


def test_the_object_is_found_with_its_path_and_drawn_once():
    oracle = load_script("experiments/sprite_oracle.py")
    src = clip()
    fw, bw = DISTracker("medium").pairwise_flows(src)
    found = oracle.find_objects(src, fw, bw, 0, L - 1, args())
    assert len(found) == 1
    path = found[0]["path"]
    assert path.shape == (L, 2)
    assert np.allclose(path[:, 0], np.round(MOVE * np.arange(L) / (L - 1)), atol=0.01)
    assert np.abs(path[:, 1]).max() < 1.0
    assert found[0]["mask"][45, 30]  # on the object in the start keyframe

    seg = DecodedSegment(Segment(0, L - 1), src[0], src[-1], Tracks.empty(L), bandwidth=16.0)
    info = oracle.fill_sprites(src, [seg], fw, bw, args())
    assert info["objects"] == 1 and info["object_bits"] > 36
    header = StreamHeader(H, W, H, W, L, 25.0)
    plain = build_decoder("warp").decode_segment(header, seg)
    with oracle.oracle_drawing():
        drawn = build_decoder("warp", prediction_params={"sprites": True}).decode_segment(header, seg)
    mid = L // 2
    solid = lambda img: (img[..., 2] > 185) & (img[..., 0] < 60)  # noqa: E731
    truth = solid(src[mid]).sum()
    assert solid(plain[mid]).sum() < 0.2 * truth  # the shipped decoder: two half-transparent objects
    assert (solid(drawn[mid]) & solid(src[mid])).sum() > 0.7 * truth  # the oracle: one, in its place
    assert np.abs(drawn.astype(float) - src).mean() < 0.5 * np.abs(plain.astype(float) - src).mean()


def test_an_object_too_large_is_left_out():
    oracle = load_script("experiments/sprite_oracle.py")
    src = clip()
    fw, bw = DISTracker("medium").pairwise_flows(src)
    assert oracle.find_objects(src, fw, bw, 0, L - 1, args(max_share=0.01)) == []
