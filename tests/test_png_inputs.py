"""PNG folder inputs of every kind are read correctly or refused: 16-bit (scaled to 8 bits), gray,
palette, 1-bit, alpha (opaque: dropped; transparent: refused), 32-bit/float TIFF (refused)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import moving_texture
from PIL import Image

from actdiff.codec import decode_video
from actdiff.commands import encode
from actdiff.errors import InputError
from actdiff.io import read_video


@pytest.fixture(scope="module")
def frames():
    return moving_texture(4, 48, 64)


def _write(folder, frames, save):
    folder.mkdir()
    for i, f in enumerate(frames):
        save(folder / f"f{i:03d}.png", f)
    return folder


def test_16bit_rgb_png_round_trip(tmp_path, frames):
    """v * 257 (exact 16-bit) reads back as v; through the codec it decodes like the 8-bit folder."""
    def save16(p, f):
        cv2.imwrite(str(p), (f.astype(np.uint16) * 257)[..., ::-1])

    folder = _write(tmp_path / "rgb16", frames, save16)
    assert cv2.imread(str(folder / "f000.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    np.testing.assert_array_equal(read_video(folder).frames, frames)
    # a value that is not a multiple of 257 rounds: 65535 * 100.6 / 255 → 101
    odd = tmp_path / "odd"
    _write(odd, frames[:1], lambda p, f: cv2.imwrite(str(p), np.full((48, 64, 3), 25854, np.uint16)))
    assert (read_video(odd, min_size=8).frames == 101).all()
    adv, adv8 = tmp_path / "a.adv", tmp_path / "b.adv"
    folder8 = _write(tmp_path / "rgb8", frames, lambda p, f: Image.fromarray(f).save(p))
    assert encode.main([str(folder), "-o", str(adv)]) == 0
    assert encode.main([str(folder8), "-o", str(adv8)]) == 0
    assert adv.read_bytes() == adv8.read_bytes()
    rec = decode_video(adv.read_bytes()).frames.astype(float)
    assert 10 * np.log10(255**2 / np.mean((rec - frames) ** 2)) > 20  # not white frames


def test_16bit_gray_and_gray_alpha(tmp_path, frames):
    gray = frames[..., 1]
    folder = _write(tmp_path / "g16", gray, lambda p, g: cv2.imwrite(str(p), g.astype(np.uint16) * 257))
    assert Image.open(folder / "f000.png").mode.startswith("I")  # what Pillow turned into white
    np.testing.assert_array_equal(read_video(folder).frames, np.repeat(gray[..., None], 3, axis=3))
    la = _write(tmp_path / "la16", gray, lambda p, g: cv2.imwrite(
        str(p), np.dstack([g, g, g, np.full_like(g, 255)]).astype(np.uint16) * 257))
    np.testing.assert_array_equal(read_video(la).frames, np.repeat(gray[..., None], 3, axis=3))


@pytest.mark.parametrize("mode", ["L", "P", "1", "RGBA", "LA"])
def test_8bit_modes(tmp_path, frames, mode):
    def save(p, f):
        im = Image.fromarray(f)
        im.convert(mode).save(p)  # RGBA, LA: alpha 255 everywhere

    folder = _write(tmp_path / mode, frames, save)
    want = np.stack([np.asarray(Image.fromarray(f).convert(mode).convert("RGB")) for f in frames])
    np.testing.assert_array_equal(read_video(folder).frames, want)


@pytest.mark.parametrize("kind", ["rgba", "palette", "rgba16"])
def test_transparent_frames_are_refused(tmp_path, frames, kind):
    def save(p, f):
        if kind == "rgba16":
            a = np.dstack([f, np.full(f.shape[:2], 128, np.uint8)]).astype(np.uint16) * 257
            cv2.imwrite(str(p), a[..., [2, 1, 0, 3]])
        elif kind == "rgba":
            Image.fromarray(np.dstack([f, np.full(f.shape[:2], 128, np.uint8)])).save(p)
        else:
            im = Image.fromarray(f).convert("P")
            im.putpixel((0, 0), 7)
            im.save(p, transparency=7)  # palette entry 7 is transparent

    folder = _write(tmp_path / kind, frames, save)
    with pytest.raises(InputError, match="transparent"):
        read_video(folder)


@pytest.mark.parametrize("mode", ["I", "F"])
def test_32bit_tiff_is_refused(tmp_path, frames, mode):
    folder = _write(tmp_path / mode, frames, lambda p, f: Image.fromarray(
        f[..., 0].astype(np.int32 if mode == "I" else np.float32), mode).save(p.with_suffix(".tif")))
    with pytest.raises(InputError, match="32-bit"):
        read_video(folder)
