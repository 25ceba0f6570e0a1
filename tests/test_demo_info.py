"""The demo verb (whole codec on the bundled clip) and the info verb."""

from __future__ import annotations

import json

from actdiff.commands import demo, encode, info


def test_demo_prints_a_rate_quality_table(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--frames", "10", "--rates", "r1", "r4"]) == 0
    out = capsys.readouterr().out
    assert "point  decoder" in out and "VMAF-NEG" in out
    assert "NIQE of the source clip itself: " in out
    lines = [ln for ln in out.splitlines() if ln.startswith(("r1 ", "r4 ", "crf"))]
    assert len([ln for ln in lines if " warp " in ln]) == 2
    assert any(" x265 " in ln for ln in lines)
    run = next(tmp_path.iterdir())
    rows = json.loads((run / "results.json").read_text())
    warp = {r["point"]: r for r in rows if r["decoder"] == "warp"}
    assert warp["r1"]["bpp"] < warp["r4"]["bpp"]
    assert warp["r1"]["psnr"] < warp["r4"]["psnr"]
    assert 0 < warp["r1"]["vmaf_neg"] < warp["r4"]["vmaf_neg"] <= 100
    assert (run / "r1.adv").is_file() and (run / "r1.config.yaml").is_file()
    assert (run / "contact.png").read_bytes()[:4] == b"\x89PNG" and "contact sheet" in out  # the pictures
    if not any(r["decoder"] == "diffusion" for r in rows):
        assert "diffusion decoder skipped" in out  # never silently


def test_info_describes_a_file(tmp_path, sample_video, capsys):
    from actdiff.io import write_video

    write_video(tmp_path / "c.mkv", sample_video.frames[:6], 25.0)
    assert encode.main([str(tmp_path / "c.mkv"), "-o", str(tmp_path / "c.adv")]) == 0
    capsys.readouterr()
    assert info.main([str(tmp_path / "c.adv"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["frames"] == 6 and d["bytes"] == (tmp_path / "c.adv").stat().st_size
    assert sum(d["bits"].values()) == 8 * d["bytes"]
    (tmp_path / "junk.adv").write_bytes(b"junk" * 10)
    assert info.main([str(tmp_path / "junk.adv")]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_demo_without_vmaf_ffmpeg_fails_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACTDIFF_FFMPEG", str(tmp_path / "no_ffmpeg"))
    assert demo.main(["--out", str(tmp_path / "out"), "--frames", "4", "--rates", "r1"]) == 2
    assert "ACTDIFF_FFMPEG" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing encoded, no run folder


def test_demo_refuses_bad_rates_or_out_before_the_run_folder(tmp_path, capsys):
    """An unknown rate point left an empty run folder behind; ``--out`` naming a file was a traceback."""
    (tmp_path / "file").write_text("mine")
    for args, words in ((["--out", str(tmp_path / "out"), "--rates", "r9"], "unknown rate point(s) r9"),
                        (["--out", str(tmp_path / "out"), "--rates", "r1", "r1"], "r1 is given twice"),
                        (["--out", str(tmp_path / "file")], "is a file"),
                        (["--out", str(tmp_path / "file" / "below")], "is a file")):
        assert demo.main([*args, "--frames", "3"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "out").exists() and (tmp_path / "file").read_text() == "mine"


def test_info_describes_a_weights_folder(tmp_path, capsys):
    """``actdiff info DIR``: class, parameter count (from the safetensors header), condition layout
    and residual base, without building the model; no config.json or a damaged file: one line."""
    from actdiff.config import load_group
    from actdiff.models import build_model

    cfg = load_group("model", "micro")
    cfg.residual_over_warp, cfg.residual_base = True, "pred"
    model = build_model(cfg)
    folder = tmp_path / "w"
    model.save_pretrained(str(folder), safe_serialization=True)
    assert info.main([str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["class"] == "ControlledDenoiser" and out["dtypes"] == ["F32"]
    assert out["parameters"] == sum(t.numel() for t in model.state_dict().values())
    assert out["config"]["residual_base"] == "pred" and out["config"]["conditioning_channels"] == 23
    assert info.main([str(folder)]) == 0
    assert "residual over: the warp decoder's frame" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(b"\x10\x00junk")
    for bad in (tmp_path / "empty", folder):
        assert info.main([str(bad)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:"), err
