"""Raw ``.yuv`` and ``.y4m`` in other layouts than 8-bit 4:2:0: 10/12/16 bits a sample, 4:4:4
(the 10-bit UVG and HEVC sequences), read right, or refused in one line when the layout named is
plainly not the file's; raw ``.yuv`` written (``actdiff decode -o OUT.yuv``) as it is read."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import moving_texture

from actdiff.commands import decode, encode
from actdiff.data import load_dataset
from actdiff.errors import ConfigError, InputError, OutputError
from actdiff.io import read_video, rgb_to_yuv, video_info, write_video
from actdiff.io.rawyuv import pix_fmt_from_name


def write_raw(path: Path, planes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Path:
    """Frames of ``(Y, U, V)`` planes, each plane's samples in its dtype (``<u2`` for > 8 bits)."""
    with open(path, "wb") as f:
        for frame in planes:
            f.write(b"".join(np.ascontiguousarray(p).tobytes() for p in frame))
    return path


def random_planes(rng, t: int, h: int, w: int, depth: int, chroma: str):
    """Limited-range samples of ``depth`` bits, 4:4:4 or 4:2:0."""
    k = 1 << (depth - 8)
    dtype = np.uint8 if depth == 8 else np.dtype("<u2")
    ch, cw = (h, w) if chroma == "444" else ((h + 1) // 2, (w + 1) // 2)
    return [(rng.integers(16 * k, 235 * k + 1, (h, w)).astype(dtype),
             rng.integers(16 * k, 240 * k + 1, (ch, cw)).astype(dtype),
             rng.integers(16 * k, 240 * k + 1, (ch, cw)).astype(dtype)) for _ in range(t)]


def as_10bit(frames: np.ndarray) -> list:
    """RGB frames as limited-range BT.709 4:2:0 planes, 8-bit then times 4 (the same values in 10 bits)."""
    return [tuple(p.astype("<u2") * 4 for p in rgb_to_yuv(f, "bt709", "limited", "420")) for f in frames]


@pytest.mark.parametrize("pix_fmt,depth", [("yuv444p10le", 10), ("yuv444p12le", 12), ("yuv444p", 8)])
@pytest.mark.parametrize("matrix,colorspace", [("bt601", "ITU601"), ("bt709", "ITU709")])
def test_raw_444_matches_ffmpeg(tmp_path, pix_fmt, depth, matrix, colorspace):
    """FFmpeg (swscale through PyAV) reads the same file to within one grey level of ours."""
    h, w = 36, 50
    path = write_raw(tmp_path / "clip.yuv", random_planes(np.random.default_rng(depth), 2, h, w, depth, "444"))
    ours = read_video(path, yuv_size=(w, h), yuv_fps=25, yuv_format=pix_fmt, yuv_matrix=matrix, min_size=16).frames
    with av.open(str(path), format="rawvideo",
                 options={"video_size": f"{w}x{h}", "pixel_format": pix_fmt, "framerate": "25"}) as c:
        ref = [f.reformat(format="rgb24", src_colorspace=colorspace, dst_colorspace=colorspace).to_ndarray()
               for f in c.decode(video=0)]
    diff = np.abs(np.stack(ref).astype(int) - ours.astype(int))
    assert ours.shape == (2, h, w, 3) and diff.max() <= 1 and diff.mean() < 0.05


def test_10bit_420_equals_the_8bit_file_it_was_made_from(tmp_path):
    frames = moving_texture(3, 40, 56)
    eight = [rgb_to_yuv(f, "bt709", "limited", "420") for f in frames]
    a = read_video(write_raw(tmp_path / "a.yuv", eight), yuv_size=(56, 40), yuv_fps=25, min_size=16).frames
    b = read_video(write_raw(tmp_path / "b.yuv", as_10bit(frames)), yuv_size=(56, 40), yuv_fps=25,
                   yuv_format="yuv420p10le", min_size=16).frames
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - frames.astype(int)).mean() < 3   # and both are the picture


def test_full_range_10bit(tmp_path):
    """Full range at 10 bits is 0…1023 with chroma centred on 512 (H.273), not 8-bit values times 4."""
    y = np.array([[0, 1000, 1020, 600]] * 4, "<u2")
    c = np.full((2, 2), 512, "<u2")
    path = write_raw(tmp_path / "g.yuv", [(y, c, c)])
    rgb = read_video(path, yuv_size=(4, 4), yuv_fps=25, yuv_range="full", yuv_format="yuv420p10le", min_size=4).frames
    np.testing.assert_array_equal(rgb[0, 0, :, 0], [0, 249, 254, 150])   # 1020 is not 255
    assert (rgb[0, 0, :, 0:1] == rgb[0, 0, :, 1:]).all()   # grey


