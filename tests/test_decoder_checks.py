"""experiments/decoder_checks.py: issue 13's per-point checks summarised and two runs compared."""

from __future__ import annotations

import json

import pytest
from _eval_helpers import load_script

CHECKS = ("lowres", "vmaf", "tof_x265", "warp_err_x265", "tof_warp", "warp_err_warp", "niqe")


def _run(path, lowres_video: list[float], fail_niqe_at: int = -1):
    def metrics(lowres: float, we: float) -> dict:
        return {"psnr": 20.0, "psnr_lowres": lowres, "ms_ssim": 0.9, "vmaf_neg": 40.0, "warping_error": we,
                "tof": 0.1, "niqe": 5.0}

    rows = {"warp": [], "video": []}
    verdicts = []
    for i, lr in enumerate(lowres_video):
        rows["warp"].append({"quality_param": f"r{i}", "bpp": 0.01, "metrics": metrics(30.0, 0.002)})
        rows["video"].append({"quality_param": f"r{i}", "bpp": 0.01, "metrics": metrics(lr, 0.003)})
        verdicts.append({"checks": {c: (c != "lowres" or lr >= 30.0) and (c != "niqe" or i != fail_niqe_at)
                                    for c in CHECKS}})
    path.write_text(json.dumps({"clips": [{"clip": "a", "rows": rows, "verdicts": verdicts}]}))
    return path


def test_summary_and_change(tmp_path, capsys):
    mod = load_script("experiments/decoder_checks.py")
    old = _run(tmp_path / "old.json", [29.5, 30.2], fail_niqe_at=1)
    new = _run(tmp_path / "new.json", [30.1, 30.4])
    out = mod.main([str(old), str(new)])
    s_old, s_new = out["summaries"]
    assert s_old["all_checks"] == 0 and s_old["checks_met"]["lowres"] == 1 and s_old["checks_met"]["niqe"] == 1
    assert s_new["all_checks"] == 2
    assert s_old["coarse_psnr_minus_warp"] == pytest.approx([-0.5, 0.2])
    assert s_new["warping_error_over_warp"] == pytest.approx([1.5, 1.5])
    assert out["change"]["a r0"]["psnr_lowres"] == pytest.approx(0.6)
    assert out["mean_change"]["psnr_lowres"] == pytest.approx(0.4)
    assert "all checks at 2 of 2" in capsys.readouterr().out


def test_detail_mix_ab_panel_shows_the_middles_of_the_longest_segments(tmp_path):
    import numpy as np
    from PIL import Image

    mod = load_script("experiments/detail_mix_ab.py")
    src = np.zeros((20, 8, 12, 3), np.uint8)
    src[12] = 200
    shown = mod.panel(src, {"a": src, "b": src}, [[0, 5], [5, 19], [19, 19]], tmp_path / "p.jpg")
    assert shown == [2, 12]
    img = np.asarray(Image.open(tmp_path / "p.jpg"))
    assert img.shape == (16, 36, 3) and img[8:].mean() > 150 > img[:8].mean()


def test_video_sampling_tradeoff_reads_stream_as_a_detail_mix():
    """``--detail-mixes stream 0.5``: ``stream`` (the encoder's per-segment choice) beside a number."""
    import argparse

    mod = load_script("experiments/video_sampling_tradeoff.py")
    assert mod._mix("stream") == "stream" and mod._mix("0.5") == 0.5
    args = argparse.Namespace(bases=["detail", "blend"], detail_mixes=["stream", 0.5])
    assert mod._bases(args) == [("detail", "stream"), ("detail", 0.5), ("blend", None)]


def test_x265_failures_split_by_whether_the_warp_decoder_fails_too():
    mod = load_script("experiments/decoder_checks.py")
    checks = dict.fromkeys(CHECKS, True)

    def point(warp_tof: float, video_tof: float, x265_tof: float) -> dict:
        return {"warp": {"tof": warp_tof, "warping_error": 0.001}, "video": {"tof": video_tof, "warping_error": 0.001},
                "x265": {"tof": x265_tof, "warping_error": 0.002},
                "checks": {**checks, "tof_x265": video_tof <= x265_tof}}

    pts = {("a", "r0"): point(0.3, 0.3, 0.2), ("a", "r1"): point(0.1, 0.3, 0.2), ("a", "r2"): point(0.1, 0.1, 0.2),
           ("b", "r0"): {**point(0.3, 0.3, 0.2), "x265": None}}
    split = mod.shared_with_warp(pts)
    assert split["tof_x265"] == {"shared": ["a r0"], "own": ["a r1"]}
    assert split["warp_err_x265"] == {"shared": [], "own": []}


