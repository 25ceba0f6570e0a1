"""Keyframe codecs backed by Pillow: AVIF, WebP, JPEG (4:2:0) and lossless PNG.

``quality`` (0–100, higher is better) is passed to the format's own quality setting: libavif's
``quality`` for AVIF, libwebp's ``quality`` for WebP, libjpeg's ``quality`` (clamped to 1–100)
for JPEG; PNG is lossless and has none.

Determinism: AVIF is encoded with ``max_threads=1`` (libaom's multi-threaded encoder may
otherwise pick different partitions run to run); WebP and JPEG are deterministic.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from PIL import Image

from actdiff.errors import BitstreamError, ConfigError
from actdiff.image_codecs.avif_box import isobmff_length, pack_avif, unpack_avif
from actdiff.image_codecs.base import ImageCodec, check_decoded, check_image
from actdiff.registry import IMAGE_CODECS


def _check_quality(quality: Any) -> int:
    if isinstance(quality, bool) or not isinstance(quality, (int, float)) \
            or not 0 <= quality <= 100 or int(quality) != quality:
        raise ConfigError(f"keyframe codec quality must be an integer 0–100, got {quality!r}")
    return int(quality)


def _png_length(data: bytes) -> int:
    """Bytes up to the end of the PNG's ``IEND`` chunk, chunk by chunk (``-1`` if malformed)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return -1
    pos = 8
    while pos + 12 <= len(data):
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos
    return -1


def _jpeg_length(data: bytes) -> int:
    """Bytes up to the JPEG's end-of-image marker: header segments are skipped by their lengths,
    then the first ``FF D9`` after the first scan (a literal ``FF`` in entropy-coded data is always
    followed by ``00`` or a restart marker); ``-1`` if malformed."""
    if data[:2] != b"\xff\xd8":
        return -1
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2:pos + 4], "big")
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            end = data.find(b"\xff\xd9", pos)
            return end + 2 if end >= 0 else -1
    return -1


def _ends_where_declared(data: bytes, fmt: str) -> bool:
    """Whether the image file ``data`` ends exactly where its format says (no trailing bytes)."""
    if fmt == "PNG":
        return _png_length(data) == len(data)
    if fmt == "JPEG":
        return _jpeg_length(data) == len(data)
    if fmt == "WEBP":
        return data[:4] == b"RIFF" and int.from_bytes(data[4:8], "little") + 8 == len(data)
    if fmt == "AVIF":
        return isobmff_length(data) == len(data)
    return True


def pil_decode(data: bytes, height: int, width: int, fmt: str) -> np.ndarray:
    """Decode an image file of Pillow format ``fmt`` to ``uint8 (H, W, 3)``.

    The file must end where its format says (trailing bytes are an error), the size is checked
    before the pixels are decoded; any decoder failure becomes a ``BitstreamError``.
    """
    data = bytes(data)
    if not _ends_where_declared(data, fmt):
        raise BitstreamError(f"corrupt {fmt} keyframe: bytes after the end of the image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(bytes(data)), formats=[fmt]) as im:
                if im.size != (width, height):
                    raise BitstreamError(f"{fmt} keyframe is {im.size[0]}x{im.size[1]}, "
                                         f"expected {width}x{height}")
                im.load()
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except BitstreamError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on corrupt data
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BitstreamError(f"corrupt {fmt} keyframe: {msg}") from None
    return check_decoded(arr, height, width, fmt)


class _PillowCodec(ImageCodec):
    fmt = ""

    def _save_args(self) -> dict[str, Any]:
        return {}

    def encode(self, img: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(check_image(img), "RGB").save(buf, self.fmt, **self._save_args())
        return buf.getvalue()

    def decode(self, data: bytes, height: int, width: int) -> np.ndarray:
        return pil_decode(data, height, width, self.fmt)


@IMAGE_CODECS.register("avif")
class AvifCodec(_PillowCodec):
    """AVIF (AV1 intra) via Pillow/libavif, 4:2:0, full range, single-threaded.

    The payload drops the ~270-byte ISOBMFF container when it matches the fixed layout that
    :mod:`actdiff.image_codecs.avif_box` rebuilds from the frame size (else it keeps the file).

    Args:
        quality: 0–100 (libavif quality, higher is better).
        speed: 0–10 (libaom speed preset; lower is slower and smaller). The default 4 codes
            about 8 % fewer bytes than 6 at the same PSNR, MS-SSIM and VMAF NEG and takes about
            five times as long (0.17 s against 0.03 s a 384x256 image on one core; 10 training
            clips, ``experiments/keyframe_codec_options.py``).
    """

    name, fmt = "avif", "AVIF"

    def __init__(self, quality: int = 30, speed: int = 4) -> None:
        self.quality = _check_quality(quality)
        if isinstance(speed, bool) or not isinstance(speed, int) or not 0 <= speed <= 10:
            raise ConfigError(f"avif speed must be an integer 0–10, got {speed!r}")
        self.speed = speed

    def params(self) -> dict[str, Any]:
        return {"quality": self.quality, "speed": self.speed}

    def _save_args(self) -> dict[str, Any]:
        return {"quality": self.quality, "speed": self.speed, "max_threads": 1,
                    "subsampling": "4:2:0", "range": "full", "autotiling": False}

    def encode(self, img: np.ndarray) -> bytes:
        img = check_image(img)
        return pack_avif(super().encode(img), img.shape[0], img.shape[1])

    def decode(self, data: bytes, height: int, width: int) -> np.ndarray:
        return pil_decode(unpack_avif(data, height, width), height, width, self.fmt)


@IMAGE_CODECS.register("webp")
class WebpCodec(_PillowCodec):
    """Lossy WebP (VP8) via Pillow, ``method=6`` (slowest, smallest)."""

    name, fmt = "webp", "WEBP"

    def __init__(self, quality: int = 30) -> None:
        self.quality = _check_quality(quality)

    def params(self) -> dict[str, Any]:
        return {"quality": self.quality}

    def _save_args(self) -> dict[str, Any]:
        return {"quality": self.quality, "method": 6, "lossless": False, "exact": False}


@IMAGE_CODECS.register("jpeg")
class JpegCodec(_PillowCodec):
    """Baseline JPEG, 4:2:0, optimised Huffman tables."""

    name, fmt = "jpeg", "JPEG"

    def __init__(self, quality: int = 30) -> None:
        self.quality = _check_quality(quality)

    def params(self) -> dict[str, Any]:
        return {"quality": self.quality}

    def _save_args(self) -> dict[str, Any]:
        return {"quality": max(1, self.quality), "subsampling": 2, "optimize": True}


@IMAGE_CODECS.register("png")
class PngCodec(_PillowCodec):
    """Lossless PNG (for tests and references); ``quality`` is accepted and ignored."""

    name, fmt = "png", "PNG"

    def __init__(self, quality: int = 100) -> None:
        self.quality = _check_quality(quality)

    def _save_args(self) -> dict[str, Any]:
        return {"optimize": False, "compress_level": 9}


