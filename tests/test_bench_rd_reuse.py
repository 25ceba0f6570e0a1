"""``benchmarks/bench_rd.py --reuse``: an earlier run's decode is kept only for a byte-identical stream."""

from __future__ import annotations

import json

from _eval_helpers import load_script

from actdiff.evaluation.results import new_results, save_results
from actdiff.types import EncodeResult


def _point(name: str, psnr: float) -> dict:
    return {"bpp": 0.01, "bits_total": 960, "frames": 4, "height": 16, "width": 24, "quality_param": name,
            "metrics": {"psnr": psnr}, "encode_seconds": 1.0, "decode_seconds": 2.0}


def test_reuse_matches_streams_by_bytes_not_by_name(tmp_path):
    old = tmp_path / "old"
    (old / "streams").mkdir(parents=True)
    doc = new_results("actdiff-rd-warp", "set", {"name": "cpu"}, {})
    doc["sequences"]["clip"] = [_point("rd0", 30.0), _point("rd1", 20.0)]
    save_results(doc, old / "actdiff_rd_warp_set.json")
    (old / "streams" / "clip_rd0.adv").write_bytes(b"stream A")
    (old / "streams" / "clip_rd1.adv").write_bytes(b"stream B")
    encoded = {"rd1": EncodeResult(data=b"stream A", stats={"encode_seconds": 5.0}),  # renamed point
               "rd2": EncodeResult(data=b"stream C", stats={"encode_seconds": 6.0})}  # new stream
    reused = load_script("benchmarks/bench_rd.py").reused_points(old, "warp", "set", "clip", encoded)
    assert list(reused) == ["rd1"]
    p = reused["rd1"]
    assert p["metrics"] == {"psnr": 30.0} and p["quality_param"] == "rd1" and p["encode_seconds"] == 5.0
    assert p["reused_from"] == "actdiff_rd_warp_set.json:rd0"
    assert load_script("benchmarks/bench_rd.py").reused_points(None, "warp", "set", "clip", encoded) == {}


def _settings_doc(strength: float) -> dict:
    return new_results("actdiff-rd-diffusion", "set", {"name": "cpu"},
                       {"decoder_settings": {"name": "diffusion", "model": "somewhere", "strength": strength,
                                             "temporal_blend": 0.8, "bidirectional": None}})


def test_no_reuse_and_no_comparison_across_decoder_settings(tmp_path):
    bench = load_script("benchmarks/bench_rd.py")
    old = tmp_path / "old"
    (old / "streams").mkdir(parents=True)
    doc = _settings_doc(1.0)
    doc["sequences"]["clip"] = [_point("rd0", 30.0)]
    save_results(doc, old / "actdiff_rd_diffusion_set.json")
    (old / "streams" / "clip_rd0.adv").write_bytes(b"stream A")
    encoded = {"rd0": EncodeResult(data=b"stream A", stats={"encode_seconds": 5.0})}
    same = {"name": "diffusion", "model": "elsewhere", "strength": 1.0, "temporal_blend": 0.8, "bidirectional": True}
    assert list(bench.reused_points(old, "diffusion", "set", "clip", encoded, same)) == ["rd0"]
    other = {**same, "strength": 0.5}
    assert bench.reused_points(old, "diffusion", "set", "clip", encoded, other) == {}
    assert bench.settings_mismatch(bench.settings_of(_settings_doc(1.0)), other) == "strength 1.0≠0.5"
    assert bench.settings_mismatch(bench.settings_of(_settings_doc(0.5)), other) == ""


def test_summary_refuses_fast_and_rd_results_of_different_decoder_settings(tmp_path, monkeypatch):
    import pytest

    bench = load_script("benchmarks/bench_rd.py")
    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir()
    out.mkdir()
    save_results(new_results("x265", "set", {"name": "cpu"}, {}), ref / "x265.json")
    save_results(_settings_doc(0.5), ref / "actdiff_diffusion.json")
    save_results(_settings_doc(1.0), out / "actdiff_rd_diffusion_set.json")
    monkeypatch.setattr(bench, "SETS", {"set": (None, ref)})
    with pytest.raises(SystemExit, match="strength 0.5≠1.0"):
        bench.summarise(out, ["diffusion"])


