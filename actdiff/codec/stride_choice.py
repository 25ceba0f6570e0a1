"""The stream's trajectory stride, chosen from its own motion (``codec.trajectories.stride_tolerance``).

Coding positions every ``temporal_stride``-th frame (default 2) halves the trajectory bits and
loses what the motion does between two coded frames: the decoder rebuilds those frames by linear
interpolation. Where points accelerate or turn within two frames (a swinging bag, cars at
speed), that loss is large and coding every frame pays; where motion is smooth it buys nothing.
With a tolerance set, the fast encoder measures the loss on the selected, smoothed trajectories
of the whole stream (:func:`actdiff.motion.temporal.skip_error`) and codes every frame
(stride 1) when more than one skipped position in ten would be rebuilt further off than the
tolerance (pixels at the coded size): the loss's 90th percentile exceeds it. With the
tolerance at ``smooth_keep`` (0.5 px, also the quantiser's step) the stride may drop only motion the
smoothing would drop. The stride is a stream parameter (header ``ts``): the decoder needs nothing new.

The RD mode applies the tolerance only with ``codec.rd.stride_choice: true`` (off by default): the
loss of the trajectories its search chose, then, when the rule says so, the search's decision coded
at stride 1 (:meth:`actdiff.codec.rdo.RDSearch.at_stride`). Otherwise it codes the configured stride and its
``stats["trajectory_stride"]`` says so (:func:`fixed_stride_stats`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Sequence

import numpy as np
from omegaconf import DictConfig, OmegaConf

from actdiff.motion.temporal import skip_error
from actdiff.types import Tracks

log = logging.getLogger(__name__)


def skip_stats(smoothed: Sequence[Tracks], stride: int) -> Dict[str, Any]:
    """The interpolation loss of ``stride`` over a stream's smoothed trajectories (one
    :class:`Tracks` per segment), as :func:`loss_stats` gives it."""
    return loss_stats([skip_error(t, stride) for t in smoothed])


def loss_stats(errs: Sequence[np.ndarray]) -> Dict[str, Any]:
    """Summary of a stream's :func:`~actdiff.motion.temporal.skip_error` values (one array per
    segment, pixels): ``mean_px``, ``rms_px``, ``p90_px``, ``over_half_px`` (share of skipped
    point-frames more than 0.5 px off) and ``count`` (point-frames measured)."""
    e = np.concatenate(list(errs)) if len(errs) else np.zeros(0)
    if e.size == 0:
        return {"mean_px": 0.0, "rms_px": 0.0, "p90_px": 0.0, "over_half_px": 0.0, "count": 0}
    return {"mean_px": float(e.mean()), "rms_px": float(np.sqrt((e ** 2).mean())),
            "p90_px": float(np.percentile(e, 90)), "over_half_px": float((e > 0.5).mean()), "count": int(e.size)}


def chosen_stride(stats: Dict[str, Any], stride: int, tolerance: Optional[float]) -> int:
    """1 when a tolerance is set and the loss's 90th percentile ``stats["p90_px"]`` exceeds it,
    else ``stride``."""
    if tolerance is None or stride <= 1:
        return stride
    return 1 if stats["p90_px"] > float(tolerance) else stride


def fixed_stride_stats(codec: DictConfig, why: str) -> Dict[str, Any]:
    """``stats["trajectory_stride"]`` of an encoder that codes the configured stride whatever the
    tolerance (``applied: False`` with the reason when a tolerance is set)."""
    stride = int(codec.trajectories.temporal_stride)
    tolerance = codec.trajectories.get("stride_tolerance")
    out: Dict[str, Any] = {"stride": stride, "configured": stride, "tolerance": tolerance}
    if tolerance is not None:
        out.update(applied=False, why=why)
        log.info("stride_tolerance %s not applied: %s", tolerance, why)
    return out


def with_stride(codec: DictConfig, stride: int) -> DictConfig:
    """A copy of the codec section with ``trajectories.temporal_stride`` set to ``stride``."""
    out = OmegaConf.create(OmegaConf.to_container(codec, resolve=True))
    out.trajectories.temporal_stride = int(stride)
    return out
