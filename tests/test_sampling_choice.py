"""The rule that picks the shipped diffusion decoder's sampling settings on validation files, and
the shipped weights' defaults against its committed verdict."""

from __future__ import annotations

import json
import re

import pytest
from _eval_helpers import ROOT, load_script
from omegaconf import OmegaConf

choose = load_script("experiments/choose_sampling_default.py")
WARP = {"psnr_lowres": 30.0, "vmaf_neg": 50.0, "warping_error": 0.010, "tof": 0.50, "niqe": 7.0}


def _row(label, clip="a", point="r1", **over):
    return {"clip": clip, "point": point, "label": label, **{**WARP, **over}}


def _streams(label, **over):
    return [_row(label, c, p, **over) for c in ("a", "b") for p in ("r1", "r3")]


def test_rule_picks_the_admissible_setting_with_the_best_niqe():
    rows = (_streams("warp") + _streams("2d s=1", niqe=4.0, vmaf_neg=47.9)          # VMAF NEG 2.1 down
            + _streams("2d s=0.5", niqe=5.0) + _streams("2d s=0.3", niqe=6.0)
            + _streams("2d s=0.5 anchored", niqe=3.0)                              # not a decoder option
            + _streams("2d flicker", niqe=4.5, warping_error=0.0121)               # 1.21 x warp
            + _streams("2d blurry", niqe=4.5, psnr_lowres=29.99)
            + _streams("2d noniqe", niqe=7.0))
    result = choose.evaluate(rows)
    assert "2d s=0.5 anchored" not in result
    assert not result["2d s=1"]["admissible"] and "vmaf_neg" in result["2d s=1"]["failures"][0]
    assert not result["2d flicker"]["admissible"] and not result["2d blurry"]["admissible"]
    assert not result["2d noniqe"]["admissible"]
    assert result["2d s=0.3"]["admissible"]
    assert choose.choose(result) == "2d s=0.5"


def test_a_setting_missing_one_stream_is_not_admissible_and_none_keeps_the_default():
    rows = _streams("warp") + _streams("2d", niqe=5.0)[:-1]
    result = choose.evaluate(rows)
    assert not result["2d"]["admissible"]
    assert "not measured on b r3" in result["2d"]["failures"]
    assert choose.choose(result) is None


def test_fallback_is_fidelity_first_when_nothing_is_admissible():
    """Nothing admissible: the best NIQE among settings failing only NIQE checks, not one that
    damages fidelity for texture; ``none`` when every setting fails a fidelity or temporal check."""
    rows = (_streams("warp") + _streams("2d texture", niqe=5.0, vmaf_neg=47.0)       # fails VMAF NEG
            + _streams("2d detail", niqe=6.5)[:2] + _streams("2d detail", niqe=7.05)[2:]  # NIQE at 2 streams
            + _streams("2d flat", niqe=7.1))                                          # NIQE everywhere
    result = choose.evaluate(rows)
    assert choose.choose(result) is None
    assert choose.fidelity_first(result) == "2d detail"
    assert choose.decide(result) == ("2d detail", "fidelity_first")
    rows = _streams("warp") + _streams("2d texture", niqe=5.0, vmaf_neg=47.0) + _streams("2d missing", niqe=5.0)[:-1]
    assert choose.decide(choose.evaluate(rows)) == (None, "none")      # a missing stream is no NIQE failure
    rows = _streams("warp") + _streams("2d ok", niqe=6.0) + _streams("2d detail", niqe=6.9)
    assert choose.decide(choose.evaluate(rows)) == ("2d ok", "admissible")


def test_niqe_ties_go_to_the_higher_coarse_psnr():
    """Mean NIQE within ``NIQE_TIE`` of the lowest is a tie, broken by mean coarse PSNR; a larger NIQE
    gap is not; the fallback breaks ties alike."""
    rows = (_streams("warp") + _streams("2d mix=1", niqe=6.00, psnr_lowres=30.2)
            + _streams("2d mix=0.5", niqe=6.04, psnr_lowres=30.5) + _streams("2d far", niqe=6.2, psnr_lowres=31.0))
    result = choose.evaluate(rows)
    assert result["2d mix=0.5"]["mean_psnr_lowres"] == pytest.approx(30.5)
    assert choose.choose(result) == "2d mix=0.5"
    rows = [dict(r, niqe=r["niqe"] + 1.5) if r["label"] != "warp" else r for r in rows]  # all fail NIQE only
    assert choose.decide(choose.evaluate(rows)) == ("2d mix=0.5", "fidelity_first")
    rows = (_streams("warp") + _streams("2d a", niqe=6.0, psnr_lowres=30.2)
            + _streams("2d b", niqe=6.06, psnr_lowres=30.9))  # 0.06 apart: no tie
    assert choose.choose(choose.evaluate(rows)) == "2d a"