def test_warp_results_from_before_keyflow_or_edge_became_the_default_are_not_comparable():
    bench = load_script("benchmarks/bench_rd.py")
    from actdiff.decoders import build_decoder
    old = new_results("actdiff-warp", "set", {"name": "cpu"},
                      {"decoder_settings": {"name": "warp", "bidirectional": True, "prediction": "select"}})
    now = build_decoder("warp").settings()
    assert bench.settings_mismatch(bench.settings_of(old), now) == "keyflow None≠True, edge_sigma_r None≠120.0"
    ablation = build_decoder("warp", prediction_params={"keyflow": False}).settings()
    assert "keyflow False≠True" in bench.settings_mismatch(ablation, now)
    gaussian = build_decoder("warp", prediction_params={"edge_sigma_r": 0}).settings()
    assert "edge_sigma_r 0≠120.0" in bench.settings_mismatch(gaussian, now)


def test_a_results_document_is_resumed_only_with_the_same_overrides_and_settings(tmp_path):
    import pytest
    bench = load_script("benchmarks/bench_rd.py")
    settings = {"name": "warp", "prediction": "select", "keyflow": True}
    old = new_results("actdiff-rd-warp", "set", {"name": "cpu"}, {"decoder_settings": settings})
    bench.check_resumable(old, tmp_path / "a.json", settings, [])  # documents from before overrides
    loop = ["codec.rd.decoder={name: warp, prediction_params: {keyflow: false}}"]
    with pytest.raises(SystemExit, match="other overrides"):
        bench.check_resumable(old, tmp_path / "a.json", settings, loop)
    made = new_results("actdiff-rd-warp", "set", {"name": "cpu"}, {"decoder_settings": settings, "overrides": loop})
    bench.check_resumable(made, tmp_path / "a.json", settings, loop)
    with pytest.raises(SystemExit, match="keyflow"):
        bench.check_resumable(made, tmp_path / "a.json", {**settings, "keyflow": False}, loop)


def test_command_line_keeps_overrides_apart_from_datasets():
    bench = load_script("benchmarks/bench_rd.py")
    loop = "codec.rd.decoder={name: warp, prediction_params: {keyflow: false}}"
    args = bench.parser().parse_args(["-o", "x", "--datasets", "shared_clips", "--set", loop, "--decoders", "warp"])
    assert args.datasets == ["shared_clips"] and args.overrides == [loop] and args.decoders == ["warp"]
    assert bench.parser().parse_args([]).overrides == []


def test_shared_range_gain_compares_fast_and_rd_over_one_quality_interval():
    """The summary's "gain, shared range": both BD-rates against x265 over the interval all three
    curves reach. RD needs 1.2x x265's bits there and fast 1.5x, but RD reaches further, to where it
    needs 2-2.5x: the plain per-curve gain (each over its own overlap) says 17 pp, the shared one
    over 30; none without a shared interval."""
    import numpy as np
    import pytest

    bench = load_script("benchmarks/bench_rd.py")
    rate = np.array([0.002, 0.004, 0.008, 0.016, 0.03])
    q = np.array([20.0, 30.0, 40.0, 50.0, 58.0])
    x265 = (rate, q)
    fast = (rate[1:4] * 1.5, q[1:4])
    rd = (rate * np.array([2.0, 1.2, 1.2, 1.2, 2.5]), q)
    plain = bench.bd_rate(x265, fast, "vmaf_neg") - bench.bd_rate(x265, rd, "vmaf_neg")
    out = bench._shared_range(x265, fast, rd, "vmaf_neg")
    assert out["shared_range"] == pytest.approx([30.0, 50.0])
    assert out["improvement_shared_pp"] == pytest.approx(out["fast_shared"] - out["rd_shared"])
    assert plain < 20 < 30 < out["improvement_shared_pp"]
    assert bench._shared_range(x265, (rate, q + 100), rd, "vmaf_neg") == {}


def _curve_doc(codec: str, factor: float) -> dict:
    """One clip ``c`` whose rate is ``factor`` times x265's (factor 1) at every quality."""
    doc = new_results(codec, "set", {"name": "cpu"}, {})
    doc["sequences"]["c"] = [
        {"bpp": r * factor, "bits_total": 1000, "frames": 4, "height": 16, "width": 24, "quality_param": f"p{i}",
         "encode_seconds": 1.0, "metrics": {"vmaf_neg": v, "ms_ssim": m}}
        for i, (r, v, m) in enumerate(zip([0.003, 0.006, 0.012, 0.024], [20.0, 35.0, 50.0, 65.0],
                                          [0.80, 0.86, 0.91, 0.95]))]
    return doc