def test_y4m_high_bit_depth_and_mono(tmp_path):
    planes = random_planes(np.random.default_rng(1), 2, 24, 30, 10, "420")
    raw = read_video(write_raw(tmp_path / "c.yuv", planes), yuv_size=(30, 24), yuv_fps=25,
                     yuv_format="yuv420p10le", yuv_matrix="bt601", min_size=16).frames
    y4m = tmp_path / "c.y4m"
    with open(y4m, "wb") as f:
        f.write(b"YUV4MPEG2 W30 H24 F25:1 Ip A1:1 C420p10 XYSCSS=420P10\n")
        for frame in planes:
            f.write(b"FRAME\n" + b"".join(p.tobytes() for p in frame))
    assert video_info(y4m).num_frames == 2
    np.testing.assert_array_equal(read_video(y4m, min_size=16).frames, raw)   # y4m's default: BT.601 limited
    mono = tmp_path / "m.y4m"
    mono.write_bytes(b"YUV4MPEG2 W30 H24 F25:1 Cmono12\nFRAME\n" + (planes[0][0].astype("<u2") * 4).tobytes())
    grey = read_video(mono, min_size=16).frames[0]
    assert (grey[..., 0] == grey[..., 2]).all() and np.abs(grey[..., 0] - raw[0].mean(-1)).mean() < 40


def test_12bit_samples_read_as_8bit_are_refused_and_a_dark_8bit_frame_is_not(tmp_path):
    """12-bit samples read byte by byte have high bytes up to 15; an 8-bit frame whose samples are
    all below 16 (dark, full range) is still read, as its low bytes do not look like a 12-bit
    sample's low bytes."""
    from actdiff.io.planar import looks_wider

    twelve = write_raw(tmp_path / "twelve.yuv", [tuple(p * 4 for p in f) for f in as_10bit(moving_texture(2, 40, 56))])
    with pytest.raises(InputError, match="looks like 16-bit samples.*yuv420p12le"):
        read_video(twelve, yuv_size=(56, 40), yuv_fps=25, min_size=16)
    rng = np.random.default_rng(5)
    dark = rng.integers(0, 16, (2, 40, 56)).astype(np.uint8)
    dark[:, 3, 4] = 200   # one bright sample at an even position
    path = write_raw(tmp_path / "dark.yuv", [(d, np.full((20, 28), 128, np.uint8), np.full((20, 28), 128, np.uint8))
                                            for d in dark])
    assert read_video(path, yuv_size=(56, 40), yuv_fps=25, yuv_range="full", min_size=16).frames.shape[0] == 2
    assert not looks_wider(dark[0])


def test_y4m_unsupported_layouts_are_one_line(tmp_path):
    for cs in ("422p10", "420p7", "420p17"):
        bad = tmp_path / f"{cs}.y4m"
        bad.write_bytes(f"YUV4MPEG2 W8 H8 F25:1 C{cs}\n".encode())
        with pytest.raises(InputError, match="unsupported y4m colour space"):
            video_info(bad)


def test_a_layout_that_is_plainly_wrong_is_refused(tmp_path):
    frames = moving_texture(3, 40, 56)
    ten = write_raw(tmp_path / "ten.yuv", as_10bit(frames))
    with pytest.raises(InputError, match="looks like 16-bit samples.*yuv420p10le"):
        read_video(ten, yuv_size=(56, 40), yuv_fps=25, min_size=16)   # read as 8-bit: garbage, twice the frames
    eight = write_raw(tmp_path / "eight.yuv", [rgb_to_yuv(f, "bt709", "limited", "420") for f in frames] * 2)
    with pytest.raises(InputError, match="above 1023.*yuv420p10le"):
        video_info(eight, yuv_size=(56, 40), yuv_fps=25, yuv_format="yuv420p10le")
    with pytest.raises(ConfigError, match="unknown yuv_format 'yuv422p'"):
        read_video(ten, yuv_size=(56, 40), yuv_fps=25, yuv_format="yuv422p")
    with pytest.raises(InputError, match="yuv444p10le frames"):
        video_info(ten, yuv_size=(56, 40), yuv_fps=25, yuv_format="yuv444p10le")   # size is no multiple


@pytest.mark.parametrize("name,fmt", [
    ("Beauty_1920x1080_120fps_420_8bit_YUV.yuv", "yuv420p"),
    ("Beauty_1920x1080_120fps_420_10bit_YUV.yuv", "yuv420p10le"),
    ("videoSRC01_1920x1080_30.yuv", "yuv420p"),
    ("Nebuta_2560x1600_60_10bit_crop.yuv", "yuv420p10le"),
    ("clip_444x420_25_444_12bit.yuv", "yuv444p12le"),   # the size's digits are not the layout
    ("a_420x240_30.yuv", "yuv420p"),
])
def test_layout_from_a_file_name(name, fmt):
    assert pix_fmt_from_name(name) == fmt


