"""ActDiff: generative video compression at ultra-low bitrates."""

__version__ = "0.1.0"
