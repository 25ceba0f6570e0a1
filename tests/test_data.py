"""Tests of actdiff.data: dataset descriptions, folder datasets, protocols, the sample clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actdiff.config import compose
from actdiff.data import (
    Protocol,
    load_dataset,
    load_protocol,
    load_sample_clip,
    sample_clip_path,
)
from actdiff.errors import ConfigError, InputError
from actdiff.io import write_video

REPO = Path(__file__).resolve().parent.parent


def texture(t: int, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = [np.stack([128 + 100 * np.sin((xx - 3 * i) / 6), 128 + 100 * np.cos((yy + i) / 8),
                   np.full_like(xx, 60 + 10 * i)], -1) for i in range(t)]
    return np.clip(np.rint(np.stack(f)), 0, 255).astype(np.uint8)


# --- dataset descriptions --------------------------------------------------------------------

def test_uvg_description():
    ds = load_dataset("uvg", check=False)
    assert [s.name for s in ds] == ["Beauty", "Bosphorus", "HoneyBee", "Jockey", "ReadySteadyGo",
                                    "ShakeNDry", "YachtRide"]
    assert {s.name: s.frames for s in ds}["ShakeNDry"] == 300
    assert all(s.frames == 600 for s in ds if s.name != "ShakeNDry")
    assert all((s.fps, s.width, s.height, s.format) == (120, 1920, 1080, "yuv420p") for s in ds)
    assert ds["Beauty"].path.name == "Beauty_1920x1080_120fps_420_8bit_YUV.yuv"
    assert ds[0].color == {"matrix": "bt709", "range": "limited"}
    ten = load_dataset("uvg_10bit", check=False)   # the 10-bit originals: the same sequences
    assert [(s.name, s.frames) for s in ten] == [(s.name, s.frames) for s in ds]
    assert all(s.format == "yuv420p10le" and "_420_10bit_YUV.yuv" in s.path.name for s in ten)
    assert "UVG_BITS=10" in ten.prepare


def test_other_descriptions():
    mcl = load_dataset("mcl_jcv", check=False)
    assert [s.name for s in mcl] == [f"videoSRC{i:02d}" for i in range(1, 31)]
    assert {s.fps for s in mcl} == {24, 25, 30}
    assert all(f"_{s.fps}.yuv" in s.path.name for s in mcl)
    hevc = load_dataset("hevc_b", check=False)
    assert [s.name for s in hevc] == ["Kimono", "ParkScene", "Cactus", "BasketballDrive", "BQTerrace"]
    clips = load_dataset("shared_clips", check=False)
    assert len(clips) == 3 and clips.format == "container"
    assert load_dataset(REPO / "configs" / "data" / "sample.yaml").sequences[0].frames == 48


def test_opencv_samples_description_matches_its_prepare_script(tmp_path):
    """The YAML lists exactly the files experiments/prepare_opencv_samples.sh writes."""
    import re

    ds = load_dataset("opencv_samples", root=tmp_path, check=False)
    assert [s.name for s in ds] == ["vtest", "megamind", "cup", "box"] and ds.format == "container"
    script = (REPO / "experiments" / "prepare_opencv_samples.sh").read_text()
    written = re.findall(r'^  "[^":]+:([^"]+)"$', script, flags=re.MULTILINE)
    assert sorted(written) == sorted(s.path.name for s in ds)
    with pytest.raises(InputError, match="prepare_opencv_samples.sh"):
        load_dataset("opencv_samples", root=tmp_path)


def test_root_override_and_env(tmp_path, monkeypatch):
    assert load_dataset("uvg", root=tmp_path, check=False).root == tmp_path
    monkeypatch.setenv("ACTDIFF_UVG_ROOT", str(tmp_path / "u"))
    assert load_dataset("uvg", check=False)[0].path.parent == tmp_path / "u"


def test_missing_files_name_file_and_prepare_script(tmp_path):
    with pytest.raises(InputError) as e:
        load_dataset("uvg", root=tmp_path / "absent")
    assert "prepare_uvg.sh" in str(e.value) and "absent" in str(e.value)
    with pytest.raises(InputError) as e:
        load_dataset("mcl_jcv", root=tmp_path)
    msg = str(e.value)
    assert "videoSRC01_1920x1080_30.yuv" in msg and "prepare_mcl_jcv.sh" in msg and "\n" not in msg
    seq = load_dataset("uvg", root=tmp_path, check=False)["Jockey"]
    with pytest.raises(InputError, match="Jockey_1920x1080_120fps_420_8bit_YUV.yuv"):
        seq.read("cpu")


def test_raw_yuv_dataset_reads_under_protocol(tmp_path):
    w, h, n = 64, 48, 5
    rng = np.random.default_rng(0)
    (tmp_path / "A_64x48_30.yuv").write_bytes(rng.integers(16, 235, n * w * h * 3 // 2, dtype=np.uint8).tobytes())
    cfg = {"name": "tiny", "root": str(tmp_path), "format": "yuv420p", "width": w, "height": h,
           "color": {"matrix": "bt709", "range": "limited"},
           "sequences": [{"name": "A", "file": "A_64x48_30.yuv", "frames": n, "fps": 30}]}
    ds = load_dataset(cfg)
    v = ds["A"].read({"height": 32, "width": 40, "max_frames": 3, "resize_mode": "resize"})
    assert v.frames.shape == (3, 32, 40, 3) and v.fps == 30
    assert ds["A"].info().num_frames == n
    assert ds["A"].read().frames.shape == (n, h, w, 3)


def test_bad_descriptions(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset"):
        load_dataset("no_such_dataset")
    with pytest.raises(ConfigError, match="unknown dataset key"):
        load_dataset({"name": "x", "root": str(tmp_path), "frmat": "png", "sequences": []})
    with pytest.raises(ConfigError, match="root is not set"):
        load_dataset("folder")
    with pytest.raises(ConfigError, match="no sequence"):
        load_dataset("uvg", sequences=["Beauty", "Nope"], check=False)
    assert [s.name for s in load_dataset("uvg", sequences=["Jockey", "Beauty"], check=False)] == ["Jockey", "Beauty"]


# --- folder datasets -------------------------------------------------------------------------

@pytest.fixture
def video_folder(tmp_path) -> Path:
    root = tmp_path / "videos"
    root.mkdir()
    write_video(root / "clip10.mp4", texture(6, 72, 128), 25, codec="x264")
    write_video(root / "clip2.mkv", texture(4, 60, 80), 30)
    write_video(root / "frames", texture(3, 64, 64), 25)
    (root / "Beauty_64x32_120fps_420_8bit_YUV.yuv").write_bytes(bytes(2 * 64 * 32 * 3 // 2))
    (root / "unnamed.yuv").write_bytes(bytes(100))  # size unknown: skipped with a warning
    (root / "notes.txt").write_text("not a video")
    (root / "empty_dir").mkdir()
    return root


def test_folder_dataset_lists_videos(video_folder):
    ds = load_dataset(video_folder)
    assert [(s.name, s.format) for s in ds] == [
        ("Beauty_64x32_120fps_420_8bit_YUV", "yuv420p"), ("clip2", "container"),
        ("clip10", "container"), ("frames", "png")]
    assert ds[0].fps == 120 and (ds[0].width, ds[0].height) == (64, 32)
    shapes = {s.name: s.read("cpu").frames.shape for s in ds}
    assert shapes["clip10"] == (6, 256, 384, 3) and shapes["frames"] == (3, 256, 384, 3)
    assert ds["clip2"].read("native").frames.shape == (4, 60, 80, 3)
    assert ds["Beauty_64x32_120fps_420_8bit_YUV"].read().frames.shape == (2, 32, 64, 3)


def test_folder_yaml_with_root(video_folder):
    assert len(load_dataset("folder", root=video_folder)) == 4
    cfg = compose(overrides=["data=folder", f"data.root={video_folder}"])
    ds = load_dataset(cfg.data)
    assert ds.name == "folder" and len(ds) == 4


def test_two_sequences_of_one_name_are_refused(video_folder):
    """A frame folder beside a clip of its name (e.g. thumbnails written into the data): results are
    keyed by name, so one sequence would silently replace the other."""
    write_video(video_folder / "clip2", texture(2, 32, 32), 25)
    with pytest.raises(InputError, match="two sequences are named 'clip2'"):
        load_dataset(video_folder)
    with pytest.raises(ConfigError, match="sequences: Jockey is given twice"):
        load_dataset("uvg", sequences=["Jockey", "Beauty", "Jockey"], check=False)


def test_one_video_file_is_a_dataset_of_one_sequence(video_folder, tmp_path):
    """``--data clip.mp4`` was read as a YAML: a UnicodeDecodeError traceback."""
    ds = load_dataset(video_folder / "clip10.mp4")
    assert [(s.name, s.format) for s in ds] == [("clip10", "container")] and ds.name == "clip10"
    assert ds[0].read("cpu").frames.shape == (6, 256, 384, 3)
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match="not a video actdiff can read"):
        load_dataset(tmp_path / "junk.bin")
    (tmp_path / "junk.yaml").write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="is not a text"):
        load_dataset(tmp_path / "junk.yaml")
    with pytest.raises(ConfigError, match="is not a text"):
        compose(str(tmp_path / "junk.yaml"))


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no videos"):
        load_dataset(tmp_path)


# --- protocols -------------------------------------------------------------------------------

def test_protocol_configs():
    cpu = load_protocol("cpu")
    assert (cpu.height, cpu.width, cpu.max_frames, cpu.resize_mode, cpu.start) == (256, 384, 96, "crop", 0)
    paper = load_protocol("paper")
    assert (paper.height, paper.width) == (480, 720)
    native = load_protocol("native")
    assert native.size is None and native.max_frames == 96 and native.fit == "pad"
    assert load_protocol(compose().protocol) == cpu
    assert load_protocol(REPO / "configs" / "protocol" / "paper.yaml") == paper
    assert load_protocol(None).max_frames is None


def test_bad_protocols():
    with pytest.raises(ConfigError, match="unknown protocol"):
        load_protocol("nope")
    with pytest.raises(ConfigError, match="unknown protocol key"):
        load_protocol({"height": 10, "widht": 10})
    with pytest.raises(ConfigError):
        Protocol(height=256, width=None, resize_mode="crop")
    with pytest.raises(ConfigError):
        Protocol(height=256, width=384, resize_mode="none")
    with pytest.raises(ConfigError):
        Protocol(resize_mode="crop")


def test_protocols_on_sample_clip():
    path = sample_clip_path()
    assert load_protocol("cpu").read(path).frames.shape == (48, 256, 384, 3)
    assert load_protocol("paper").read(path).frames.shape == (48, 480, 720, 3)
    assert load_protocol("native").read(path).frames.shape == (48, 256, 384, 3)
    p = Protocol(height=100, width=200, start=40, max_frames=20, resize_mode="crop")
    assert p.read(path).frames.shape == (8, 100, 200, 3)


def test_fit_crop_vs_pad(tmp_path):
    src = write_video(tmp_path / "odd", texture(2, 250, 333), 25)
    assert Protocol(fit="crop").read(src).frames.shape == (2, 240, 320, 3)
    assert Protocol(fit="pad").read(src).frames.shape == (2, 250, 333, 3)


# --- sample clip -----------------------------------------------------------------------------

def test_sample_clip():
    p = sample_clip_path()
    assert p.is_file() and p.stat().st_size < 1_500_000
    assert "actdiff" in p.parts and "assets" in p.parts
    v = load_sample_clip()
    assert v.frames.shape == (48, 256, 384, 3) and v.frames.dtype == np.uint8 and v.fps == 25
    assert load_sample_clip(max_frames=5).frames.shape == (5, 256, 384, 3)
    # it moves: consecutive frames differ, and it is not a flat image
    assert np.abs(np.diff(v.frames[::8].astype(int), axis=0)).mean() > 5
    assert v.frames.std() > 30
    att = (p.parent / "ATTRIBUTION.md").read_text()
    assert "Blender Foundation" in att and "CC-BY 3.0" in att and "make_sample_clip.py" in att


def test_sample_dataset():
    ds = load_dataset("sample")
    assert ds[0].path == sample_clip_path()
    assert ds[0].read("cpu").frames.shape == (48, 256, 384, 3)