def test_both_sweep_formats_load(tmp_path):
    metrics = dict(WARP)
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"rows": [{"clip": "a", "point": "r1", "decoder": "warp", **metrics}]}))
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({
        "settings": {"warp": {}, "diffusion-2d": {"strength": 0.5, "temporal_blend": 0.95}},
        "clips": [{"clip": "a", "rows": {
            "warp": [{"quality_param": "r1", "metrics": metrics}],
            "diffusion-2d": [{"quality_param": "r1", "metrics": {**metrics, "niqe": 6.0}}]}}]}))
    rows = choose.load_rows(flat) + choose.load_rows(bench)
    assert {r["label"] for r in rows} == {"warp", "2d strength=0.5 blend=0.95"}
    assert choose.choose(choose.evaluate(rows)) == "2d strength=0.5 blend=0.95"


def test_the_first_sweep_chose_strength_and_blend():
    verdict = json.loads((ROOT / "benchmarks/results/sampling_choice_val.json").read_text())
    rows = [r for p in verdict["sweeps"] for r in choose.load_rows(ROOT / p)]
    assert choose.choose(choose.evaluate(rows)) == verdict["choice"] == "2d strength=0.5 blend=0.95"


def test_shipped_strength_blend_base_and_mix_are_the_committed_validation_choice():
    """The verdict on the sweep of the detail base's ``detail_mix`` (the rule, fidelity first with
    NIQE ties) is what the shipped weights and the tiny preset decode with."""
    verdict = json.loads((ROOT / "benchmarks/results/sampling_choice_detail_mix_val.json").read_text())
    rows = [r for p in verdict["sweeps"] for r in choose.load_rows(ROOT / p)]
    assert choose.decide(choose.evaluate(rows)) == (verdict["choice"], verdict["chosen_by"])
    m = re.fullmatch(r"2d strength=([\d.]+) blend=([\d.]+)(?: base=(\w+))?(?: mix=([\d.]+))?", verdict["choice"])
    assert m, verdict["choice"]
    shipped = json.loads((ROOT / "actdiff/assets/weights/tiny/config.json").read_text())["default_sampler"]
    preset = OmegaConf.load(ROOT / "configs/model/tiny.yaml").sampler
    for defaults in (shipped, preset):
        assert defaults["strength"] == pytest.approx(float(m.group(1)))
        assert defaults["temporal_blend"] == pytest.approx(float(m.group(2)))
        assert defaults.get("base") == (m.group(3) or None)
        assert defaults.get("detail_mix") == (float(m.group(4)) if m.group(4) else None)


def test_the_diffusion_decoder_uses_the_shipped_base_and_video_models_drop_it():
    from actdiff.decoders.diffusion import DiffusionDecoder

    assert DiffusionDecoder(device="cpu").base == "detail"
    assert DiffusionDecoder(device="cpu", base="blend").base == "blend"


def test_the_rule_rerun_against_the_keyflow_warp_decoder_keeps_the_default():
    """After ``keyflow`` became the warp decoder's default the rule was re-run on a new sweep (with
    the ``detail`` base as candidates): nothing was admissible, so the shipped default stayed."""
    verdict = json.loads((ROOT / "benchmarks/results/sampling_choice_keyflow_val.json").read_text())
    rows = [r for p in verdict["sweeps"] for r in choose.load_rows(ROOT / p)]
    result = choose.evaluate(rows)
    assert choose.choose(result) is None and verdict["choice"] is None
    assert any("base=detail" in label for label in result)
    assert not result["2d strength=0.5 blend=0.95"]["admissible"]


