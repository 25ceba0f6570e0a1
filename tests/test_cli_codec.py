"""The encode/decode CLI contract: outputs, stats JSON, one-line errors, no partial outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _cli import one_error_line
from conftest import moving_texture

from actdiff import cli
from actdiff.commands import decode, encode
from actdiff.io import read_video, write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.mkv"
    write_video(path, moving_texture(10, 64, 96), 25.0)
    return path


@pytest.fixture(scope="module")
def encoded(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("enc")
    adv, stats = out / "clip.adv", out / "clip.json"
    assert encode.main([str(clip), "-o", str(adv), "--stats", str(stats)]) == 0
    return adv, json.loads(stats.read_text())



def test_help_lists_every_verb(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("encode", "decode", "fit", "evaluate", "bench", "bdrate", "plot", "sweep", "demo"):
        assert f"  {verb}" in out


def test_stats_json_contract(encoded):
    adv, stats = encoded
    for key in ("bpp", "bits_total", "bits", "frames", "height", "width", "keyframes", "trajectories",
                "encode_seconds", "config"):
        assert key in stats
    assert set(stats["bits"]) == {"header", "keyframes", "trajectories"}
    assert stats["bits_total"] == 8 * adv.stat().st_size


@pytest.mark.parametrize("suffix", ["", ".y4m", ".mkv"])
def test_decode_to_each_output_kind(encoded, tmp_path, suffix, capsys):
    adv, stats = encoded
    out = tmp_path / f"dec{suffix}"
    assert decode.main([str(adv), "-o", str(out)]) == 0
    frames = read_video(out).frames
    assert frames.shape == (stats["frames"], stats["height"], stats["width"], 3)


def test_png_folder_and_y4m_inputs(tmp_path):
    frames = moving_texture(5, 48, 64)
    for name in ("frames", "clip.y4m"):
        write_video(tmp_path / name, frames, 25.0)
        assert encode.main([str(tmp_path / name), "-o", str(tmp_path / f"{name}.adv")]) == 0


def test_a_full_range_y4m_is_read_by_its_tag(tmp_path):
    """ActDiff writes y4m in full range with ffmpeg's tag; encoding such a file reads it so (the CLI
    forced limited range on every y4m before: a 250 grey came back as 255, contrast stretched)."""
    frames = np.full((2, 64, 64, 3), 250, np.uint8)
    frames[:, :, :32] = 40
    write_video(tmp_path / "full.y4m", frames, 25.0)
    assert encode.main([str(tmp_path / "full.y4m"), "-o", str(tmp_path / "f.adv")]) == 0
    assert decode.main([str(tmp_path / "f.adv"), "-o", str(tmp_path / "f.mkv")]) == 0
    back = read_video(tmp_path / "f.mkv").frames.astype(float)
    assert abs(back[:, 16:48, 40:56].mean() - 250) < 2 and abs(back[:, 16:48, 8:24].mean() - 40) < 2


def test_png_folder_frame_rate_from_fps(tmp_path):
    write_video(tmp_path / "frames", moving_texture(3, 48, 64), 25.0)
    stats = tmp_path / "s.json"
    assert encode.main([str(tmp_path / "frames"), "-o", str(tmp_path / "p.adv"), "--fps", "10",
                        "--stats", str(stats)]) == 0
    assert json.loads(stats.read_text())["fps"] == 10.0


@pytest.mark.parametrize("opt,words", [(["--yuv-size", "64x48"], "--yuv-size is for raw .yuv"),
                                       (["--yuv-format", "yuv420p10le"], "--yuv-format is for raw .yuv"),
                                       (["--yuv-range", "full"], "--yuv-range is for raw .yuv and .y4m"),
                                       (["--fps", "10"], "stores its own frame rate"),
                                       (["--tolerance", "0.05"], "give --target-bpp too")])
def test_options_that_do_not_apply_to_the_input_are_refused(clip, tmp_path, capsys, opt, words):
    out = tmp_path / "o.adv"
    assert encode.main([str(clip), "-o", str(out), *opt]) == 2
    assert words in one_error_line(capsys) and not out.exists()


def test_frames_and_size_options(clip, tmp_path):
    stats = tmp_path / "s.json"
    assert encode.main([str(clip), "-o", str(tmp_path / "a.adv"), "--frames", "4", "--size", "64x48",  # WxH
                        "--stats", str(stats)]) == 0
    s = json.loads(stats.read_text())
    assert (s["frames"], s["height"], s["width"]) == (4, 48, 64)


def test_overrides_and_print_config(capsys):
    assert encode.main(["--print-config", "codec.keyframe_codec.quality=55"]) == 0
    assert "quality: 55" in capsys.readouterr().out
    assert encode.main(["--print-config", "codec.no_such_key=1"]) == 2
    assert "unknown config key" in one_error_line(capsys)
    # the values printed are checked as an encode checks them (they were printed, exit 0)
    assert encode.main(["--print-config", "codec.seed=abc"]) == 2
    printed = capsys.readouterr()
    assert printed.err.startswith("error: codec.seed") and printed.out == ""
    assert encode.main(["--print-config", "--size", "0x0"]) == 2
    assert "size '0x0'" in one_error_line(capsys)


def test_existing_output_is_not_overwritten(clip, tmp_path, capsys):
    adv = tmp_path / "x.adv"
    adv.write_bytes(b"precious")
    assert encode.main([str(clip), "-o", str(adv)]) == 2
    assert "exists" in one_error_line(capsys)
    assert adv.read_bytes() == b"precious"
    assert encode.main([str(clip), "-o", str(adv), "--overwrite"]) == 0
    assert adv.read_bytes() != b"precious"


def test_missing_input(tmp_path, capsys):
    assert encode.main([str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o.adv")]) == 2
    one_error_line(capsys)
    assert not (tmp_path / "o.adv").exists()


@pytest.mark.parametrize("what,words", [("missing", "no such file"), ("folder", "it is a folder"),
                                        ("device", "not a regular file")])
def test_decode_and_info_say_why_the_stream_cannot_be_read(tmp_path, capsys, what, words):
    """``/dev/null`` was reported as missing."""
    from actdiff.commands import info

    path = {"missing": tmp_path / "nope.adv", "folder": tmp_path, "device": "/dev/null"}[what]
    assert decode.main([str(path), "-o", str(tmp_path / "o.y4m")]) == 2
    assert one_error_line(capsys) == f"error: cannot read {path}: {words}" and not (tmp_path / "o.y4m").exists()
    if what != "folder":  # info describes a weights folder
        assert info.main([str(path)]) == 2
        assert one_error_line(capsys) == f"error: cannot read {path}: {words}"


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "empty"])
def test_damaged_files_give_one_line_and_no_output(encoded, tmp_path, damage, capsys):
    data = bytearray(encoded[0].read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x5A
    elif damage == "foreign":
        data = bytearray(b"\x1aE\xdf\xa3" + bytes(100))
    else:
        data = bytearray()
    bad = tmp_path / "bad.adv"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.y4m"
    assert decode.main([str(bad), "-o", str(out)]) == 2
    one_error_line(capsys)
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))  # no temporary left over


def test_unknown_decoder(encoded, tmp_path, capsys):
    assert decode.main([str(encoded[0]), "-o", str(tmp_path / "o"), "--decoder", "magic"]) == 2
    assert "unknown decoder 'magic' (known: diffusion, warp)" in one_error_line(capsys)


def test_decode_twice_identical(encoded, tmp_path):
    for name in ("a", "b"):
        assert decode.main([str(encoded[0]), "-o", str(tmp_path / f"{name}.mkv")]) == 0
    np.testing.assert_array_equal(read_video(tmp_path / "a.mkv").frames, read_video(tmp_path / "b.mkv").frames)


@pytest.mark.parametrize("opt", [["--temporal-blend", "1.5"], ["--noise-mode", "swirl"], ["--strength", "0"],
                                 ["--steps", "0"], ["--steps", "-2"],
                                 ["--base", "cross-fade"], ["--detail-mix", "1.5"], ["--residual-from", "middle"],
                                 ["--residual-scale", "2"]])
def test_bad_diffusion_options_one_line(encoded, tmp_path, capsys, opt):
    out = tmp_path / "o.mkv"
    assert decode.main([str(encoded[0]), "-o", str(out), "--decoder", "diffusion", *opt]) == 2
    assert opt[0].lstrip("-").replace("-", "_").split("_")[0] in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("opt,words", [
    (["--residual-from", "keyframes", "--temporal-blend", "0.5"], "temporal_blend 0.5: not used with residual_from"),
    (["--residual-from", "ends", "--temporal-blend", "0.5"], "temporal_blend 0.5: not used with residual_from 'ends'"),
    (["--residual-from", "keyframes", "--noise-mode", "warped"], "noise_mode 'warped': not used"),
    (["--base", "prediction", "--detail-mix", "0.3"], "detail_mix acts on the 'detail' base only (here: prediction)"),
])
def test_diffusion_options_the_decode_would_not_use_are_refused(encoded, tmp_path, capsys, opt, words):
    """An option the chosen mode does not use is an error before decoding, not silently dropped."""
    out = tmp_path / "o.mkv"
    assert decode.main([str(encoded[0]), "-o", str(out), "--decoder", "diffusion", *opt]) == 2
    assert words in one_error_line(capsys) and not out.exists()


@pytest.mark.parametrize("opt,flag", [(["--weights", "w"], "--weights"), (["--steps", "4"], "--steps"),
                                      (["--depth-model", "d"], "--depth-model")])
def test_diffusion_options_for_the_warp_decoder_refused(encoded, tmp_path, capsys, opt, flag):
    """A diffusion option with the (default) warp decoder is an error, never silently ignored."""
    out = tmp_path / "o.mkv"
    assert decode.main([str(encoded[0]), "-o", str(out), *opt]) == 2
    line = one_error_line(capsys)
    assert flag in line and "--decoder diffusion" in line and not out.exists()


def test_the_video_decoders_depth_option_with_the_frame_decoder_refused(encoded, tmp_path, capsys):
    """``--depth-model`` acts on a segment-level video model's tracking video; with the default
    frame-by-frame weights it is an error, never silently ignored."""
    out = tmp_path / "o.mkv"
    assert decode.main([str(encoded[0]), "-o", str(out), "--decoder", "diffusion", "--depth-model", "d"]) == 2
    assert "frame-by-frame diffusion decoder: depth" in one_error_line(capsys) and not out.exists()


def test_decode_says_which_model_and_sampling(encoded, tmp_path, capsys):
    out = tmp_path / "d.mkv"
    assert decode.main([str(encoded[0]), "-o", str(out), "--decoder", "diffusion", "--steps", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert "ControlledDenoiser" in line and "1 steps, strength 0.5, temporal blend 0.95" in line  # shipped defaults
    # what the residual is added to: shipped; the stream's per-segment choice wins where sent
    assert ("temporal blend 0.95, base detail, detail mix 0.5 (the stream's per segment where sent), "
            "residual band fine, coarse scale locked to the base)") in line
    assert decode.main([str(encoded[0]), "-o", str(tmp_path / "m.mkv"), "--decoder", "diffusion", "--steps", "1",
                        "--detail-mix", "0.25"]) == 0
    assert "base detail, detail mix 0.25, residual band fine, coarse" in capsys.readouterr().out  # the option is used
    assert decode.main([str(encoded[0]), "-o", str(tmp_path / "n.mkv"), "--decoder", "diffusion", "--steps", "1",
                        "--no-coarse-lock"]) == 0
    assert "residual band fine)" in capsys.readouterr().out  # the shipped lock turned off
    assert decode.main([str(encoded[0]), "-o", str(tmp_path / "e.mkv"), "--decoder", "diffusion", "--steps", "1",
                        "--residual-from", "ends", "--residual-scale", "0.3"]) == 0
    line = capsys.readouterr().out
    assert "residual from the segment's ends, residual scale 0.3, coarse" in line and "temporal blend" not in line
    assert decode.main([str(encoded[0]), "-o", str(tmp_path / "w.mkv"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["decoder_settings"]["prediction"] == "select" and "steps" not in summary["decoder_settings"]


@pytest.mark.parametrize("verb", ["decode", "info"])
def test_a_video_given_as_a_stream_says_how_to_encode_it(clip, tmp_path, capsys, verb):
    argv = [str(clip), "-o", str(tmp_path / "o.mkv")] if verb == "decode" else [str(clip)]
    assert cli.main([verb, *argv]) == 2
    assert f"{clip} is not an ActDiff stream but a video by its name (`actdiff encode" in one_error_line(capsys)
    garbage = tmp_path / "g.adv"
    garbage.write_bytes(b"not a stream")
    assert cli.main([verb, str(garbage)] + (["-o", str(tmp_path / "p.mkv")] if verb == "decode" else [])) == 2
    assert "bad magic: not an ActDiff file" in one_error_line(capsys)
