"""Keyframe image codecs (actdiff.image_codecs)."""

from __future__ import annotations

import numpy as np
import pytest

from actdiff.errors import BitstreamError, ConfigError, InputError
from actdiff.image_codecs import ImageCodec, codec_from_params
from actdiff.image_codecs.avif_box import pack_avif, unpack_avif
from actdiff.registry import IMAGE_CODECS


def texture(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus mild noise, ``uint8 (h, w, 3)``."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(x / 9 + y / 13), 128 + 90 * np.cos(y / 7),
                    (x * 2 + y) % 256], -1)
    img += np.random.default_rng(seed).normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name,max_err", [("avif", 12), ("webp", 14), ("jpeg", 16), ("png", 0)])
def test_round_trip_quality_and_determinism(name, max_err):
    img = texture()
    codec = IMAGE_CODECS.build(name)
    data = codec.encode(img)
    assert data == codec.encode(img), "encoding must be deterministic"
    out = codec.decode(data, 64, 96)
    assert out.shape == (64, 96, 3) and out.dtype == np.uint8
    err = np.abs(out.astype(int) - img).mean()
    assert err <= max_err
    if name == "png":
        assert np.array_equal(out, img)
    header = codec.header_params()
    assert header["kc"] == name and all(len(k) <= 3 for k in header)
    rebuilt = codec_from_params(header)
    assert type(rebuilt) is type(codec) and rebuilt.params() == codec.params()
    assert np.array_equal(rebuilt.decode(data, 64, 96), out)


def test_quality_knob_orders_size():
    img = texture(seed=1)
    for name in ("avif", "webp", "jpeg"):
        low = len(IMAGE_CODECS.build(name, quality=10).encode(img))
        high = len(IMAGE_CODECS.build(name, quality=80).encode(img))
        assert low < high, name


def test_avif_payload_drops_container():
    img = texture(48, 80)
    codec = IMAGE_CODECS.build("avif", quality=30)
    data = codec.encode(img)
    assert data[0] == 0, "compact payload expected with the bundled libavif"
    full = unpack_avif(data, 48, 80)
    assert full[4:12] == b"ftypavif" and len(full) == len(data) + 271
    assert pack_avif(full, 48, 80) == data
    # a file whose boxes differ from the template is kept whole (kind 1)
    other = pack_avif(full[:20] + b"X" + full[21:], 48, 80)
    assert other[0] == 1 and unpack_avif(other, 48, 80) == full[:20] + b"X" + full[21:]


