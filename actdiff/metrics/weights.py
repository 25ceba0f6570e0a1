"""Finding pretrained metric weights on disk (never downloaded: the tool works offline).

A weights file is looked up, in order, at an explicit path, in ``$ACTDIFF_WEIGHTS`` (default
``~/.cache/actdiff/weights``) and in torch hub's checkpoint cache (``$TORCH_HOME/hub/checkpoints``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from actdiff.errors import MissingWeightsError


def weights_dir() -> Path:
    """``$ACTDIFF_WEIGHTS`` or ``~/.cache/actdiff/weights``."""
    return Path(os.environ.get("ACTDIFF_WEIGHTS", Path.home() / ".cache" / "actdiff" / "weights"))


def find_weights(filename: str, path: str | None = None, what: str = "") -> Path:
    """Locate ``filename``; raise a one-line ``MissingWeightsError`` naming where to put it."""
    candidates = [Path(path)] if path else []
    candidates += [weights_dir() / filename, Path(torch.hub.get_dir()) / "checkpoints" / filename]
    for c in candidates:
        if c.is_file():
            return c
    label = f" ({what})" if what else ""
    raise MissingWeightsError(
        f"weights file {filename}{label} not found: put it in {weights_dir()} (set $ACTDIFF_WEIGHTS) "
        f"or in {Path(torch.hub.get_dir()) / 'checkpoints'}"
    )


@contextlib.contextmanager
def hub_cache(files: dict[str, Path]) -> Iterator[None]:
    """Temporarily point torch hub's cache at a folder holding ``files`` (name → local path).

    Libraries that call ``torch.hub.load_state_dict_from_url`` (piq, torchvision) then load the
    local files instead of downloading.
    """
    old = torch.hub.get_dir()
    with tempfile.TemporaryDirectory() as tmp:
        ck = Path(tmp) / "checkpoints"
        ck.mkdir()
        for name, src in files.items():
            (ck / name).symlink_to(Path(src).resolve())
        torch.hub.set_dir(tmp)
        try:
            yield
        finally:
            torch.hub.set_dir(old)


def require_all(names: Sequence[str], what: str) -> dict[str, Path]:
    """``find_weights`` for several files at once."""
    return {n: find_weights(n, what=what) for n in names}
