"""``experiments/segment_tracks.py``: what each segment of a real stream carries."""

from __future__ import annotations

import json
import math

from _eval_helpers import load_script
from conftest import moving_texture

from actdiff.codec import encode_video
from actdiff.config import compose
from actdiff.motion.interpolate import NC_PRIOR
from actdiff.types import Video


def test_rows_count_the_moving_trajectories_of_a_translating_texture(tmp_path):
    video = Video(frames=moving_texture(12, 64, 96, speed=(1.5, 0.0)), fps=10.0)
    enc = encode_video(video, compose(None, []))
    script = load_script("experiments/segment_tracks.py")
    rows = script.segment_rows(enc.data)
    assert [r["frames"][0] for r in rows] == enc.stats["keyframes"][:-1]
    first = rows[0]
    assert first["trajectories"] > 0 and first["moving_over_1px"] > 0
    length = first["frames"][1] - first["frames"][0]
    assert first["largest_move_px"] <= 1.5 * length + 3          # a 1.5 px/frame translation
    assert math.isclose(first["isolated_point_disc_radius_px"],
                        math.sqrt(2 * math.log(1 / NC_PRIOR)) * first["bandwidth_px"], abs_tol=0.1)
    stream = tmp_path / "s.adv"
    stream.write_bytes(enc.data)
    assert script.main([str(stream), "-o", str(tmp_path / "rows.json")]) == 0
    assert json.loads((tmp_path / "rows.json").read_text())["segments"] == rows
