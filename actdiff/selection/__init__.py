"""Encoder analysis: segment/keyframe selection, weight maps and trajectory selection."""

from actdiff.selection.keyframes import select_adaptive, select_fixed, select_segments

__all__ = ["select_adaptive", "select_fixed", "select_segments"]
