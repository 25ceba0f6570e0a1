"""Trackers (registry: ``actdiff.registry.TRACKERS``) and flow chaining."""

from actdiff.tracking import cotracker, dis  # noqa: F401  (registers "dis", "cotracker3")
from actdiff.tracking.base import Tracker, chain_flows, check_frames, iter_chain, sample_field, tracks_from_motion
from actdiff.tracking.dis import DISTracker

__all__ = ["DISTracker", "Tracker", "chain_flows", "check_frames", "iter_chain", "sample_field", "tracks_from_motion"]
