"""``actdiff evaluate`` end to end.

``test_evaluate_plumbing_fake_codec`` runs the command with a stand-in codec (real bytes, real
decode) so the verb is tested whatever the state of the pipeline.
``test_evaluate_real_pipeline`` runs the real ActDiff codec (the pipeline has landed, so it no
longer skips).
"""

import io
import json
import zlib

import numpy as np
import pytest
from _eval_helpers import moving_texture, write_clip_folder

from actdiff.commands.evaluate import main as evaluate
from actdiff.errors import ConfigError
from actdiff.evaluation.rates import codec_overrides, encode_at_point, load_rates, rates_file
from actdiff.evaluation.results import load_results
from actdiff.types import EncodeResult, Video


def _fake_encode(video, cfg):
    """Keyframe subsampled by a stride set by keyframe quality, zlib-compressed: real bytes."""
    stride = max(1, 8 - int(cfg.codec.keyframe_codec.quality) // 8)
    key = video.frames[0][::stride, ::stride]
    buf = io.BytesIO()
    np.save(buf, np.array([video.num_frames, video.height, video.width, stride]))
    np.save(buf, key)
    data = zlib.compress(buf.getvalue(), 9)
    return EncodeResult(data, {"bpp": 8 * len(data) / video.frames[..., 0].size, "bits": {"keyframes": 8 * len(data)},
                               "keyframes": [0], "trajectories": [0]})


def _fake_decode(data, decoder="warp", **kw):
    buf = io.BytesIO(zlib.decompress(data))
    t, h, w, s = np.load(buf)
    key = np.load(buf)
    frame = np.repeat(np.repeat(key, s, 0), s, 1)[:h, :w]
    return Video(np.repeat(frame[None], t, 0), 25.0)


def test_rates_file_and_overrides():
    rates = load_rates(rates_file(), None)
    assert len(rates) >= 4
    assert codec_overrides(["keyframe_codec.quality=20", "codec.seed=1", "protocol.max_frames=4"]) == [
        "codec.keyframe_codec.quality=20", "codec.seed=1", "protocol.max_frames=4"]
    with pytest.raises(ConfigError, match="unknown rate point") as e:
        load_rates(rates_file(), ["nope"])
    assert "overrides before" not in str(e.value)
    with pytest.raises(ConfigError, match="put overrides before it"):  # `--rates r0 codec.seed=1` swallows it
        load_rates(rates_file(), ["r0", "codec.seed=1"])
    with pytest.raises(ConfigError, match="rate points: r1 is given twice"):  # it was coded once, silently
        load_rates(rates_file(), ["r1", "0.01", "r1"])


def test_evaluate_refuses_a_repeated_rate_point_or_metric_before_any_work(tmp_path, monkeypatch, capsys):
    from actdiff.commands import evaluate
    from actdiff.evaluation import runner

    monkeypatch.setattr(runner, "encode_point", lambda *a, **k: pytest.fail("coded before the check"))
    out = tmp_path / "e.json"
    for args, words in ((["--rates", "r1", "r1"], "r1 is given twice"),
                        (["--metrics", "psnr", "niqe", "psnr"], "metrics: psnr is given twice")):
        assert evaluate.main(["--data", "sample", *args, "-o", str(out)]) == 2
        assert words in capsys.readouterr().err and not out.exists()


def test_evaluate_plumbing_fake_codec(tmp_path, monkeypatch):
    from actdiff.evaluation import runner

    monkeypatch.setattr(runner, "encode_point", _fake_encode)  # the runner's two codec calls
    monkeypatch.setattr(runner, "decode_video", _fake_decode)
    data = write_clip_folder(tmp_path / "clips", names=("alpha", "beta", "gamma"), h=96, w=192)  # NIQE's smallest
    outs = []
    for shard in ("0/2", "1/2"):
        out = tmp_path / f"shard{shard[0]}.json"
        rc = evaluate(["--data", str(data), "--protocol", "native", "--rates", "r1", "r4", "--shard", shard,
                       "--metrics", "psnr", "niqe", "-q", "-o", str(out)])
        assert rc == 0
        outs.append(out)
    s0, s1 = load_results(outs[0]), load_results(outs[1])
    assert set(s0["sequences"]) == {"alpha", "gamma"} and set(s1["sequences"]) == {"beta"}
    pts = s0["sequences"]["alpha"]
    assert [p["quality_param"] for p in pts] == ["r1", "r4"]
    assert pts[0]["bpp"] < pts[1]["bpp"] and pts[0]["metrics"]["psnr"] < pts[1]["metrics"]["psnr"]
    assert pts[0]["bits_total"] == pytest.approx(pts[0]["bpp"] * 6 * 96 * 192)
    assert s0["codec"] == "actdiff-warp" and s0["config"]["rates"]["r1"]
    assert (tmp_path / "shard0.json.config.yaml").is_file()
    merged = tmp_path / "all.json"
    assert evaluate(["--merge", str(outs[0]), str(outs[1]), "-o", str(merged)]) == 0
    assert set(load_results(merged)["sequences"]) == {"alpha", "beta", "gamma"}
    assert set(load_results(merged)["source"]) == {"alpha", "beta", "gamma"}  # the sources' own NIQE, merged
    assert [p["shard"] for p in load_results(merged)["merged_from"]] == ["0/2", "1/2"]
    assert evaluate(["--merge", str(outs[1]), "-o", str(tmp_path / "half.json")]) == 2   # shard 0/2 missing
    assert not (tmp_path / "half.json").exists()
    # refuses to overwrite; a bad override is a one-line error
    assert evaluate(["--data", str(data), "-o", str(merged)]) == 2
    assert evaluate(["--data", str(data), "-o", str(tmp_path / "x.json"), "codec.nope=1"]) == 2


def test_evaluate_real_pipeline(tmp_path):
    data = write_clip_folder(tmp_path / "clips", names=("alpha",), t=6, h=64, w=96)
    out = tmp_path / "actdiff.json"
    rc = evaluate(["--data", str(data), "--protocol", "native", "--rates", "r1", "r4", "--metrics", "psnr",
                   "-q", "-o", str(out)])
    assert rc == 0
    res = load_results(out)
    pts = res["sequences"]["alpha"]
    assert len(pts) == 2 and all(p["bpp"] > 0 for p in pts)
    assert pts[0]["bpp"] < pts[1]["bpp"]
    assert pts[0]["frames"] == 6 and pts[0]["metrics"]["psnr"] > 10
    json.dumps(res)


def test_evaluate_writes_progress_beside_the_output_not_into_it(tmp_path):
    """A failing sequence after a finished one: no OUT, the finished one readable in OUT.partial."""
    from _eval_helpers import write_clip_folder

    from actdiff.commands.evaluate import main as evaluate
    from actdiff.evaluation.results import load_results

    data = write_clip_folder(tmp_path / "clips", names=("alpha", "beta"))
    (data / "beta.mkv").write_bytes(b"\x1a\x45\xdf\xa3 truncated")
    out = tmp_path / "e.json"
    args = ["--data", str(data), "--protocol", "native", "--rates", "r0", "--metrics", "psnr",
            "-o", str(out), "-q"]
    assert evaluate(args) != 0
    assert not out.exists() and not (tmp_path / "e.json.config.yaml").exists()
    assert list(load_results(tmp_path / "e.json.partial")["sequences"]) == ["alpha"]
    # an earlier results pair survives a failed --overwrite run unchanged: the config is written with the results
    out.write_text("{}")
    (tmp_path / "e.json.config.yaml").write_text("earlier: run\n")
    assert evaluate(args + ["--overwrite", "codec.seed=7"]) != 0
    assert out.read_text() == "{}" and (tmp_path / "e.json.config.yaml").read_text() == "earlier: run\n"


def test_encode_at_point_uses_the_rate_point():
    from actdiff.types import Video

    video = Video(frames=moving_texture(t=8, h=64, w=96), fps=25.0)
    low, high = encode_at_point(video, "r0"), encode_at_point(video, "r4")
    assert 0 < low.stats["bpp"] < high.stats["bpp"]
    with pytest.raises(ConfigError, match="unknown rate point"):
        encode_at_point(video, "r9", {"r0": []})


def test_training_streams_read_each_training_clip_once_and_code_every_point(monkeypatch):
    """``training_streams``: the ``train_clips`` dataset, each file read once at the cpu protocol's
    crop, then coded at each rate point (the experiments on training files share it)."""
    from types import SimpleNamespace

    from actdiff.evaluation import rates

    reads, asked = [], []
    video = Video(frames=moving_texture(t=6, h=64, w=96), fps=25.0)

    def fake_dataset(name, sequences):
        asked.append((name, list(sequences)))
        return [SimpleNamespace(name=s, path=f"/clips/{s}.mp4") for s in sequences]

    def fake_read(path, **kw):
        reads.append((path, kw))
        return video

    monkeypatch.setattr(rates, "load_dataset", fake_dataset)
    monkeypatch.setattr(rates, "read_video", fake_read)
    got = list(rates.training_streams(["a", "b"], ["r0", "r4"], max_frames=6))
    assert asked == [("train_clips", ["a", "b"])]
    assert reads == [(f"/clips/{s}.mp4", {"max_frames": 6, "size": (256, 384), "resize_mode": "crop"}) for s in "ab"]
    assert [(n, p) for n, _, p, _ in got] == [("a", "r0"), ("a", "r4"), ("b", "r0"), ("b", "r4")]
    np.testing.assert_array_equal(got[0][1], video.frames)
    assert got[0][3].stats["bpp"] < got[1][3].stats["bpp"]  # r0 codes fewer bits than r4


def test_evaluate_reads_each_clip_into_the_buffer_the_encoder_pads(tmp_path, monkeypatch):
    """A clip whose size is no multiple of ``codec.pad_multiple`` is read padded, so the encoder pads it
    in place (one copy of the clip, as ``actdiff encode``); the scores compare the shown frames."""
    from actdiff.evaluation import runner
    from actdiff.io.geometry import padded_buffer

    seen = []

    def encode(video, cfg):
        seen.append(padded_buffer(video.frames, 12, 6) is not None)   # 52x90 → 64x96
        return _fake_encode(video, cfg)

    monkeypatch.setattr(runner, "encode_point", encode)
    monkeypatch.setattr(runner, "decode_video", _fake_decode)
    data = write_clip_folder(tmp_path / "clips", names=("alpha",), t=4, h=52, w=90)
    out = tmp_path / "e.json"
    assert evaluate(["--data", str(data), "--protocol", "native", "--rates", "r1", "--metrics", "psnr", "-q",
                     "-o", str(out)]) == 0
    assert seen == [True]
    assert load_results(out)["sequences"]["alpha"][0]["height"] == 52
    import actdiff  # the API's dataset path reads the same way

    res = actdiff.evaluate(str(data), rates=["r1"], metrics=["psnr"], protocol="native")
    assert seen == [True, True] and res["sequences"]["alpha"][0]["width"] == 90


def test_padded_read_needs_one_pad_multiple_for_every_point():
    from omegaconf import OmegaConf

    from actdiff.evaluation.runner import padded_read

    cfg = {k: OmegaConf.create({"codec": {"pad_multiple": m}}) for k, m in (("r1", 16), ("r2", 16))}
    assert padded_read(cfg) == {"pad_multiple": 16}
    cfg["r3"] = OmegaConf.create({"codec": {"pad_multiple": 64}})
    assert padded_read(cfg) is None   # each point would pad to its own size: read plainly
