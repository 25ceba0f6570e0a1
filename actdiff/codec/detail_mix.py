"""The encoder's choice of the diffusion decoder's ``detail_mix`` ``β``, one per segment.

The diffusion decoder's ``detail`` base is ``prediction + β · G(blend − prediction)``
(:mod:`actdiff.motion.prediction`): the warp decoder's fused frame with its coarse band moved a share
``β`` toward the plain blend of the two warped keyframes, a hedge that helps where the fusion picked
the wrong warp and costs where it picked the right one. The decoder cannot tell which; the encoder,
which has the source, can. With ``codec.send_detail_mix: true`` it scores each of
:data:`CHOICES` on its own decoded segment (the same keyframes and tracks the decoder rebuilds) by
the mean over the in-between frames of the coarse-scale PSNR (``psnr_lowres``: both images 8×
area-downsampled) of that base against the source, and sends the best in one byte per segment
(format 3, :mod:`actdiff.codec.bitstream`). The model's residual adds fine texture on top; the
coarse band it is scored on is the base's. The warp decoder ignores the byte.

Measured before it was built (``experiments/coarse_hedge.py --oracles``, docs/video_interface.md):
on twenty training streams this per-segment choice raised the base's mean coarse PSNR by 0.14 dB
over the fixed ``β = 0.5`` and never fell below the fused frame (``β = 0`` is a choice).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence

import numpy as np

from actdiff.metrics.full_reference import LOWRES_FACTOR
from actdiff.motion.fusion import fuse_frame
from actdiff.motion.prediction import DETAIL_SIGMA, blend_warps, coarse_band
from actdiff.types import DecodedSegment

#: The ``β`` the encoder chooses from (``β = 0``: the fused frame's own coarse band).
CHOICES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _downsample(image: np.ndarray, factor: int = LOWRES_FACTOR) -> np.ndarray:
    """``(H, W, C)`` → ``float64 (H//f, W//f, C)`` by area averaging (sides cropped to multiples of ``f``)."""
    h, w = (max(factor, (n // factor) * factor) for n in image.shape[:2])
    x = np.asarray(image[:h, :w], np.float64)
    return x.reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3))


def frame_terms(seg: DecodedSegment, t: int, source: np.ndarray, height: int, width: int,
                sigma: float = DETAIL_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """``(D, L)`` of segment-relative frame ``t``: the 8×-downsampled error of the fused frame
    against ``source`` (``uint8 (H, W, 3)``) and the 8×-downsampled coarse band ``G(blend − prediction)``,
    both ``float64`` in [0, 255] units over the display area ``height × width``. The base at ``β``
    then has the downsampled error ``D + β · L`` (the decoder's rounding to 8 bits aside)."""
    pred, d = fuse_frame(seg, t, plain=True)  # the plain warps: those of warp_keyframes, not computed twice
    blend = blend_warps(d["plain0"], d["c0"][..., None], d["plain1"], d["c1"][..., None], t / (seg.segment.length - 1))
    low = coarse_band(blend - pred, sigma)
    err = _downsample(pred[:height, :width]) - _downsample(np.asarray(source, np.float32)[:height, :width])
    return err, _downsample(low[:height, :width])


def mean_coarse_psnr(terms: Sequence[tuple[np.ndarray, np.ndarray]], beta: float) -> float:
    """Mean over frames of the coarse PSNR (dB, peak 255) of the base at ``β`` (:func:`frame_terms`)."""
    mse = [max(float(np.mean((d + beta * low) ** 2)), 1e-10) for d, low in terms]
    return float(np.mean([10.0 * np.log10(255.0 ** 2 / m) for m in mse]))


def best_mix(terms: Sequence[tuple[np.ndarray, np.ndarray]], choices: Sequence[float] = CHOICES) -> Optional[float]:
    """The ``β`` of ``choices`` of best :func:`mean_coarse_psnr` over one segment's ``terms``
    (ties → the first); ``None`` without terms (a segment without in-between frames)."""
    if not terms:
        return None
    return max(choices, key=lambda b: mean_coarse_psnr(terms, b))


def scored_frames(length: int, stride: int = 1, min_frames: int = 1) -> List[int]:
    """The segment-relative in-between frames (of ``1 … length − 2``) a choice is scored on: every
    ``stride``-th, the leftover split evenly at both ends, but at least ``min_frames`` of them (all
    when there are no more)."""
    if stride < 1 or min_frames < 1:
        raise ValueError(f"detail-mix stride and min_frames must be at least 1, got {stride}, {min_frames}")
    inner = list(range(1, length - 1))
    step = max(1, min(stride, len(inner) // min_frames))
    return inner[((len(inner) - 1) % step) // 2::step] if inner else []


def choose_mixes(frames: np.ndarray, segments: Sequence[DecodedSegment], height: int, width: int,
                 choices: Sequence[float] = CHOICES, threads: int = 1, stride: int = 1,
                 min_frames: int = 1) -> List[Optional[float]]:
    """One :func:`best_mix` per decoded segment, over its in-between frames (every ``stride``-th,
    :func:`scored_frames`: the fusion of each scored frame is most of the cost).

    Args:
        frames: the padded source ``uint8 (T, Hc, Wc, 3)``.
        segments: the segments as the decoder rebuilds them.
        height, width: the display size (pixels) the frames are scored on.
        threads: worker threads over the frames (the choice does not depend on it).
        stride, min_frames: score every ``stride``-th in-between frame, at least ``min_frames`` per
            segment (``codec.detail_mix_stride``, ``codec.detail_mix_min_frames``).
    """
    jobs = [(i, s.segment.start + t) for i, s in enumerate(segments) for t in scored_frames(s.segment.length, stride,
                                                                                         min_frames)]

    def terms(job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        i, f = job
        return frame_terms(segments[i], f - segments[i].segment.start, frames[f], height, width)

    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(threads, thread_name_prefix="actdiff-detail-mix") as pool:
            done = list(pool.map(terms, jobs))
    else:
        done = [terms(j) for j in jobs]
    by_segment: List[list] = [[] for _ in segments]
    for (i, _), term in zip(jobs, done):
        by_segment[i].append(term)
    return [best_mix(t, choices) for t in by_segment]