def test_sweep_passes_weights_bases_and_noise_to_the_decoder(monkeypatch):
    """``video_sampling_tradeoff.py``: ``--weights`` reaches every 2D decode, ``--bases``,
    ``--detail-mixes`` and ``--noise`` become decoder options and label suffixes; without
    ``--bases`` the model's own base is used (no ``base`` option, no suffix)."""
    import argparse

    import numpy as np

    sweep = load_script("experiments/video_sampling_tradeoff.py")
    calls = []

    class Out:
        frames = np.zeros((2, 4, 4, 3), np.uint8)

    def fake_decode(data, decoder, **kw):
        calls.append((decoder, kw))
        return Out()

    monkeypatch.setattr(sweep, "decode_video", fake_decode)
    args = argparse.Namespace(weights="W", video=None, strengths=[0.5], blends=[0.9], bases=None, noise=None,
                              anchor_sigma=0.0, detail_mixes=None, mix_of=None, residual_bands=None)
    assert list(sweep._decodes(b"", args)) == ["warp", "2d strength=0.5 blend=0.9"]
    assert calls[-1] == ("diffusion", {"strength": 0.5, "temporal_blend": 0.9, "weights": "W"})
    args.bases, args.noise = ["detail"], "warped"
    assert list(sweep._decodes(b"", args))[1] == "2d strength=0.5 blend=0.9 base=detail noise=warped"
    assert calls[-1][1] == {"strength": 0.5, "temporal_blend": 0.9, "base": "detail", "noise_mode": "warped",
                            "weights": "W"}
    args.bases, args.noise, args.detail_mixes = ["blend", "detail"], None, [1.0, 0.5]
    assert list(sweep._decodes(b"", args))[1:] == ["2d strength=0.5 blend=0.9 base=blend",
                                                   "2d strength=0.5 blend=0.9 base=detail mix=1",
                                                   "2d strength=0.5 blend=0.9 base=detail mix=0.5"]
    assert calls[-1][1] == {"strength": 0.5, "temporal_blend": 0.9, "base": "detail", "detail_mix": 0.5,
                            "weights": "W"}
    args.mix_of = "output"  # only the detail rows carry it
    assert list(sweep._decodes(b"", args))[1:] == ["2d strength=0.5 blend=0.9 base=blend",
                                                   "2d strength=0.5 blend=0.9 base=detail mix=1 of=output",
                                                   "2d strength=0.5 blend=0.9 base=detail mix=0.5 of=output"]
    assert calls[-1][1]["detail_mix_of"] == "output" and "detail_mix_of" not in calls[-3][1]
    args.bases, args.detail_mixes, args.mix_of, args.residual_bands = None, None, None, ["all", "fine"]
    assert list(sweep._decodes(b"", args))[1:] == ["2d strength=0.5 blend=0.9 band=all",
                                                   "2d strength=0.5 blend=0.9 band=fine"]
    assert [c[1].get("residual_band") for c in calls[-2:]] == ["all", "fine"]
    args.residual_bands, args.residual_from, args.residual_scales = None, ["frames", "ends"], [0.3]
    assert list(sweep._decodes(b"", args))[1:] == ["2d strength=0.5 blend=0.9 from=frames scale=0.3",
                                                   "2d strength=0.5 blend=0.9 from=ends scale=0.3"]
    # the blend is the residual filter's, which only residual_from frames runs (the decoder refuses it otherwise)
    assert calls[-1][1] == {"strength": 0.5, "residual_from": "ends", "residual_scale": 0.3, "weights": "W"}
    assert calls[-2][1]["temporal_blend"] == 0.9
    args.residual_from, args.residual_scales, args.video = None, None, "V"  # the video decoder: its lock only
    args.coarse_locks, args.video_coarse_locks = None, [0, 1]
    assert list(sweep._decodes(b"", args))[1:] == ["2d strength=0.5 blend=0.9", "video strength=0.5 blend=0.9 lock=0",
                                                   "video strength=0.5 blend=0.9 lock=1"]
    assert calls[-1] == ("diffusion", {"strength": 0.5, "temporal_blend": 0.9, "coarse_lock": True, "weights": "V"})
    args.video_coarse_locks = None  # unset: the weights' own
    assert list(sweep._decodes(b"", args))[-1] == "video strength=0.5 blend=0.9"
    assert "coarse_lock" not in calls[-1][1]
    args.video_bases, args.video_residual_bands, args.video_coarse_locks = ["prediction", "detail"], ["fine"], [1]
    assert list(sweep._decodes(b"", args))[-2:] == ["video strength=0.5 blend=0.9 base=prediction band=fine lock=1",
                                                    "video strength=0.5 blend=0.9 base=detail band=fine lock=1"]
    assert calls[-1] == ("diffusion", {"strength": 0.5, "temporal_blend": 0.9, "base": "detail",
                                       "residual_band": "fine", "coarse_lock": 1, "weights": "V"})


