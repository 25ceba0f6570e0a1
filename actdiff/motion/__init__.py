"""Motion geometry shared by the encoder and every decoder: warping, splatting, interpolation."""

from actdiff.motion.bandwidth_fit import bandwidth_candidates, fit_bandwidth
from actdiff.motion.interpolate import (
    bandwidth_code,
    bandwidth_from_code,
    default_grid_step,
    dense_flow_from_tracks,
    interpolate_sparse,
    quantize_bandwidth,
)
from actdiff.motion.warp import backward_warp, forward_splat, splat_bilinear

__all__ = [
    "backward_warp",
    "bandwidth_candidates",
    "bandwidth_code",
    "bandwidth_from_code",
    "default_grid_step",
    "dense_flow_from_tracks",
    "fit_bandwidth",
    "forward_splat",
    "interpolate_sparse",
    "quantize_bandwidth",
    "splat_bilinear",
]
