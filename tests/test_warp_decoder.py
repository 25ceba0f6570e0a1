"""Warp decoder on a translated texture with exact tracks."""

import cv2
import numpy as np

from actdiff.decoders.warp import WarpDecoder
from actdiff.motion.prediction import blend_warps, warp_keyframes
from actdiff.registry import DECODERS
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks

H, W, L = 96, 128, 7
DX, DY = 1.5, -1.0


def video():
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (H + 64, W + 64, 3)).astype(np.float32), (0, 0), 3)
    big = np.clip((big - big.mean()) * 4 + 128, 0, 255)
    return np.stack([cv2.warpAffine(big, np.float32([[1, 0, -32 + DX * t], [0, 1, -32 + DY * t]]), (W, H))
                     for t in range(L)]).astype(np.uint8)


def segment(frames, with_tracks=True):
    pts0 = np.stack(np.meshgrid(np.arange(8, W, 20), np.arange(8, H, 20)), -1).reshape(-1, 2).astype(np.float32)
    # cv2.warpAffine inverts M: the content moves by (+DX, +DY) per frame
    pos = np.stack([pts0 + [DX * t, DY * t] for t in range(L)]).astype(np.float32)
    if with_tracks:
        tracks = Tracks(pos, np.ones(pos.shape[:2], bool), np.ones(pos.shape[:2], np.float32))
    else:
        tracks = Tracks.empty(L)
    return DecodedSegment(Segment(10, 10 + L - 1), frames[0], frames[-1], tracks, bandwidth=16.0)


def psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-10))  # 100 dB: exact


def test_warp_decoder_reconstructs_translation():
    frames = video()
    header = StreamHeader(H, W, H, W, L, 25.0)
    dec = DECODERS.build("warp")
    out = dec.decode_segment(header, segment(frames))
    assert out.shape == (L, H, W, 3) and out.dtype == np.uint8
    assert np.array_equal(out[0], frames[0]) and np.array_equal(out[-1], frames[-1])
    inner = (slice(12, -12), slice(12, -12))
    for t in range(1, L - 1):
        assert psnr(out[t][inner], frames[t][inner]) > 30
    # without trajectories and without the keyframes' own flow (keyflow) it can only cross-fade
    tracks_only = DECODERS.build("warp", prediction_params={"keyflow": False})
    blind = tracks_only.decode_segment(header, segment(frames, with_tracks=False))
    assert psnr(blind[3][inner], frames[3][inner]) < psnr(out[3][inner], frames[3][inner]) - 5
    # keyflow measures this uniform translation between the two keyframes itself
    blind_keyflow = dec.decode_segment(header, segment(frames, with_tracks=False))
    assert psnr(blind_keyflow[3][inner], frames[3][inner]) > psnr(blind[3][inner], frames[3][inner]) + 5


def test_warp_keyframes_and_blend():
    frames = video()
    seg = segment(frames)
    w0, c0, w1, c1 = warp_keyframes(seg, 0, 16.0)
    assert np.array_equal(w0, frames[0].astype(np.float32)) and c0.min() == 1.0
    w0, c0, w1, c1 = warp_keyframes(seg, 3, 16.0, bidirectional=False)
    assert not w1.any() and not c1.any() and c0[20:-20, 20:-20].min() > 0.5
    a = np.full((4, 4, 3), 10.0, np.float32)
    b = np.full((4, 4, 3), 210.0, np.float32)
    z = np.zeros((4, 4), np.float32)
    zc = z[..., None]
    np.testing.assert_allclose(blend_warps(a, zc, b, zc, 0.25), 60.0, rtol=1e-5)  # floor → time cross-fade
    np.testing.assert_allclose(blend_warps(a, zc + 1, b, zc, 0.5), 10.0, atol=0.5)  # confident side wins
    one = WarpDecoder().decode_segment(StreamHeader(H, W, H, W, 1, 25.0),
                                       DecodedSegment(Segment(0, 0), frames[0], frames[0], Tracks.empty(1)))
    assert one.shape == (1, H, W, 3) and np.array_equal(one[0], frames[0])
