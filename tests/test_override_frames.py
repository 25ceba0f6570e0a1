"""experiments/override_frames.py: per-frame errors of a stream with and without an override."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _eval_helpers import load_script


def load():
    return load_script("experiments/override_frames.py")


def test_an_override_that_changes_nothing_moves_no_frame(tmp_path):
    from conftest import moving_texture

    from actdiff.io import write_video

    clip = tmp_path / "pan.mp4"
    write_video(str(clip), moving_texture(10, 96, 128), fps=25)
    out, img = tmp_path / "o.json", tmp_path / "s.jpg"
    doc = load().main([str(clip), "--rate", "r4", "--frames", "10", "--set", "codec.seed=0", "--sheet", str(img),
                       "-o", str(out)])
    a, b = doc["streams"]["without"], doc["streams"]["with"]
    assert a == b and len(a["frame_error"]) == 10 and doc["better"] == doc["worse"] == 0
    assert json.loads(out.read_text())["streams"]["with"]["bpp"] == pytest.approx(b["bpp"])
    from PIL import Image
    assert Image.open(img).size == (3 * 384, 256)


def test_frame_errors():
    src = np.zeros((2, 4, 4, 3), np.uint8)
    rec = src.copy()
    rec[1] = 10
    assert load().frame_errors(src, rec).tolist() == [0.0, 10.0]
