"""``experiments/local_failures.py``: block-wise failures and fixes of one warp prediction against another."""

from __future__ import annotations

import numpy as np
from _eval_helpers import load_script


def test_a_damaged_block_is_one_failure_and_a_repaired_one_a_fix():
    lf = load_script("experiments/local_failures.py")
    rng = np.random.default_rng(0)
    src = (rng.random((6, 64, 96, 3)) * 255).astype(np.uint8)
    noisy = np.clip(src.astype(int) + rng.integers(-4, 5, src.shape), 0, 255).astype(np.uint8)
    base, new = noisy.copy(), noisy.copy()
    new[3, 32:64, 0:32] = 0      # new breaks one block of frame 3
    base[2, 0:32, 64:96] = 255   # base is broken where new is not (frame 2)
    new[0, 0:32, 0:32] = 0       # a keyframe: not counted
    mask = np.array([False, True, True, True, True, False])
    out = lf.compare(src, base, new, mask, block=32, drop=3.0, worst=4)
    assert out["blocks"] == 4 * 2 * 3 and out["fail"] == 1 and out["fix"] == 1
    assert out["worst"] == [{"frame": 3, "by": 1, "bx": 0, "base_db": out["worst"][0]["base_db"],
                             "new_db": out["worst"][0]["new_db"]}]
    assert out["worst"][0]["base_db"] - out["worst"][0]["new_db"] > 10
    assert [(b["frame"], b["by"], b["bx"]) for b in out["best"]] == [(2, 0, 2)]
    assert out["fail_excess_sse"] > 0 and out["fix_excess_sse"] > 0
    same = lf.compare(src, base, base, mask, 32, 3.0, 4)
    assert same["fail"] == same["fix"] == 0 and same["worst"] == same["best"] == []


def test_neighbouring_failures_are_drawn_once():
    lf = load_script("experiments/local_failures.py")
    cells = [(5, 1, 1), (6, 1, 1), (6, 2, 2), (5, 3, 3), (15, 1, 1)]
    order = np.array([np.ravel_multi_index(i, (20, 4, 4)) for i in cells])
    picked = [np.unravel_index(i, (20, 4, 4)) for i in lf._distinct(order, (20, 4, 4), 3)]
    assert [tuple(map(int, p)) for p in picked] == [(5, 1, 1), (5, 3, 3), (15, 1, 1)]


def test_in_between_frames_come_from_the_streams_structure():
    from test_bitstream import make_bitstream

    from actdiff.codec.bitstream import write_bitstream

    lf = load_script("experiments/local_failures.py")
    mask = lf.in_between(write_bitstream(make_bitstream(20)), 20)  # segments 0–10 and 10–19
    assert mask.tolist() == [i not in (0, 10, 19) for i in range(20)]