def test_a_layout_not_read_is_named(tmp_path):
    with pytest.raises(InputError, match="yuv422p10le, which is not read"):
        pix_fmt_from_name("x_1920x1080_30_422_10bit.yuv")


def test_folder_dataset_reads_a_10bit_file_by_its_name(tmp_path):
    frames = moving_texture(3, 40, 56)
    write_raw(tmp_path / "clip_56x40_25_10bit.yuv", as_10bit(frames))
    ds = load_dataset({"name": "d", "root": str(tmp_path), "format": "auto"})
    seq = ds["clip_56x40_25_10bit"]
    assert seq.format == "yuv420p10le" and seq.info().num_frames == 3
    eight = [rgb_to_yuv(f, "bt709", "limited", "420") for f in frames]
    ref = read_video(write_raw(tmp_path.parent / "ref.yuv", eight), yuv_size=(56, 40), yuv_fps=25, min_size=16)
    np.testing.assert_array_equal(seq.read(None, min_size=16).frames, ref.frames)


def test_dataset_config_with_a_10bit_format_and_a_bad_one(tmp_path):
    frames = moving_texture(2, 40, 56)
    write_raw(tmp_path / "s.yuv", as_10bit(frames))
    cfg = {"name": "d", "root": str(tmp_path), "format": "yuv420p10le", "width": 56, "height": 40,
           "sequences": [{"name": "s", "file": "s.yuv", "fps": 25}]}
    assert load_dataset(cfg)["s"].info().num_frames == 2
    with pytest.raises(ConfigError, match="unknown format 'yuv420p10'"):
        load_dataset({**cfg, "sequences": [{"name": "s", "file": "s.yuv", "fps": 25, "format": "yuv420p10"}]})


def test_encode_takes_size_rate_and_layout_from_the_name(tmp_path, capsys):
    """``actdiff encode`` of a 10-bit file named as UVG names them codes the very stream of the
    8-bit file it was made from, given by options."""
    frames = moving_texture(3, 48, 64)
    ten = write_raw(tmp_path / "clip_64x48_25fps_420_10bit.yuv", as_10bit(frames))
    eight = write_raw(tmp_path / "eight.yuv", [rgb_to_yuv(f, "bt709", "limited", "420") for f in frames])
    assert encode.main([str(ten), "-o", str(tmp_path / "a.adv"), "--stats", str(tmp_path / "a.json")]) == 0
    assert "read as 64x48, 25 fps, yuv420p10le (from its name" in capsys.readouterr().err
    assert encode.main([str(eight), "-o", str(tmp_path / "b.adv"), "--yuv-size", "64x48", "--fps", "25"]) == 0
    assert (tmp_path / "a.adv").read_bytes() == (tmp_path / "b.adv").read_bytes()
    assert json.loads((tmp_path / "a.json").read_text())["frames"] == 3
    assert encode.main([str(ten), "-o", str(tmp_path / "c.adv"), "--yuv-format", "yuv420p"]) == 2
    assert "looks like 16-bit samples" in capsys.readouterr().err
    assert not (tmp_path / "c.adv").exists()


@pytest.mark.parametrize("pix_fmt,tolerance", [("yuv444p10le", 1), ("yuv444p", 2), ("yuv420p10le", None)])
def test_raw_yuv_output_reads_back(tmp_path, pix_fmt, tolerance):
    """``write_video`` to ``.yuv`` writes limited-range BT.709, as the reader takes it by default."""
    frames = moving_texture(3, 40, 56)
    out = write_video(tmp_path / "o.yuv", frames, 25.0, pix_fmt=pix_fmt)
    assert out.stat().st_size == 3 * {"yuv444p10le": 56 * 40 * 6, "yuv444p": 56 * 40 * 3,
                                      "yuv420p10le": 56 * 40 * 3}[pix_fmt]
    back = read_video(out, yuv_size=(56, 40), yuv_fps=25, yuv_format=pix_fmt, min_size=16).frames
    diff = np.abs(back.astype(int) - frames.astype(int))
    if tolerance is not None:
        assert diff.max() <= tolerance
    else:   # 4:2:0 halves the chroma: the same as the 8-bit 4:2:0 reading of the same frames
        eight = write_video(tmp_path / "e.yuv", frames, 25.0)
        ref = read_video(eight, yuv_size=(56, 40), yuv_fps=25, min_size=16).frames
        assert np.abs(back.astype(int) - ref.astype(int)).max() <= 2 and diff.mean() < 3
    with pytest.raises(OutputError, match="bad raw YUV options yuv422p"):
        write_video(tmp_path / "p.yuv", frames, 25.0, pix_fmt="yuv422p")


