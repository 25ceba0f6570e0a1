"""``benchmarks/bench_warp_speed.py``: its hashes are those of the stream and of the frames the
decoder makes from it, so comparing two revisions' rows says whether a speed-up moved a bit."""

from __future__ import annotations

import hashlib
import json

import numpy as np
from _eval_helpers import load_script

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.io import read_video


def test_rows_hash_the_stream_and_the_decoded_frames(tmp_path):
    bench = load_script("benchmarks/bench_warp_speed.py")
    out = tmp_path / "speed.json"
    assert bench.main(["--size", "64x48", "--frames", "6", "--repeats", "2", "--label", "x", "-o", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["label"] == "x" and row["size"] == "64x48" and row["frames"] == 6
    assert row["encode_s_per_frame"] > 0 and row["decode_s_per_frame"] > 0
    clip = tmp_path / "clip.y4m"
    bench.synthetic_clip(clip, 6, 64, 48)
    data = encode_video(read_video(clip, max_frames=6), compose("experiment/codec")).data
    frames = np.ascontiguousarray(decode_video(data).frames)
    assert row["stream_sha256"] == hashlib.sha256(data).hexdigest()
    assert row["frames_sha256"] == hashlib.sha256(frames.tobytes()).hexdigest()
