"""experiments/moving_object_tracks.py: its counts split a moving square from its static background."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _eval_helpers import load_script

from actdiff.registry import TRACKERS
from actdiff.tracking import chain_flows
from actdiff.types import DecodedSegment, Segment, Tracks

H, W, LENGTH, SIDE, SPEED = 96, 128, 12, 20, 3


def load():
    return load_script("experiments/moving_object_tracks.py")


def square_clip(on_square: int, static: int):
    """A dark square moving SPEED px/frame right over a textured background, and a segment whose
    tracks are ``on_square`` points on the square and ``static`` points elsewhere."""
    rng = np.random.default_rng(1)
    bg = cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), 1.5)
    bg = ((bg - bg.min()) / (bg.max() - bg.min()) * 150 + 90).astype(np.uint8)
    frames = []
    for t in range(LENGTH):
        f = bg.copy()
        x0 = 10 + SPEED * t
        f[38:38 + SIDE, x0:x0 + SIDE] = (20, 20, 30)
        frames.append(f)
    obj = np.stack([np.linspace(14, 26, on_square), np.full(on_square, 48.0)], 1)
    still = np.stack([np.linspace(70, 120, static), np.full(static, 85.0)], 1)
    t = np.arange(LENGTH, dtype=np.float32)[:, None, None]
    pos = np.concatenate([obj[None] + t * np.array([SPEED, 0.0]), np.repeat(still[None], LENGTH, 0)], 1)
    vis = np.ones(pos.shape[:2], bool)
    seg = DecodedSegment(Segment(0, LENGTH - 1), frames[0], frames[-1],
                         Tracks(pos.astype(np.float32), vis, vis.astype(np.float32)))
    return np.stack(frames), seg


def test_counts_find_the_square_and_the_points_on_it():
    mot = load()
    frames, seg = square_clip(on_square=3, static=5)
    flows = TRACKERS.build("dis", preset="medium").pairwise_flows(frames)
    motion = chain_flows(*flows, 0, LENGTH - 1, fb_threshold=1.5)
    counts = mot.segment_counts(motion, seg, moving_px=4.0, visibility=0.3)
    share = mot.shares(counts)
    assert counts["tracks"] == 8 and counts["tracks_on_moving"] == 3
    assert share["tracks_on_moving"] == pytest.approx(3 / 8)
    # the square is 400 of 12288 pixels; DIS drags the texture beside it along (about 1500 here)
    assert 0.5 * SIDE * SIDE <= counts["moving"] <= 8 * SIDE * SIDE, counts
    assert share["visible_end_static"] > 0.95, share


def test_shares_of_nothing_are_nan_not_an_error():
    mot = load()
    share = mot.shares({"pixels": 10, "moving": 0, "visible_end_moving": 0, "visible_end_static": 10,
                        "tracks": 0, "tracks_on_moving": 0})
    assert share["moving"] == 0 and share["visible_end_static"] == 1
    assert np.isnan(share["visible_end_moving"]) and np.isnan(share["tracks_on_moving"])


def test_main_writes_shares_of_a_clip_file(tmp_path):
    """The whole script on a video file (cpu protocol crop, one rate point, a codec override)."""
    import json

    from actdiff.io import write_video

    mot = load()
    frames, _ = square_clip(on_square=1, static=1)
    clip = tmp_path / "square.mp4"
    write_video(str(clip), frames, fps=25)
    out = tmp_path / "tracks.json"
    mot.main(["--clips", str(clip), "--frames", str(LENGTH), "--rates", "r1", "--set",
              "codec.tracker.appearance_tol=16", "-o", str(out)])
    row = json.loads(out.read_text())["clips"]["square"]["r1"]
    assert row["pixels"] > 0 and 0 < row["moving"] < 0.5, row          # the square moves, the background not
    assert 0 <= row["visible_end_moving"] <= 1 and row["visible_end_static"] > 0.8, row
    assert row["tracks"] > 0 and 0 <= row["tracks_on_moving"] <= 1
