"""``experiments/region_shift.py``: the shift of a region between two frames, by phase correlation."""

from __future__ import annotations

import cv2
import numpy as np
from _eval_helpers import load_script


def test_a_shifted_region_reads_its_shift():
    rs = load_script("experiments/region_shift.py")
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur((rng.random((96, 128, 3)) * 255).astype(np.float32), (0, 0), 2)
    img = np.clip((img - img.min()) / (img.max() - img.min()) * 255, 0, 255).astype(np.uint8)
    moved = np.roll(img, (3, -5), axis=(0, 1))  # 3 px down, 5 px left
    dx, dy, resp = rs.region_shift(img, moved, (16, 80, 16, 112))
    assert abs(dx + 5) < 0.3 and abs(dy - 3) < 0.3 and resp > 0.5
    dx, dy, _ = rs.region_shift(img, img, (16, 80, 16, 112))
    assert abs(dx) < 0.05 and abs(dy) < 0.05
