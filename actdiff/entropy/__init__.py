"""Entropy coding of trajectories (constriction range coder with adaptive integer models)."""

from actdiff.entropy.trajectory import (
    AdaptiveTrajectoryCoder,
    decode_tracks,
    encode_tracks,
    quantize_tracks,
)

__all__ = ["AdaptiveTrajectoryCoder", "decode_tracks", "encode_tracks", "quantize_tracks"]
