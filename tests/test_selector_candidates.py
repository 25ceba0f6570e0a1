"""experiments/selector_candidates.py: every candidate of the greedy selector, scored by its own objective."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from _eval_helpers import load_script


def load():
    return load_script("experiments/selector_candidates.py")


def square_video(path: Path, n: int = 12) -> None:
    """A dark square moving 3 px/frame over a static texture, 96x128."""
    from actdiff.io import write_video

    rng = np.random.default_rng(1)
    bg = cv2.GaussianBlur(rng.random((96, 128, 3)).astype(np.float32), (0, 0), 1.5)
    bg = ((bg - bg.min()) / (bg.max() - bg.min()) * 150 + 90).astype(np.uint8)
    frames = np.repeat(bg[None], n, 0)
    for t in range(n):
        frames[t, 38:58, 10 + 3 * t:30 + 3 * t] = (20, 20, 30)
    write_video(str(path), frames, fps=25)


def test_main_scores_every_candidate(tmp_path):
    clip, out = tmp_path / "square.mp4", tmp_path / "cand.json"
    square_video(clip)
    doc = load().main([str(clip), "--rate", "r1", "--frames", "12", "--fractions", "0.33", "0.75", "-o", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(doc))
    seg = doc["segments"][0]
    assert set(seg["candidates"]) == {"greedy 0.33", "greedy 0.75", "grid"}
    errors = {k: c["error"] for k, c in seg["candidates"].items()}
    assert seg["best"] == min(errors, key=errors.get)
    for c in seg["candidates"].values():
        assert 0 < c["points"] <= 24 and c["bandwidth"] > 0 and 0 <= c["on_moving"] <= c["points"]
    assert 0 < seg["moving_share"] < 0.5 and 0 <= seg["moving_residual_share"] <= 1
    assert seg["visible_static"] > 0.9 and seg["visible_end_static"] > 0.9          # the texture holds still
    assert 0 <= seg["visible_moving"] <= 1 and 0 <= seg["visible_end_moving"] <= 1


def test_missing_clip_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no such video file"):
        load().main([str(tmp_path / "none.mp4")])


def test_the_synthetic_moving_square_at_its_own_size():
    doc = load().main(["moving_square", "--rate", "r3", "--fractions", "0.33"])
    (seg,) = doc["segments"]
    assert (seg["start"], seg["end"]) == (0, 16) and set(seg["candidates"]) == {"greedy 0.33", "grid"}
    assert all(c["points"] == 48 for c in seg["candidates"].values())   # r3's budget


def test_decode_scores_each_candidate_as_the_encoder_would_code_it():
    """``--decode``: the candidate the stream chose (greedy 0.33 beats the grid on the square) decodes
    exactly as the stream's own segment does: the candidates are coded as the encoder codes tracks."""
    doc = load().main(["moving_square", "--rate", "r3", "--fractions", "0.33", "--decode"])
    (seg,) = doc["segments"]
    cands = seg["candidates"]
    assert seg["best"] == "greedy 0.33"
    assert cands["greedy 0.33"]["decoded_psnr"] == pytest.approx(seg["stream"]["decoded_psnr"], abs=1e-9)
    assert cands["grid"]["decoded_psnr"] < cands["greedy 0.33"]["decoded_psnr"]   # 19.1 against 20.6 dB
    assert seg["regret_psnr"] >= 0 and seg["decoded_best"] in cands
    assert all(c["decoded_psnr8"] > c["decoded_psnr"] for c in cands.values())    # coarse: texture averaged out


def test_summarize_pools_the_decoded_rankings(tmp_path):
    seg = {"start": 0, "end": 9, "best": "a", "decoded_best": "b", "regret_psnr": 0.5, "stream": {"decoded_psnr": 20.0},
           "candidates": {"a": {"error": 1.0, "decoded_psnr": 20.0}, "b": {"error": 2.0, "decoded_psnr": 20.5},
                          "c": {"error": 3.0, "decoded_psnr": 19.0}}}
    agree = dict(seg, best="b", regret_psnr=0.0,
                 candidates={k: dict(v, error=-v["decoded_psnr"]) for k, v in seg["candidates"].items()})
    (tmp_path / "r.json").write_text(json.dumps({"segments": [seg, agree]}))
    out = load().main(["--summarize", str(tmp_path / "r.json")])
    assert (out["segments"], out["agree"]) == (2, 1) and out["mean_regret_psnr"] == pytest.approx(0.25)
    assert [r["spearman"] for r in out["rows"]] == pytest.approx([0.5, 1.0])
    assert out["mean_stream_regret_psnr"] == pytest.approx(0.5)     # b decodes at 20.5, the stream at 20
    (tmp_path / "bare.json").write_text(json.dumps({"segments": [{"start": 0, "end": 9}]}))
    with pytest.raises(SystemExit, match="run with --decode"):
        load().main(["--summarize", str(tmp_path / "bare.json")])
