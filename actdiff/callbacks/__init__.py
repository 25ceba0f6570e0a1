"""Lightning callbacks of ActDiff."""

from actdiff.callbacks.rate_curve import RateCurveCallback

__all__ = ["RateCurveCallback"]
