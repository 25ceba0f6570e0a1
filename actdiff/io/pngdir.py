"""Folders of image frames (PNG; also JPEG/BMP/TIFF/WebP for reading), natural name order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

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


def _load(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
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