def test_source_flicker_asks_the_source_the_warping_error_checks(tmp_path, monkeypatch, capsys):
    mod = load_script("experiments/source_flicker.py")

    def row(point: str, we: float) -> dict:
        return {"quality_param": point, "bpp": 0.01, "metrics": {"warping_error": we}}

    clip = {"clip": "a", "path": "a.mp4", "frames": 4,
            "rows": {"warp": [row("r0", 0.002), row("r1", 0.004)], "video": [row("r0", 0.003), row("r1", 0.005)]},
            "verdicts": [{"x265_at_bpp": {"warping_error": 0.0035}}, {"x265_at_bpp": {"warping_error": 0.006}}]}
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"protocol": "cpu", "targets": {"flicker_ratio": 1.2}, "clips": [clip]}))
    seen = []
    monkeypatch.setattr(mod, "source_warping_error", lambda path, protocol, frames: seen.append(frames) or 0.0045)
    out = mod.main([str(bench), "-o", str(tmp_path / "out.json")])
    assert seen == [4]
    # the source (0.0045) fails 1.2 x warp at r0 (0.0024) and x265 at r0 (0.0035); passes both at r1
    assert out["source_meets"] == {"warp_err_warp": 1, "warp_err_x265": 1}
    # the video decoder: above 1.2 x warp at both (0.003 > 0.0024, 0.005 > 0.0048), below x265 at both
    assert out["video_meets"] == {"warp_err_warp": 0, "warp_err_x265": 2}
    assert out["video_fails_where_source_passes"] == {"warp_err_warp": ["a r1"], "warp_err_x265": []}
    assert out["video_at_most_source"] == 1
    assert json.loads((tmp_path / "out.json").read_text())["points"] == 2
    assert "the source meets" in capsys.readouterr().out


def test_flicker_profile_splits_pairs_at_keyframes():
    import numpy as np

    mod = load_script("experiments/flicker_profile.py")
    at_key = mod.keyframe_pairs([[0, 3], [3, 6]], 7)
    # pairs (0,1) (1,2) (2,3) (3,4) (4,5) (5,6): those touching frames 0, 3, 6
    assert at_key.tolist() == [True, False, True, True, False, True]
    errors = {"warp": np.full(6, 0.001), "shipped": np.array([0.003, 0.002, 0.003, 0.003, 0.002, 0.003])}
    ex = mod.excess(errors, at_key)["shipped"]
    assert ex["keyframe_pairs"] == pytest.approx(0.002) and ex["other_pairs"] == pytest.approx(0.001)


def test_flicker_profile_pair_errors_score_flicker_like_the_clip_metric():
    """On a clip shifting one pixel per frame, per-pair errors of a decode that moves with it are the
    clip metric's (same masks, near-equal pixel counts); added noise raises every pair."""
    import numpy as np

    from actdiff.metrics.temporal import warping_error

    mod = load_script("experiments/flicker_profile.py")
    rng = np.random.default_rng(0)
    base = (rng.random((48, 72, 3)) * 255).astype(np.uint8)
    base = np.repeat(np.repeat(base, 2, 0), 2, 1)  # 96 x 144, smooth enough for the flow
    ref = np.stack([np.roll(base, t, axis=1) for t in range(5)])
    steady = mod.pair_errors(ref, ref)
    noisy = ref.astype(np.int16) + rng.integers(-20, 21, ref.shape)
    flicker = mod.pair_errors(ref, np.clip(noisy, 0, 255).astype(np.uint8))
    assert steady.shape == (4,) and (flicker > steady + 0.01).all()
    assert steady.mean() == pytest.approx(warping_error(ref, ref), rel=0.05)


def test_motion_accuracy_scores_decoded_motion_against_the_source_flow():
    """A texture panning 2 px/frame: tracks that follow it carry its motion (small error on moving
    pixels), tracks that stand still carry none (the error of no motion at all)."""
    import numpy as np
    from _eval_helpers import moving_texture

    from actdiff.types import DecodedSegment, Segment, Tracks

    mod = load_script("experiments/motion_accuracy.py")
    length, step = 5, 2.0
    wide = moving_texture(1, 96, 160, seed=3)[0]
    src = np.stack([wide[:, 16 - int(step) * t:144 - int(step) * t] for t in range(length)])  # content moves right
    gx, gy = np.meshgrid(np.linspace(8, 120, 5), np.linspace(8, 88, 4))
    pts = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)
    moving = np.stack([pts + [step * t, 0.0] for t in range(length)]).astype(np.float32)
    vis, conf = np.ones((length, len(pts)), bool), np.ones((length, len(pts)), np.float32)

    def seg(positions):
        return DecodedSegment(Segment(0, length - 1), src[0], src[-1], Tracks(positions, vis, conf), 16.0)

    follow = mod.stream_accuracy(src, [seg(moving)], moving=1.0)
    still = mod.stream_accuracy(src, [seg(np.repeat(pts[None], length, 0))], moving=1.0)
    assert follow["moving_share"] > 0.5
    assert follow["moving_epe"]["zero"] == pytest.approx(step, abs=0.5)
    assert follow["moving_epe"]["direct"] < 0.5 and follow["moving_epe"]["keyflow"] < 0.8
    assert still["moving_epe"]["direct"] == pytest.approx(still["moving_epe"]["zero"], abs=0.1)
    # read at the trajectories themselves: their own steps, against the source's motion there
    assert follow["moving_point_steps"] > 0 and follow["moving_epe"]["points"] < 0.5
    assert still["moving_epe"]["points"] == pytest.approx(still["moving_epe"]["points_zero"], abs=1e-6)
    assert still["moving_epe"]["points_zero"] == pytest.approx(step, abs=0.5)
