"""The sample clip bundled in the package (48 frames of Big Buck Bunny, 384×256, 25 fps).

See ``actdiff/assets/sample/ATTRIBUTION.md`` for its licence (CC-BY 3.0) and provenance.
"""

from __future__ import annotations

from pathlib import Path

from actdiff.errors import InputError
from actdiff.io import read_video
from actdiff.types import Video

SAMPLE_FILE = "bigbuckbunny_256x384.mp4"


def package_dir() -> Path:
    """The installed ``actdiff`` package folder."""
    return Path(__file__).resolve().parent.parent


def sample_clip_path() -> Path:
    """Path of the bundled sample clip (an ``InputError`` if the install lacks it)."""
    p = package_dir() / "assets" / "sample" / SAMPLE_FILE
    if not p.is_file():
        raise InputError(f"the bundled sample clip {p} is missing; reinstall actdiff or run "
                         "experiments/make_sample_clip.py")
    return p


def load_sample_clip(max_frames: int | None = None) -> Video:
    """Decode the sample clip: ``uint8 (48, 256, 384, 3)`` RGB at 25 fps (or its first frames)."""
    return read_video(sample_clip_path(), max_frames=max_frames)
