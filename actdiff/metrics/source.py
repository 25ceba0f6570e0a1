"""No-reference metrics of the source clip itself: the reference point for NIQE-style scores.

A no-reference metric (``kind == "nr"``, e.g. NIQE) can rate a decoded clip *better* than the
original it came from — a generative decoder adding texture does exactly that. Recording the
source's own score next to every codec's results lets ``actdiff bdrate`` say when a comparison
happens in that regime (see docs/results_schema.md, key ``source``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actdiff.metrics import compute_metrics, get_metric


def no_reference(metrics: Sequence[str]) -> list[str]:
    """The names in ``metrics`` that are per-frame no-reference metrics (kind ``nr``)."""
    return [m for m in metrics if get_metric(m).kind == "nr"]


def source_metrics(frames: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    """``{name: value}`` of the no-reference metrics among ``metrics`` on the source frames.

    ``frames``: ``uint8 (T, H, W, 3)`` RGB as the protocol read them (the same frames every
    codec is scored against). Full-reference metrics are skipped (they are trivial on the source).
    """
    names = no_reference(metrics)
    return compute_metrics(frames, frames, names) if names else {}


__all__ = ["no_reference", "source_metrics"]