def test_decode_to_raw_yuv_in_the_layout_its_name_says(tmp_path, capsys):
    frames = moving_texture(3, 48, 64)
    write_video(tmp_path / "c.mkv", frames, 25.0)
    assert encode.main([str(tmp_path / "c.mkv"), "-o", str(tmp_path / "c.adv")]) == 0
    assert decode.main([str(tmp_path / "c.adv"), "-o", str(tmp_path / "ref.mkv")]) == 0
    out = tmp_path / "c_64x48_25_444_10bit.yuv"
    assert decode.main([str(tmp_path / "c.adv"), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["yuv_format"] == "yuv444p10le"
    back = load_dataset({"name": "d", "root": str(tmp_path), "format": "auto"})[out.stem].read(None).frames
    ref = read_video(tmp_path / "ref.mkv").frames
    assert np.abs(back.astype(int) - ref.astype(int)).max() <= 1
    assert decode.main([str(tmp_path / "c.adv"), "-o", str(tmp_path / "d.mkv"), "--yuv-format", "yuv420p"]) == 2
    assert "--yuv-format is for a raw .yuv output only" in capsys.readouterr().err


def test_yuv_psnr_matches_ffmpegs_psnr_filter(tmp_path):
    """``psnr_y``/``psnr_u``/``psnr_v`` are FFmpeg's ``psnr`` filter on the two ``yuv420p`` files
    of the frames (one frame: FFmpeg pools MSE over frames, we average per-frame PSNR);
    ``psnr_yuv`` weights them 6:1:1; identical frames are capped at 100 dB."""
    import re
    import subprocess

    from actdiff.metrics import compute_metrics
    from actdiff.metrics.vmaf import find_ffmpeg

    rng = np.random.default_rng(3)
    ref = moving_texture(1, 40, 56)
    rec = np.clip(ref.astype(int) + rng.integers(-6, 7, ref.shape), 0, 255).astype(np.uint8)
    ours = compute_metrics(ref, rec, ["psnr_y", "psnr_u", "psnr_v", "psnr_yuv"])
    a, b = write_video(tmp_path / "a.yuv", ref, 25.0), write_video(tmp_path / "b.yuv", rec, 25.0)
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "56x40"]
    log = subprocess.run([str(find_ffmpeg()), "-hide_banner", *raw, "-i", str(b), *raw, "-i", str(a),
                          "-lavfi", "psnr", "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    theirs = {k: float(v) for k, v in re.findall(r"\b([yuv]):([0-9.]+)", log)}
    for plane in "yuv":
        assert ours[f"psnr_{plane}"] == pytest.approx(theirs[plane], abs=0.01)
    assert ours["psnr_yuv"] == pytest.approx((6 * theirs["y"] + theirs["u"] + theirs["v"]) / 8, abs=0.01)
    assert compute_metrics(ref, ref, ["psnr_yuv", "psnr_u"]) == {"psnr_yuv": 100.0, "psnr_u": 100.0}


def test_plane_metrics_convert_each_frame_once_and_equal_their_per_image_form(monkeypatch):
    """All four plane metrics in one ``compute_metrics`` call convert each frame of both videos to
    YUV once (DCVC-style tables ask for all four), with the numbers each gives on its own."""
    import actdiff.metrics.yuv as yuv
    from actdiff.metrics import compute_metrics, per_frame

    rng = np.random.default_rng(4)
    ref = moving_texture(3, 32, 48)
    rec = np.clip(ref.astype(int) + rng.integers(-9, 10, ref.shape), 0, 255).astype(np.uint8)
    alone = {n: float(np.minimum(per_frame(n, ref, rec), 100.0).mean()) for n in yuv.YUV_METRICS}
    calls = []
    monkeypatch.setattr(yuv, "rgb_to_yuv", lambda *a: calls.append(1) or rgb_to_yuv(*a))
    together = compute_metrics(ref, rec, list(yuv.YUV_METRICS))
    assert len(calls) == 2 * len(ref)
    assert together == pytest.approx(alone, abs=1e-9)


def test_encode_takes_the_layout_from_a_name_without_a_size(tmp_path, capsys):
    ten = write_raw(tmp_path / "clip_10bit.yuv", as_10bit(moving_texture(2, 48, 64)))
    assert encode.main([str(ten), "-o", str(tmp_path / "a.adv"), "--yuv-size", "64x48", "--fps", "25"]) == 0
    assert "read as yuv420p10le (from its name" in capsys.readouterr().err