@pytest.mark.parametrize("name", ["avif", "webp", "jpeg", "png"])
def test_decode_errors_are_bitstream_errors(name):
    codec = IMAGE_CODECS.build(name)
    data = codec.encode(texture())
    with pytest.raises(BitstreamError, match="expected 96x65|decodes to"):
        codec.decode(data, 65, 96)
    for bad in (b"", b"\x00", b"garbage" * 10, data[: len(data) // 2]):
        with pytest.raises(BitstreamError):
            codec.decode(bad, 64, 96)
    rng = np.random.default_rng(0)
    for _ in range(30):
        arr = bytearray(data)
        for _ in range(3):
            arr[int(rng.integers(0, len(arr)))] = int(rng.integers(0, 256))
        try:
            out = codec.decode(bytes(arr), 64, 96)
        except BitstreamError:
            continue
        assert out.shape == (64, 96, 3)


def test_bad_config_and_inputs():
    with pytest.raises(ConfigError, match="quality"):
        IMAGE_CODECS.build("avif", quality=101)
    with pytest.raises(ConfigError, match="speed"):
        IMAGE_CODECS.build("avif", speed=11)
    with pytest.raises(BitstreamError, match="unknown image codec"):
        codec_from_params({"kc": "bmp"})
    with pytest.raises(BitstreamError, match="bad parameters"):
        codec_from_params({"kc": "webp", "kc.speed": 3})
    with pytest.raises(BitstreamError, match="quality"):
        codec_from_params({"kc": "webp", "kq": 3.5})
    with pytest.raises(ConfigError, match="unknown image codec"):
        codec_from_params({"name": "bmp"})
    with pytest.raises(BitstreamError, match="no codec"):
        codec_from_params({"step": 0.5})
    assert isinstance(codec_from_params({"name": "jpeg", "quality": 50}), ImageCodec)
    with pytest.raises(InputError, match="uint8"):
        IMAGE_CODECS.build("png").encode(np.zeros((4, 4), np.uint8))


def test_compressai_missing_package_is_one_line_error():
    try:
        import compressai  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="compressai.*checkpoint") as info:
            IMAGE_CODECS.build("compressai", checkpoint="/nowhere/model.pth.tar")
        assert "\n" not in str(info.value) and "/nowhere/model.pth.tar" in str(info.value)
    else:  # pragma: no cover - only where compressai is installed
        from actdiff.errors import MissingWeightsError

        with pytest.raises(MissingWeightsError, match="/nowhere/model.pth.tar"):
            IMAGE_CODECS.build("compressai", checkpoint="/nowhere/model.pth.tar")


@pytest.mark.parametrize("h,w", [(17, 23), (144, 176), (272, 640)])
def test_avif_compact_for_odd_and_real_sizes(h, w):
    codec = IMAGE_CODECS.build("avif", quality=20, speed=8)
    img = texture(h, w)
    data = codec.encode(img)
    assert data[0] == 0
    out = codec.decode(data, h, w)
    assert out.shape == (h, w, 3) and np.abs(out.astype(int) - img).mean() < 20
    with pytest.raises(BitstreamError, match=f"AVIF keyframe is {w}x{h}"):
        codec.decode(data, h + 1, w)


# ----------------------------------------------------------------- reduced-resolution keyframes
def test_scaled_codec_round_trip_full_size_and_header():
    from actdiff.image_codecs import ScaledCodec, scaled_size, with_scale

    img = texture(64, 96)
    inner = IMAGE_CODECS.build("avif", quality=40)
    codec = with_scale(inner, 2)
    assert isinstance(codec, ScaledCodec) and with_scale(inner, 1) is inner
    assert scaled_size(64, 96, 2.0) == (32, 48) and scaled_size(64, 96, 16.0) == (8, 8)
    data = codec.encode(img)
    assert data == codec.encode(img), "encoding must be deterministic"
    assert len(data) < len(inner.encode(img))
    out = codec.decode(data, 64, 96)
    assert out.shape == (64, 96, 3) and out.dtype == np.uint8
    assert np.array_equal(out, codec.decode(data, 64, 96)), "decoding must be deterministic"
    assert np.abs(out.astype(int) - img).mean() < 20
    # the payload really is the half-size image
    assert inner.decode(data, 32, 48).shape == (32, 48, 3)
    header = codec.header_params()
    assert header["kr"] == 2.0 and header["kc"] == "avif"
    rebuilt = codec_from_params(header)
    assert isinstance(rebuilt, ScaledCodec) and rebuilt.scale == 2.0
    assert np.array_equal(rebuilt.decode(data, 64, 96), out)
    # streams without "kr" (written before scaling existed) decode at full resolution
    assert "kr" not in with_scale(inner, 1).header_params()
    assert not isinstance(codec_from_params(inner.header_params()), ScaledCodec)


def test_scaled_codec_from_config_and_bad_scales():
    from actdiff.image_codecs import ScaledCodec

    codec = codec_from_params({"name": "webp", "quality": 30, "scale": 1.5})
    assert isinstance(codec, ScaledCodec) and codec.scale == 1.5
    assert codec.decode(codec.encode(texture()), 64, 96).shape == (64, 96, 3)
    assert not isinstance(codec_from_params({"name": "webp", "scale": 1}), ScaledCodec)
    for bad in (0.5, 17, float("nan"), "2", True):
        with pytest.raises(ConfigError):
            codec_from_params({"name": "webp", "scale": bad})
    with pytest.raises(BitstreamError):
        codec_from_params({"kc": "webp", "kq": 30, "kr": 0.0})


# ------------------------------------------------------------------ GOP limit near the end
def test_balanced_limit_splits_the_last_two_gops():
    from actdiff.selection.segments import balanced_limit

    assert balanced_limit(0, 47, 24) == 23            # remainder of 24 frames: greedy
    assert balanced_limit(23, 47, 24) == 35           # remainder of 1 frame: split evenly (not 46)
    assert balanced_limit(35, 47, 24) == 47
    assert balanced_limit(0, 20, 24) == 20            # within one GOP: the boundary
    assert balanced_limit(0, 46, 24) == 23            # exactly two full GOPs
    assert balanced_limit(0, 36, 24) == 23            # remainder of 13 ≥ half a GOP: greedy
    assert balanced_limit(0, 30, 24) == 15            # remainder of 7 < half a GOP: split
    assert balanced_limit(0, 12, 10, min_gop=10) == 9  # halves would break min_gop: greedy
    assert balanced_limit(0, 12, 10, min_gop=2) == 6


def test_gop_limit_leaves_no_two_frame_remainder():
    """A static clip whose segments end only at ``max_gop``: no near-duplicate last keyframe."""
    from conftest import moving_texture

    from actdiff.selection.segments import select_adaptive
    from actdiff.tracking.dis import DISTracker

    frames = moving_texture(num_frames=48, height=64, width=96, speed=(0.0, 0.0))
    segs = select_adaptive(frames, DISTracker(preset="ultrafast"), {"max_gop": 24, "min_gop": 2})
    assert segs[0].start == 0 and segs[-1].end == 47
    assert all(2 <= s.length <= 24 for s in segs)
    assert min(s.length for s in segs) > 2, segs   # was (46, 47) before balancing
    assert [s.end for s in segs] == [23, 35, 47]