def test_compare_labels_counts_wins_per_stream_with_each_metrics_direction(tmp_path):
    """``experiments/compare_labels.py``: B − A per stream; a lower NIQE or warping error is a win."""
    compare = load_script("experiments/compare_labels.py")
    rows = [{"clip": c, "point": "r1", "decoder": lab, "bpp": 0.01, "psnr": psnr, "niqe": niqe}
            for c, lab, psnr, niqe in [("a", "2d band=all", 30.0, 6.0), ("a", "2d band=fine", 30.5, 5.0),
                                       ("b", "2d band=all", 31.0, 6.0), ("b", "2d band=fine", 30.0, 7.0)]]
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"rows": rows}))
    diffs = compare.main([str(path), "band=all", "band=fine"])
    assert diffs == {"psnr": [("a r1", 0.5), ("b r1", -1.0)], "niqe": [("a r1", -1.0), ("b r1", 1.0)]}
    with pytest.raises(SystemExit, match="names 2 of"):
        compare.main([str(path), "band", "band=fine"])


def _flickering(label, flicker_at=("a r1",), **over):
    """Streams of ``label`` whose warping error fails the check at ``flicker_at``."""
    return [{**r, "warping_error": 0.013} if f"{r['clip']} {r['point']}" in flicker_at else r
            for r in _streams(label, **over)]


def test_dominance_replaces_the_current_setting_only_when_no_worse_everywhere():
    rows = (_streams("warp") + _flickering("2d all", niqe=7.5, psnr_lowres=30.1)
            + _flickering("2d fine", niqe=7.52, psnr_lowres=30.2)                      # same failures, sharper
            + _flickering("2d fine flicker", ("a r1", "b r3"), niqe=7.4, psnr_lowres=30.5)  # a new failure
            + _flickering("2d worse", niqe=7.5, psnr_lowres=30.05))
    result = choose.evaluate(rows)
    assert choose.decide(result) == (None, "none")                          # no fidelity-first choice
    assert choose.decide(result, "2d all") == ("2d fine", "dominance")
    assert choose.dominating(result, "2d fine") is None                     # nothing above it
    textured = choose.evaluate(rows + _flickering("2d texture", niqe=7.6, psnr_lowres=30.3))
    assert choose.dominating(textured, "2d all") == "2d fine"               # NIQE 0.1 worse: no tie


def test_shipped_residual_band_is_the_committed_dominance_verdict():
    """The newest verdict (the rule's dominance step on the sweep of ``residual_band``, validation
    files) is what the shipped weights, the tiny preset and the diffusion decoder use."""
    from actdiff.decoders.diffusion import DiffusionDecoder

    verdict = json.loads((ROOT / "benchmarks/results/sampling_choice_residual_band_val.json").read_text())
    rows = [r for p in verdict["sweeps"] for r in choose.load_rows(ROOT / p)]
    assert choose.decide(choose.evaluate(rows), verdict["current"]) == (verdict["choice"], verdict["chosen_by"])
    band = re.search(r"band=(\w+)$", verdict["choice"]).group(1)
    assert (verdict["chosen_by"], band) == ("dominance", "fine")
    shipped = json.loads((ROOT / "actdiff/assets/weights/tiny/config.json").read_text())["default_sampler"]
    assert shipped["residual_band"] == OmegaConf.load(ROOT / "configs/model/tiny.yaml").sampler.residual_band == band
    assert DiffusionDecoder(device="cpu").residual_band == band


def test_shipped_coarse_lock_is_the_committed_dominance_verdict():
    """The sweep of ``coarse_lock`` (validation files): the rule's dominance step chose it, and the
    shipped weights, the tiny preset and the diffusion decoder use it."""
    from actdiff.decoders.diffusion import DiffusionDecoder

    verdict = json.loads((ROOT / "benchmarks/results/sampling_choice_coarse_lock_val.json").read_text())
    rows = [r for p in verdict["sweeps"] for r in choose.load_rows(ROOT / p)]
    assert choose.decide(choose.evaluate(rows), verdict["current"]) == (verdict["choice"], verdict["chosen_by"])
    assert (verdict["chosen_by"], verdict["choice"].endswith("lock=1"), verdict["current"].endswith("lock=0")) == \
        ("dominance", True, True)
    shipped = json.loads((ROOT / "actdiff/assets/weights/tiny/config.json").read_text())["default_sampler"]
    assert shipped["coarse_lock"] is True and OmegaConf.load(ROOT / "configs/model/tiny.yaml").sampler.coarse_lock
    assert DiffusionDecoder(device="cpu").coarse_lock
    assert not DiffusionDecoder(device="cpu", coarse_lock=False).coarse_lock
