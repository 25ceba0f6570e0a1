"""experiments/decode_check.py: hashes and metrics of one encode/decode, and the mid-segment sheet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _eval_helpers import load_script
from PIL import Image


def load():
    return load_script("experiments/decode_check.py")


def test_two_runs_agree_bit_for_bit_and_the_sheet_shows_each_segment(tmp_path):
    from actdiff.io import write_video

    rng = np.random.default_rng(0)
    frames = np.repeat((rng.random((1, 64, 96, 3)) * 200 + 30).astype(np.uint8), 12, 0)
    for t in range(12):
        frames[t, 20:36, 5 + 4 * t:21 + 4 * t] = (200, 30, 30)
    clip = tmp_path / "clip.mp4"
    write_video(str(clip), frames, fps=25)
    mod = load()
    runs = [mod.main([str(clip), "--frames", "12", "--decoders", "warp", "--metrics", "psnr", "tof",
                      "--sheet", str(tmp_path / f"s{i}.png"), "-o", str(tmp_path / f"r{i}.json")]) for i in range(2)]
    a, b = runs
    assert a["bitstream_sha"] == b["bitstream_sha"]
    assert a["decoders"]["warp"]["frames_sha"] == b["decoders"]["warp"]["frames_sha"]
    assert set(a["decoders"]["warp"]) == {"psnr", "tof", "frames_sha", "decode_seconds"}
    assert json.loads((tmp_path / "r0.json").read_text())["bitstream_sha"] == a["bitstream_sha"]
    sheet = Image.open(tmp_path / "s0.png")
    # the cpu protocol's 256x384 frames: source | warp, one row per segment of 3+ frames
    assert sheet.size == (2 * 384, 256 * len(a["sheet_frames"])) and a["sheet_frames"]


def test_missing_clip_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no such video file"):
        load().main([str(tmp_path / "none.mp4"), "-o", str(tmp_path / "o.json")])
