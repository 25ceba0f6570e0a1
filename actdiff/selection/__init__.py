"""Encoder analysis: segment/keyframe selection, weight maps and trajectory selection."""

from actdiff.selection import (
    learned,  # noqa: F401  (registers the "learned" selectors; torch loaded lazily)
    weight_maps,  # noqa: F401  (registers the weight maps)
)
from actdiff.selection.segments import select_adaptive, select_fixed, select_segments
from actdiff.selection.trajectories import select_greedy, select_motion, select_trajectories, select_uniform

__all__ = [
    "select_adaptive",
    "select_fixed",
    "select_greedy",
    "select_motion",
    "select_segments",
    "select_trajectories",
    "select_uniform",
]
