"""Grid coding of frame-0 positions (trajectory coder ``adaptive_grid``, actdiff.entropy.first_frame)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.entropy import decode_tracks, encode_tracks, quantize_tracks
from actdiff.entropy.trajectory import GridTrajectoryCoder
from actdiff.errors import BitstreamError
from actdiff.motion.grids import grid_points, grid_shape
from actdiff.registry import TRAJECTORY_CODERS
from actdiff.selection.trajectories import anchor_points, uniform_points
from actdiff.types import Tracks, Video

H, W, STEP = 256, 384, 0.5


def tracks_with_grid(seed: int, n: int = 48, on_grid: int = 16, kind: str = "cell", drop: int = 0,
                     t: int = 12, h: int = H, w: int = W, dup: bool = False) -> Tracks:
    """``n`` points moving smoothly; the first ``on_grid - drop`` start on the grid of
    ``on_grid`` points (``drop`` of its points left out), the others at random pixels."""
    rng = np.random.default_rng(seed)
    g = grid_points(*grid_shape(on_grid, h, w), h, w, kind)[drop:] if on_grid else np.zeros((0, 2))
    p0 = np.concatenate([g, rng.integers(0, [w, h], (n - len(g), 2))]).astype(np.float64)[:n]
    if dup and len(g):
        p0[-1] = g[0]  # a second point on a grid point
    tt = np.arange(t, dtype=np.float64)[:, None, None]
    pos = p0 + rng.normal(0, 0.8, (1, len(p0), 2)) * tt + rng.normal(0, 0.3, (t, len(p0), 2)) * (tt > 0)
    vis = rng.random((t, len(p0))) > 0.1
    return Tracks(pos.astype(np.float32), vis, vis.astype(np.float32))


CASES = [
    {}, {"kind": "even"}, {"drop": 3}, {"on_grid": 48, "n": 48}, {"on_grid": 40, "drop": 30, "n": 48},
    {"dup": True}, {"on_grid": 0}, {"n": 1, "on_grid": 1}, {"n": 2, "on_grid": 2}, {"n": 300, "on_grid": 100},
    {"h": 17, "w": 23, "n": 9, "on_grid": 6},
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("step", [0.5, 0.3, 4.0])
def test_round_trip_is_exact(case, step):
    tr = tracks_with_grid(1, **case)
    h, w = case.get("h", H), case.get("w", W)
    data = encode_tracks(tr, step, h, w, grid=True)
    q = quantize_tracks(tr, step, h, w)
    assert encode_tracks(q, step, h, w, grid=True) == data
    dec = decode_tracks(data, tr.num_frames, step, h, w, grid=True)
    assert np.array_equal(dec.positions, q.positions) and np.array_equal(dec.visible, q.visible)


@pytest.mark.parametrize("case", [{}, {"kind": "even"}, {"drop": 3}, {"on_grid": 48}, {"dup": True}])
def test_points_on_a_grid_cost_almost_nothing(case):
    tr = tracks_with_grid(2, **case)
    plain, grid = (len(encode_tracks(tr, STEP, H, W, grid=g)) for g in (False, True))
    on_grid = case.get("on_grid", 16) - case.get("drop", 0)
    assert 8 * (plain - grid) >= 8 * on_grid, (plain, grid)  # ≥ 8 of the ~12 bits a point saved


def test_no_grid_costs_at_most_one_bit_more():
    tr = tracks_with_grid(3, on_grid=0)
    plain, grid = (8 * len(encode_tracks(tr, STEP, H, W, grid=g)) for g in (False, True))
    assert plain <= grid <= plain + 8  # one flag bit (and the range coder's last byte)


def test_the_coders_grids_are_the_selectors():
    for n in (1, 5, 16, 48, 130):
        rows_cols = grid_shape(n, H, W)
        assert np.array_equal(uniform_points(n, H, W), grid_points(*rows_cols, H, W, "even"))
        assert np.array_equal(anchor_points(np.zeros((H, W)), n, 0.0), grid_points(*rows_cols, H, W, "cell"))


def test_corrupt_payloads_raise_bitstream_errors_only():
    tr = tracks_with_grid(4, drop=2)
    data = encode_tracks(tr, STEP, H, W, grid=True)
    rng = np.random.default_rng(0)
    for i in range(60):
        bad = bytearray(data)
        if i % 3 == 0:
            bad = bad[: rng.integers(1, len(bad))]
        else:
            bad[rng.integers(1, len(bad))] ^= 1 << int(rng.integers(0, 8))
        try:
            decode_tracks(bytes(bad), tr.num_frames, STEP, H, W, grid=True)
        except BitstreamError:
            pass
    with pytest.raises(BitstreamError):  # a plain payload is not a grid payload, and vice versa
        decode_tracks(encode_tracks(tr, STEP, H, W), tr.num_frames, STEP, H, W, grid=True)
    with pytest.raises(BitstreamError):
        decode_tracks(data, tr.num_frames, STEP, H, W)


def test_format_is_frozen():
    """The ``adaptive_grid`` payload: these bytes must never change silently."""
    g = grid_points(*grid_shape(16, H, W), H, W, "cell")[2:].astype(np.float64)  # 14 of 16 grid points
    i = np.arange(30, dtype=np.float64)
    p0 = np.concatenate([g, np.stack([(i * 37.3) % W, (i * 11.7) % H], 1), g[:1]])  # + 30 others + a duplicate
    t = np.arange(10, dtype=np.float64)[:, None, None]
    pos = p0 + np.stack([np.sin(p0[:, 0] / 9), np.cos(p0[:, 1] / 7)], 1) * t + 0.3 * np.sin(t * p0[:, :1] / 5)
    vis = ((t[:, :, 0].astype(int) * 5 + np.arange(len(p0))) % 9) != 0
    tr = Tracks(pos.astype(np.float32), vis, vis.astype(np.float32))
    coder = TRAJECTORY_CODERS.build("adaptive_grid", step=STEP)
    assert isinstance(coder, GridTrajectoryCoder) and coder.grid
    data = coder.encode(tr, H, W)
    assert len(data) < len(TRAJECTORY_CODERS.build("adaptive", step=STEP).encode(tr, H, W)) - 14
    assert hashlib.sha256(data).hexdigest()[:16] == DIGEST, hashlib.sha256(data).hexdigest()[:16]


DIGEST = "0df8191ec036754e"


def test_a_stream_with_grid_coding_decodes_to_the_same_frames(tmp_path):
    """Lossless: the fast mode's streams with ``adaptive`` and ``adaptive_grid`` differ only in
    the trajectory bytes; the header names the coder, so the decoder needs no option."""
    from conftest import moving_texture

    video = Video(frames=moving_texture(num_frames=16, height=64, width=96), fps=25.0)
    out = {}
    for name in ("adaptive", "adaptive_grid"):
        enc = encode_video(video, compose(None, [f"codec.entropy.name={name}", "codec.trajectories.budget_points=24"]))
        out[name] = (enc.stats["bits"]["trajectories"], decode_video(enc.data).frames)
    assert out["adaptive_grid"][0] < out["adaptive"][0]
    assert np.array_equal(out["adaptive_grid"][1], out["adaptive"][1])
