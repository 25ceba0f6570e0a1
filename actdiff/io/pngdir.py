"""Folders of image frames (PNG; also JPEG/BMP/TIFF/WebP for reading), natural name order.

Every frame is read as ``uint8`` RGB: gray, palette and 1-bit images are expanded; 16-bit samples
(16-bit PNGs of any colour type, 16-bit gray TIFFs) are scaled to 8 bits by rounding
``v * 255 / 65535``; an alpha channel (or a transparent palette/colour key) is dropped when every
pixel is opaque and refused otherwise; 32-bit integer and float images are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from actdiff.io.base import FormatError, VideoInfo

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_FPS = 25.0


def natural_key(name: str) -> list[object]:
    """Sort key putting ``frame2`` before ``frame10``."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def list_frames(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
             and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def _png_bit_depth(path: Path) -> int:
    """Bit depth of a PNG file from its ``IHDR`` chunk (0 for anything else)."""
    with open(path, "rb") as f:
        head = f.read(25)
    return head[24] if len(head) == 25 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" else 0


def _to_8bit(a: np.ndarray) -> np.ndarray:
    """``uint16`` samples → ``uint8``, rounding ``v * 255 / 65535``."""
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _opaque_rgb(rgba: np.ndarray, name: str) -> np.ndarray:
    """Drop the alpha channel of ``(H, W, 4)`` samples when every pixel is opaque."""
    if (rgba[..., 3] != np.iinfo(rgba.dtype).max).any():
        raise FormatError(f"frame {name} has transparent pixels; flatten the frames onto a background first")
    return rgba[..., :3]


def _load_16bit_png(path: Path) -> np.ndarray:
    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # Pillow keeps only the high byte of 16-bit RGB
    if a is None or a.dtype != np.uint16:
        raise FormatError(f"cannot decode frame {path.name} (16-bit PNG)")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    elif a.shape[2] == 4:
        a = _opaque_rgb(a, path.name)[..., ::-1]
    else:
        a = a[..., ::-1]  # OpenCV's BGR → RGB
    return np.ascontiguousarray(_to_8bit(a))


def _load(path: Path) -> np.ndarray:
    """One frame as ``uint8 (H, W, 3)`` RGB (see the module docstring); ``FormatError`` if it cannot be."""
    try:
        if _png_bit_depth(path) == 16:
            return _load_16bit_png(path)
        with Image.open(path) as im:
            if im.mode.startswith("I;16"):
                return np.repeat(_to_8bit(np.asarray(im, dtype=np.uint16))[..., None], 3, axis=2)
            if im.mode in ("I", "F"):
                raise FormatError(f"frame {path.name} has 32-bit {'float' if im.mode == 'F' else 'integer'} "
                                  "pixels; convert the frames to 8 or 16 bits")
            if "A" in im.mode or "a" in im.mode or "transparency" in im.info:
                return np.ascontiguousarray(_opaque_rgb(np.asarray(im.convert("RGBA")), path.name))
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise FormatError(f"cannot decode frame {path.name} ({e.__class__.__name__})") from None


def info(folder: Path, fps: float) -> VideoInfo:
    files = list_frames(folder)
    if not files:
        raise FormatError(f"no image frames ({', '.join(IMAGE_EXTENSIONS)}) in the folder")
    try:
        with Image.open(files[0]) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError) as e:
        raise FormatError(f"cannot decode frame {files[0].name} ({e.__class__.__name__})") from None
    return VideoInfo(len(files), h, w, float(fps), "png")


def iter_frames(folder: Path, start: int = 0) -> Iterator[np.ndarray]:
    """Yield ``uint8 (H, W, 3)`` RGB frames; every frame must have the first one's size."""
    files = list_frames(folder)
    shape = None
    for p in files[start:]:
        a = _load(p)
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise FormatError(f"frame {p.name} is {a.shape[0]}x{a.shape[1]}, not {shape[0]}x{shape[1]}")
        yield a


def write(folder: Path, frames: np.ndarray) -> None:
    """Write ``frame_00000.png``, … into an existing empty ``folder`` (lossless, compress level 1)."""
    for i, frame in enumerate(frames):
        Image.fromarray(np.ascontiguousarray(frame), "RGB").save(folder / f"frame_{i:05d}.png", compress_level=1)
