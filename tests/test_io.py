"""Tests of actdiff.io: readers, writers, colour conversion, geometry helpers."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from actdiff.errors import ConfigError, InputError, OutputError
from actdiff.io import (
    crop_to,
    frames_to_tensor,
    pad_to_multiple,
    read_video,
    tensor_to_frames,
    video_info,
    write_video,
)
from actdiff.types import Video


def moving_texture(t: int = 6, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth coloured sinusoids drifting right/down by 1-2 px per frame, plus mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((t, h, w, 3), np.uint8)
    for i in range(t):
        x, y = xx - 2 * i, yy - i
        r = 128 + 90 * np.sin(x / 5.0) * np.cos(y / 7.0)
        g = 128 + 90 * np.sin((x + y) / 9.0)
        b = 128 + 90 * np.cos(x / 11.0 - y / 4.0)
        img = np.stack([r, g, b], -1) + rng.normal(0, 4, (h, w, 3))
        out[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


@pytest.fixture
def frames() -> np.ndarray:
    return moving_texture()


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# --- lossless round trips -------------------------------------------------------------------

@pytest.mark.parametrize("name,codec", [("clip", None), ("clip/", None), ("clip.mkv", "ffv1"),
                                        ("clip.mkv", None), ("clip.mp4", "x264-lossless")])
def test_lossless_round_trip(tmp_path, frames, name, codec):
    out = write_video(tmp_path / name if not name.endswith("/") else str(tmp_path / name), frames, 24.0,
                      codec=codec)
    assert out.exists()
    v = read_video(out)
    assert v.frames.dtype == np.uint8 and v.frames.shape == frames.shape
    np.testing.assert_array_equal(v.frames, frames)
    assert v.fps == pytest.approx(24.0 if out.is_file() else 25.0)  # PNG folders: default 25
    vi = video_info(out)
    assert (vi.num_frames, vi.height, vi.width) == frames.shape[:3]


def test_png_folder_layout_and_natural_order(tmp_path, frames):
    out = write_video(tmp_path / "f", frames, 25)
    assert sorted(os.listdir(out)) == [f"frame_{i:05d}.png" for i in range(len(frames))]
    # natural order: name2 before name10
    d = tmp_path / "nat"
    d.mkdir()
    for i in (10, 2, 1):
        cv2.imwrite(str(d / f"im{i}.png"), np.full((40, 40, 3), i, np.uint8))
    v = read_video(d, fps=12)
    assert [int(f[0, 0, 0]) for f in v.frames] == [1, 2, 10] and v.fps == 12


def test_x264_lossy_is_close_and_tagged(tmp_path, frames):
    out = write_video(tmp_path / "a.mp4", frames, 25, codec="x264", crf=10, pix_fmt="yuv444p")
    v = read_video(out)
    assert v.frames.shape == frames.shape
    mse = np.mean((v.frames.astype(float) - frames) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 32  # noisy 64x48 texture at CRF 10
    import av
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert (int(cc.colorspace), int(cc.color_range), cc.pix_fmt) == (1, 1, "yuv444p")  # BT.709, MPEG


# --- y4m ---------------------------------------------------------------------------------------

def test_y4m_444_round_trip_within_two_levels(tmp_path, frames):
    out = write_video(tmp_path / "a.y4m", frames, 30000 / 1001)
    head = out.read_bytes()[:120].split(b"\n")[0].decode()
    assert head.startswith("YUV4MPEG2 W64 H48 F30000:1001") and "C444" in head
    v = read_video(out)
    err = np.abs(v.frames.astype(int) - frames)
    assert err.max() <= 2 and err.mean() < 0.6
    assert v.fps == pytest.approx(29.97, abs=1e-2)
    assert video_info(out).num_frames == len(frames)


def bt601_limited(y, u, v):
    """Hand-written BT.601 limited-range Y'CbCr → R'G'B' (8-bit), rounded."""
    yy, cb, cr = 1.164383 * (y - 16), u - 128.0, v - 128.0
    r = yy + 1.596027 * cr
    g = yy - 0.391762 * cb - 0.812968 * cr
    b = yy + 2.017232 * cb
    return np.clip(np.rint([r, g, b]), 0, 255).astype(int)


def test_y4m_420_reading_hand_made_file(tmp_path):
    w, h = 64, 48
    y = np.full((h, w), 120, np.uint8)
    y[:, w // 2:] = 200
    u = np.full((h // 2, w // 2), 100, np.uint8)
    v = np.full((h // 2, w // 2), 160, np.uint8)
    p = tmp_path / "hand.y4m"
    p.write_bytes(b"YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n"
                  + 2 * (b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes()))
    vid = read_video(p)  # y4m default: BT.601 limited
    assert vid.frames.shape == (2, h, w, 3) and vid.fps == 25
    np.testing.assert_array_equal(vid.frames[1, 5, 3], bt601_limited(120, 100, 160))
    np.testing.assert_array_equal(vid.frames[0, 40, 60], bt601_limited(200, 100, 160))
    # explicit matrix changes the result
    assert not np.array_equal(read_video(p, yuv_matrix="bt709").frames, vid.frames)


def test_y4m_420_writer_is_readable(tmp_path, frames):
    out = write_video(tmp_path / "a.y4m", frames, 25, y4m_chroma="420")
    assert b"C420jpeg" in out.read_bytes()[:100]
    v = read_video(out)
    assert v.frames.shape == frames.shape
    assert np.abs(v.frames.astype(float) - frames).mean() < 6


# --- raw YUV, hand-computed ------------------------------------------------------------------

def write_yuv(path: Path, ys, us, vs) -> None:
    with open(path, "wb") as f:
        f.writelines(y.tobytes() + u.tobytes() + v.tobytes() for y, u, v in zip(ys, us, vs))


def test_raw_yuv_bt709_limited_hand_computed(tmp_path):
    w, h = 64, 32
    Y, U, V = 100, 90, 170
    p = tmp_path / "x.yuv"
    write_yuv(p, [np.full((h, w), Y, np.uint8)] * 3, [np.full((h // 2, w // 2), U, np.uint8)] * 3,
              [np.full((h // 2, w // 2), V, np.uint8)] * 3)
    vid = read_video(p, yuv_size=(w, h), yuv_fps=50)
    assert vid.frames.shape == (3, h, w, 3) and vid.fps == 50
    # BT.709: Kr = 0.2126, Kb = 0.0722, Kg = 0.7152. Limited: Y' = (Y-16)/219, Pb/Pr = (C-128)/224.
    yn, pb, pr = (Y - 16) / 219, (U - 128) / 224, (V - 128) / 224
    r = yn + 2 * (1 - 0.2126) * pr
    b = yn + 2 * (1 - 0.0722) * pb
    g = (yn - 0.2126 * r - 0.0722 * b) / 0.7152
    expected = np.rint(np.array([r, g, b]) * 255).astype(int)
    # by hand: R = 1.164383*84 + 1.792741*42 = 173.10; G = 97.81 + 0.213249*38 - 0.532909*42 = 83.53;
    # B = 97.81 - 2.112402*38 = 17.54
    assert expected.tolist() == [173, 84, 18]
    np.testing.assert_array_equal(vid.frames[2, 7, 11], expected)
    assert (vid.frames == vid.frames[0, 0, 0]).all()


def test_raw_yuv_full_range_and_nearest_chroma(tmp_path):
    w, h = 64, 32
    y = np.full((h, w), 100, np.uint8)
    u = np.full((h // 2, w // 2), 90, np.uint8)
    v = np.full((h // 2, w // 2), 170, np.uint8)
    u[3, 5] = 200  # one chroma sample covering luma rows 6-7, columns 10-11
    p = tmp_path / "x_64x32_25.yuv"
    write_yuv(p, [y], [u], [v])
    vid = read_video(p, yuv_size=(w, h), yuv_fps=25, yuv_range="full", chroma="nearest")
    # full range BT.709: R = Y + 1.5748 Cr', G = Y - 0.187324 Cb' - 0.468124 Cr', B = Y + 1.8556 Cb'
    assert vid.frames[0, 0, 0].tolist() == [166, 87, 29]  # 100+66.14, 100+7.12-19.66, 100-70.51
    cb = 200 - 128
    exp = np.clip(np.rint([100 + 1.5748 * 42, 100 - 0.187324 * cb - 0.468124 * 42, 100 + 1.8556 * cb]), 0, 255)
    for yx in [(6, 10), (6, 11), (7, 10), (7, 11)]:
        assert vid.frames[0][yx].tolist() == exp.astype(int).tolist()
    assert vid.frames[0, 5, 10].tolist() == [166, 87, 29]
    assert vid.frames[0, 8, 12].tolist() == [166, 87, 29]


# --- bad inputs ------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(InputError) as e:
        read_video(tmp_path / "nope.mp4")
    assert one_line(e).startswith("cannot read video ") and "nope.mp4" in str(e.value)


def test_random_bytes_mp4(tmp_path):
    p = tmp_path / "x.mp4"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError) as e:
        read_video(p)
    assert one_line(e).startswith(f"cannot read video {p}: ")
    with pytest.raises(InputError):
        video_info(p)


def test_truncated_mp4(tmp_path, frames):
    good = write_video(tmp_path / "g.mp4", moving_texture(12), 25, codec="x264")
    data = good.read_bytes()
    bad = tmp_path / "t.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as e:
        read_video(bad)
    one_line(e)


def test_truncated_faststart_mp4_is_not_silently_short(tmp_path):
    """moov first: the truncated file opens, but decoding ends early → error, not a short video."""
    import av
    fr = moving_texture(24, 64, 96)
    good = tmp_path / "fs.mp4"
    with av.open(str(good), "w", format="mp4", options={"movflags": "faststart"}) as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        for f in fr:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    assert read_video(good).num_frames == 24
    bad = tmp_path / "t.mp4"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    with pytest.raises(InputError) as e:
        read_video(bad)
    assert "truncated" in one_line(e)


def test_frames_the_decoder_drops_from_a_complete_mp4_are_a_warning(tmp_path, monkeypatch, caplog):
    """Every packet present but one frame undecodable (as in OpenCV's box.mp4: 455 of 456 decode):
    a warning and the frames decoded, not "truncated"; a start past the index's count is refused
    before decoding."""
    import av

    good = write_video(tmp_path / "g.mp4", moving_texture(12), 25, codec="x264")
    real_decode = av.container.InputContainer.decode

    def drop_last(self, *args, **kwargs):
        frames = list(real_decode(self, *args, **kwargs))
        return iter(frames[:-1])

    monkeypatch.setattr(av.container.InputContainer, "decode", drop_last)
    with caplog.at_level("WARNING", logger="actdiff.io.container"):
        assert read_video(good).num_frames == 11
    assert "decoded 11 of the 12 frames" in caplog.text and "dropped 1" in caplog.text
    with pytest.raises(InputError) as e:
        read_video(good, start=12)
    assert "no frames at or after frame 12" in one_line(e)
    bad = tmp_path / "t.mp4"   # packets missing as well: still an error
    bad.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    with pytest.raises(InputError):
        read_video(bad)


def test_empty_png_folder_and_start_beyond_end(tmp_path, frames):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as e:
        read_video(tmp_path / "empty")
    assert "no image frames" in one_line(e)
    out = write_video(tmp_path / "c.mkv", frames, 25)
    with pytest.raises(InputError) as e:
        read_video(out, start=len(frames))
    assert "no frames" in one_line(e)
    with pytest.raises(InputError):
        read_video(write_video(tmp_path / "d", frames, 25), start=100)


def test_yuv_bad_size_and_missing_size(tmp_path):
    p = tmp_path / "x.yuv"
    p.write_bytes(b"\x80" * (64 * 32 * 3 // 2 * 2 + 7))
    with pytest.raises(InputError) as e:
        read_video(p, yuv_size=(64, 32), yuv_fps=25)
    assert "not a whole number" in one_line(e)
    with pytest.raises(InputError) as e:
        read_video(p, yuv_fps=25)
    assert "size" in one_line(e)


def test_too_small_frames(tmp_path):
    out = write_video(tmp_path / "s", np.zeros((2, 16, 40, 3), np.uint8), 25)
    with pytest.raises(InputError) as e:
        read_video(out)
    assert "minimum 32" in one_line(e)
    assert read_video(out, min_size=8).frames.shape == (2, 16, 40, 3)


def test_truncated_y4m_and_mismatched_png_frames(tmp_path, frames):
    out = write_video(tmp_path / "a.y4m", frames, 25)
    data = out.read_bytes()
    out.write_bytes(data[:-100])
    with pytest.raises(InputError) as e:
        read_video(out)
    assert "truncated" in one_line(e)
    d = write_video(tmp_path / "p", frames, 25)
    cv2.imwrite(str(d / "frame_00003.png"), np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(InputError):
        read_video(d)


def test_bad_options_are_config_errors(tmp_path, frames):
    out = write_video(tmp_path / "a.mkv", frames, 25)
    with pytest.raises(ConfigError):
        read_video(out, resize_mode="stretch")
    with pytest.raises(ConfigError):
        read_video(out, size=(16, 16))


# --- writing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["o", "o.y4m", "o.mkv", "o.mp4"])
def test_no_overwrite_unless_asked(tmp_path, frames, name):
    out = write_video(tmp_path / name, frames, 25)
    with pytest.raises(OutputError) as e:
        write_video(tmp_path / name, frames[:2], 25)
    assert "exists" in one_line(e)
    assert read_video(out).num_frames == len(frames)
    write_video(tmp_path / name, frames[:2], 25, overwrite=True)
    assert read_video(out).num_frames == 2
    assert [p.name for p in tmp_path.iterdir()] == [name]


def _fail_after(n, real):
    calls = {"n": 0}

    def f(*a, **k):
        calls["n"] += 1
        if calls["n"] > n:
            raise RuntimeError("simulated failure")
        return real(*a, **k)
    return f


@pytest.mark.parametrize("name", ["o", "o.y4m", "o.mkv"])
def test_atomic_write_leaves_nothing_on_failure(tmp_path, frames, monkeypatch, name):
    from PIL import Image

    from actdiff.io import container, pngdir, y4m

    monkeypatch.setattr(Image.Image, "save", _fail_after(2, Image.Image.save))
    monkeypatch.setattr(y4m, "rgb_to_yuv", _fail_after(2, y4m.rgb_to_yuv))
    monkeypatch.setattr(container.av.VideoFrame, "from_ndarray",
                        _fail_after(2, container.av.VideoFrame.from_ndarray))
    with pytest.raises(RuntimeError, match="simulated"):
        write_video(tmp_path / name, frames, 25)
    assert list(tmp_path.iterdir()) == []
    assert pngdir  # imported for the patch target's module


def test_failed_overwrite_keeps_old_output(tmp_path, frames, monkeypatch):
    from actdiff.io import y4m
    out = write_video(tmp_path / "a.y4m", frames, 25)
    before = out.read_bytes()
    monkeypatch.setattr(y4m, "rgb_to_yuv", _fail_after(1, y4m.rgb_to_yuv))
    with pytest.raises(RuntimeError):
        write_video(out, frames[:3], 25, overwrite=True)
    assert out.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_writer_refuses_bad_combinations(tmp_path, frames):
    with pytest.raises(OutputError):
        write_video(tmp_path / "a.mp4", frames, 25, codec="ffv1")
    with pytest.raises(OutputError):
        write_video(tmp_path / "a.mp4", moving_texture(2, 33, 40), 25, codec="x264")
    with pytest.raises(OutputError):
        write_video(tmp_path / "a.gif", frames, 25)
    assert list(tmp_path.iterdir()) == []


def test_write_video_accepts_video(tmp_path, frames):
    out = write_video(tmp_path / "v.mkv", Video(frames, 12.5, "x"))
    assert read_video(out).fps == pytest.approx(12.5)


# --- options: resize / crop / start / max_frames ---------------------------------------------

def test_start_and_max_frames(tmp_path):
    fr = moving_texture(10, 40, 48)
    for out in (write_video(tmp_path / "a", fr, 25), write_video(tmp_path / "a.mkv", fr, 25),
                write_video(tmp_path / "a.y4m", fr, 25)):
        v = read_video(out, start=3, max_frames=4)
        assert v.num_frames == 4
        assert np.abs(v.frames.astype(int) - fr[3:7]).max() <= 2
        assert read_video(out, start=8, max_frames=5).num_frames == 2


def test_resize_and_crop(tmp_path):
    fr = moving_texture(2, 60, 120)
    out = write_video(tmp_path / "a", fr, 25)
    v = read_video(out, size=(40, 50), resize_mode="resize")
    assert v.frames.shape == (2, 40, 50, 3)
    np.testing.assert_array_equal(v.frames[0], cv2.resize(fr[0], (50, 40), interpolation=cv2.INTER_AREA))
    c = read_video(out, size=(40, 40), resize_mode="crop")
    assert c.frames.shape == (2, 40, 40, 3)
    ref = cv2.resize(fr[1], (80, 40), interpolation=cv2.INTER_AREA)[:, 20:60]
    np.testing.assert_array_equal(c.frames[1], ref)
    up = read_video(out, size=(90, 90), resize_mode="crop")  # upscaling works too
    assert up.frames.shape == (2, 90, 90, 3)


# --- odd sizes -------------------------------------------------------------------------------

def test_pad_and_crop_odd_size_end_to_end(tmp_path):
    fr = moving_texture(3, 250, 333)
    src = write_video(tmp_path / "odd", fr, 25)
    v = read_video(src)
    padded, (h, w) = pad_to_multiple(v.frames, 16)
    assert padded.shape == (3, 256, 336, 3) and (h, w) == (250, 333)
    np.testing.assert_array_equal(padded[:, 250], padded[:, 248])  # reflect: mirror about row 249
    np.testing.assert_array_equal(padded[:, :, 333], padded[:, :, 331])
    edge, _ = pad_to_multiple(v.frames, 16, mode="edge")
    np.testing.assert_array_equal(edge[:, 255], edge[:, 249])
    back = crop_to(padded, h, w)
    np.testing.assert_array_equal(back, fr)
    out = write_video(tmp_path / "odd.mkv", back, 25)
    np.testing.assert_array_equal(read_video(out).frames, fr)
    same, size = pad_to_multiple(fr[:, :240, :320], 16)
    assert same.shape == (3, 240, 320, 3) and size == (240, 320)
    single, _ = pad_to_multiple(fr[0], 64)
    assert single.shape == (256, 384, 3)


def test_tensor_round_trip(frames):
    t = frames_to_tensor(frames)
    assert tuple(t.shape) == (6, 3, 48, 64) and float(t.min()) >= 0 and float(t.max()) <= 1
    assert float(t[2, 1, 5, 7]) == pytest.approx(frames[2, 5, 7, 1] / 255)
    np.testing.assert_array_equal(tensor_to_frames(t), frames)


def test_container_with_undecodable_metadata_is_read(tmp_path):
    """A file whose metadata holds bytes that are not UTF-8 (seen in a real camera clip) is read."""
    import av

    path = tmp_path / "meta.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["title"] = "x"
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    raw = path.read_bytes()
    at = raw.find(b"\xa9nam")  # the mp4 title atom: put a byte that is invalid UTF-8 into its value
    assert at > 0
    raw = raw[: raw.find(b"x", at)] + b"\xce" + raw[raw.find(b"x", at) + 1:]
    path.write_bytes(raw)
    with pytest.raises(UnicodeDecodeError):
        av.open(str(path)).metadata  # noqa: B018  (PyAV's default: strict)
    assert read_video(path).frames.shape == (3, 48, 64, 3)


@pytest.mark.parametrize("degrees,turns", [(90, 1), (-90, 3), (180, 2)])
def test_rotated_container_is_read_upright_as_ffmpeg_shows_it(tmp_path, degrees, turns):
    """A phone's portrait video is stored landscape with a display rotation: read upright, the
    size from ``video_info`` the upright one, exactly what ``ffmpeg`` (autorotate) decodes."""
    import subprocess

    import av

    from actdiff.metrics.vmaf import find_ffmpeg

    img = moving_texture(1, 48, 64)[0]
    img[:8, :16] = 255   # a corner to tell the turns apart
    path = tmp_path / f"r{degrees}.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264rgb", rate=25)
        s.width, s.height, s.pix_fmt, s.options = 64, 48, "rgb24", {"qp": "0"}
        s.set_display_rotation(degrees)
        for i in range(2):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode())
    upright = np.rot90(img, turns)
    frames = read_video(path).frames
    np.testing.assert_array_equal(frames[1], upright)
    vi = video_info(path)
    assert (vi.num_frames, vi.height, vi.width) == (2, *upright.shape[:2])
    shown = subprocess.run([str(find_ffmpeg()), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                            "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    np.testing.assert_array_equal(np.frombuffer(shown, np.uint8).reshape(upright.shape), frames[0])