def test_gain_since_compares_the_rd_curve_with_the_fast_modes_results_at_a_revision(tmp_path, monkeypatch):
    """``--since REV``: the fast mode's committed results at REV (needing 2x x265's bits) against
    today's RD curve (1.2x): +100 % then, +20 % now, 80 pp gained; the mean row and a second
    Markdown table carry it. Without ``--since`` nothing is read from git."""
    import pytest

    bench = load_script("benchmarks/bench_rd.py")
    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir()
    out.mkdir()
    save_results(_curve_doc("x265", 1.0), ref / "x265.json")
    save_results(_curve_doc("fast", 1.5), ref / "actdiff_warp.json")
    save_results(_curve_doc("rd", 1.2), out / "actdiff_rd_warp_set.json")
    asked = []

    def at(rev, path, repo):
        asked.append((rev, str(path), repo))
        return _curve_doc("fast then", 2.0)

    monkeypatch.setattr(bench, "SETS", {"set": (None, ref)})
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "load_results_at", at)
    plain = bench.summarise(out, ["warp"])
    assert asked == [] and "gain_since_pp" not in plain["warp/c"]["vmaf_neg"]
    rows = bench.summarise(out, ["warp"], "abc123")
    assert asked == [("abc123", "ref/actdiff_warp.json", tmp_path)]
    for metric in ("vmaf_neg", "ms_ssim"):
        row = rows["warp/c"][metric]
        assert row["before"] == pytest.approx(100.0, abs=0.5) and row["rd"] == pytest.approx(20.0, abs=0.5)
        assert row["gain_since_pp"] == pytest.approx(row["before"] - row["rd"])
        assert rows["warp/mean"][metric]["gain_since_pp"] == pytest.approx(row["gain_since_pp"])
    assert "gain since (pp)" in bench.markdown(rows) and "gain since" not in bench.markdown(plain)


def test_a_kept_stream_is_used_only_with_the_same_codec_settings_and_code(tmp_path, monkeypatch, capsys):
    """``_streams``: a stream kept from an encoder with other settings (or with no fingerprint, as
    before they were recorded) is encoded again and the run says why; a matching one is read back."""
    from omegaconf import OmegaConf

    from actdiff.evaluation.stream_store import stale_reason, stream_fingerprint

    bench = load_script("benchmarks/bench_rd.py")
    calls = []

    def fake_encode(video, cfg):
        calls.append(cfg.codec.trajectories.smooth_ends)
        return EncodeResult(data=f"stream {cfg.codec.trajectories.smooth_ends}".encode(), stats={"bpp": 0.01})

    monkeypatch.setattr(bench, "encode", fake_encode)
    hold = OmegaConf.create({"codec": {"trajectories": {"smooth_ends": "hold"}}})
    pin = OmegaConf.create({"codec": {"trajectories": {"smooth_ends": "pin"}}})
    assert stream_fingerprint(hold.codec) != stream_fingerprint(pin.codec)
    assert stream_fingerprint(pin.codec) == stream_fingerprint({"trajectories": {"smooth_ends": "pin"}})

    first = bench._streams(tmp_path, None, "clip", {"rd0": hold})
    assert calls == ["hold"] and first["rd0"].data == b"stream hold"
    assert bench._streams(tmp_path, None, "clip", {"rd0": hold})["rd0"].data == b"stream hold"
    assert calls == ["hold"]                                     # same settings and code: read back
    capsys.readouterr()
    again = bench._streams(tmp_path, None, "clip", {"rd0": pin})
    assert calls == ["hold", "pin"] and again["rd0"].data == b"stream pin"
    assert "kept stream not used, encoded with other codec settings" in capsys.readouterr().out
    js = tmp_path / "streams" / "clip_rd0.json"
    assert stale_reason(js, stream_fingerprint(pin.codec)) is None
    js.write_text('{"bpp": 0.01}')                               # a stream from before fingerprints
    assert stale_reason(js, stream_fingerprint(pin.codec)).startswith("no fingerprint")
    kept = {**stream_fingerprint(pin.codec), "code": "0" * 64}  # same settings, other code
    js.write_text(json.dumps({"fingerprint": kept}))
    assert stale_reason(js, stream_fingerprint(pin.codec)) == "encoded with other code"
