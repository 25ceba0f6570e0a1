"""Segment / keyframe selection (registry: ``actdiff.registry.KEYFRAME_SELECTORS``).

``adaptive`` (the method): starting at keyframe ``s``, the keyframe is forward-splatted along
the chained dense motion (confidence-weighted, pixels below the tracker's visibility threshold
dropped) into each following frame ``t``. A frame FAILS when the splat reaches less than
``coverage_min`` of the target pixels or when the agreement ``score`` (see
:mod:`actdiff.selection.scores`) on the reached pixels is below ``score_min``. After
``patience`` consecutive failures the segment ends at the first failing frame. Segment lengths
(keyframes included) stay within ``[min_gop, max_gop]``, except that hard scene cuts override
``min_gop``: at a cut between frames ``c - 1`` and ``c`` the segments become
``…, (s, c-1), (c-1, c), (c, …)`` so a keyframe lands exactly on ``c`` and no segment
interpolates across the cut. Where the GOP limit would leave a remainder shorter than half a
GOP before a hard boundary (cut or last frame), the last two segments share the distance
evenly (:func:`balanced_limit`).

Everything is evaluated at ``analysis_scale`` (default 0.5) of the frame size for speed.

``shown`` (the selectors' optional argument): the display index of each frame when the encoder
left repeated frames out (:mod:`actdiff.codec.repeats`). The GOP limits then count the frames
the video shows, not the frames coded: ``max_gop`` (and ``fixed_gop``) bound a segment's span
on the display time line, so a clip with repeats gets its keyframes as often as without them.
``min_gop`` still counts coded frames.

``fixed``: segments of ``fixed_gop`` frames (keyframes included), the last one shorter.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from actdiff.config import setting
from actdiff.errors import ConfigError
from actdiff.motion.warp import forward_splat
from actdiff.registry import KEYFRAME_SELECTORS
from actdiff.selection.scores import get_score
from actdiff.tracking.base import check_frames, fb_confidence, iter_chain
from actdiff.tracking.flow_memory import flow_buffers
from actdiff.types import Segment

log = logging.getLogger(__name__)

#: Accumulated splat weight above which a target pixel counts as reached.
COVERAGE_EPS = 0.05
#: Histogram bins per colour channel for scene-cut detection.
HIST_BINS = 8


def _check_gops(min_gop: int, max_gop: int) -> None:
    if min_gop < 2 or max_gop < min_gop:
        raise ConfigError(f"keyframes: need 2 <= min_gop <= max_gop, got min_gop={min_gop} max_gop={max_gop}")


def colour_histograms(frames: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """Normalised joint RGB histograms ``float64 (T, bins³)`` of ``uint8 (T, H, W, 3)`` frames
    (one frame at a time: whole-clip int64 temporaries took 40 bytes per analysed pixel and frame)."""
    hist = np.empty((frames.shape[0], bins ** 3), np.float64)
    for k, frame in enumerate(frames):
        q = (frame.astype(np.int32) * bins) >> 8
        hist[k] = np.bincount(((q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]).ravel(), minlength=bins ** 3)
    return hist / hist.sum(1, keepdims=True)


def histogram_distances(frames: np.ndarray) -> np.ndarray:
    """Total-variation distance in ``[0, 1]`` between colour histograms of consecutive frames,
    ``(T - 1,)``: entry ``k`` compares frames ``k`` and ``k + 1``."""
    h = colour_histograms(frames)
    return 0.5 * np.abs(np.diff(h, axis=0)).sum(1)


def pairwise_consistency(
    fw: np.ndarray, bw: np.ndarray, fb_threshold: float, visibility_threshold: float
) -> np.ndarray:
    """Fraction of pixels whose one-step forward–backward confidence is at least
    ``visibility_threshold``, ``(T - 1,)``."""
    out = np.empty(len(fw))
    h, w = fw.shape[1:3]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    for k in range(len(fw)):
        x, y = gx + fw[k][..., 0], gy + fw[k][..., 1]
        b = cv2.remap(bw[k], x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        err = np.linalg.norm(fw[k] + b, axis=-1)
        mag = np.linalg.norm(fw[k], axis=-1)
        out[k] = float((fb_confidence(err, fb_threshold, mag) >= visibility_threshold).mean())
    return out


def detect_cuts(
    frames: np.ndarray, fw: np.ndarray, bw: np.ndarray, threshold: float, fb_threshold: float,
    visibility_threshold: float, collapse: float = 0.3,
) -> List[int]:
    """Frames ``c`` that start a new shot (hard cut between ``c - 1`` and ``c``).

    A cut is declared when the colour-histogram distance exceeds ``threshold``, or exceeds
    ``threshold / 2`` while the one-step forward–backward consistency has collapsed (fewer
    than ``collapse`` of the pixels consistent).
    """
    dist = histogram_distances(frames)
    cons = pairwise_consistency(fw, bw, fb_threshold, visibility_threshold)
    cut = (dist > threshold) | ((dist > threshold / 2) & (cons < collapse))
    return [int(k) + 1 for k in np.flatnonzero(cut)]


def _analysis_inputs(
    frames: np.ndarray, fw: np.ndarray, bw: np.ndarray, scale: float, flow_memory_gb: Optional[float] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Frames and flows resized by ``scale`` (flows rescaled to the new pixel units); the resized
    flows are kept in memory or a temporary file as the full ones are
    (:func:`actdiff.tracking.flow_memory.flow_buffers`, ``flow_memory_gb`` of the tracker)."""
    t, h, w = frames.shape[:3]
    hs, ws = max(8, int(round(h * scale))), max(8, int(round(w * scale)))
    if (hs, ws) == (h, w):
        return frames, fw, bw, 1.0
    sx, sy = ws / w, hs / h
    small = np.stack([cv2.resize(f, (ws, hs), interpolation=cv2.INTER_AREA) for f in frames])
    fws, bws = flow_buffers(len(fw), hs, ws, flow_memory_gb)
    for flows, out in ((fw, fws), (bw, bws)):
        for k, f in enumerate(flows):
            out[k] = cv2.resize(f, (ws, hs), interpolation=cv2.INTER_AREA)
            out[k, ..., 0] *= sx
            out[k, ..., 1] *= sy
    return small, fws, bws, float(np.sqrt(sx * sy))


#: Per-frame test ``(key float32 (h, w, 3), target uint8 (h, w, 3), flow float32 (h, w, 2),
#: confidence float32 (h, w), visibility_threshold) -> passes`` at the analysis scale.
FrameTest = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float], bool]


def splat_keyframe(
    key: np.ndarray, flow: np.ndarray, conf: np.ndarray, visibility_threshold: float
) -> Tuple[np.ndarray, np.ndarray]:
    """Keyframe forward-splatted along ``flow`` (pixels below the visibility threshold dropped):
    ``(warped float32 (h, w, 3), reached bool (h, w))``."""
    weight = np.where(conf >= visibility_threshold, conf, 0.0)
    warped, cov = forward_splat(key, flow, weight)
    return warped, cov > COVERAGE_EPS


def frame_measures(key: np.ndarray, target: np.ndarray, flow: np.ndarray, conf: np.ndarray, cfg: Any,
                   visibility_threshold: float) -> Tuple[float, float]:
    """``(coverage, score)`` of the adaptive test for one frame (both always computed)."""
    warped, mask = splat_keyframe(key, flow, conf, visibility_threshold)
    score_fn = get_score(str(setting(cfg, "score", "gradient")))
    return float(mask.mean()), float(score_fn(warped, target.astype(np.float32), mask))


def heuristic_frame_test(cfg: Any) -> FrameTest:
    """The adaptive selector's per-frame pass/fail test (coverage, then score)."""
    score_fn = get_score(str(setting(cfg, "score", "gradient")))
    coverage_min = float(setting(cfg, "coverage_min", 0.7))
    score_min = float(setting(cfg, "score_min", 0.5))

    def test(key: np.ndarray, target: np.ndarray, flow: np.ndarray, conf: np.ndarray, vis: float) -> bool:
        warped, mask = splat_keyframe(key, flow, conf, vis)
        coverage = float(mask.mean())
        return coverage >= coverage_min and score_fn(warped, target.astype(np.float32), mask) >= score_min

    return test


def _grow_segment(
    frames: np.ndarray, fw: np.ndarray, bw: np.ndarray, s: int, limit: int, cfg: Any,
    fb_threshold: float, visibility_threshold: float, frame_test: Optional[FrameTest] = None,
) -> int:
    """End frame of the adaptive segment starting at ``s`` (at most ``limit``)."""
    test = heuristic_frame_test(cfg) if frame_test is None else frame_test
    patience = max(1, int(setting(cfg, "patience", 3)))
    min_gop = int(setting(cfg, "min_gop", 2))
    key = frames[s].astype(np.float32)
    fails, first_fail = 0, None
    for t, flow, conf in iter_chain(fw, bw, s, limit, fb_threshold):
        if t == s:
            continue
        ok = test(key, frames[t], flow, conf, visibility_threshold)
        if ok:
            fails, first_fail = 0, None
            continue
        fails += 1
        first_fail = t if first_fail is None else first_fail
        if fails >= patience:
            return min(max(first_fail, s + min_gop - 1), limit)
    return limit


def _timeline(shown: Optional[Sequence[int]], num: int) -> np.ndarray:
    """Display index of each of ``num`` frames: ``shown``, or the frames themselves."""
    pos = np.arange(num) if shown is None else np.asarray(shown, np.int64)
    if len(pos) != num or (np.diff(pos) < 1).any():
        raise ValueError(f"shown must give {num} increasing display indices, got {len(pos)}")
    return pos


def _reach(pos: np.ndarray, start: int, span: int, last: int) -> int:
    """The last frame (at most ``last``, at least ``start + 1``) shown within ``span`` frames
    after frame ``start`` on the display time line ``pos``."""
    end = int(np.searchsorted(pos, pos[start] + span, side="right")) - 1
    return max(start + 1, min(end, last))


def gop_limit(start: int, max_gop: int, last: int, shown: Optional[Sequence[int]] = None) -> int:
    """Last frame a segment starting at ``start`` may reach under ``max_gop`` (keyframes
    included, counted on the display time line ``shown``), at most ``last``."""
    return _reach(_timeline(shown, last + 1), start, max_gop - 1, last)


def balanced_limit(start: int, boundary: int, max_gop: int, min_gop: int = 2,
                   shown: Optional[Sequence[int]] = None) -> int:
    """Last frame the segment starting at ``start`` may reach before the hard ``boundary``
    (the frame before the next scene cut, or the last frame); spans count display frames
    when ``shown`` is given (module docstring).

    Normally ``start + max_gop - 1``. When that would leave a remainder before the boundary
    spanning less than half a longest GOP (the boundary is between one and 1.5 longest GOPs
    away), the two segments split the distance evenly instead, so the GOP limit does not
    leave a short remainder whose keyframe nearly duplicates the previous one (``max_gop=24``
    on 48 frames: keyframes ``0, 23, 35, 47`` instead of ``0, 23, 46, 47``). Kept greedy when
    an even split would make a half shorter than ``min_gop``.
    """
    pos = _timeline(shown, boundary + 1)
    span, d = max_gop - 1, int(pos[boundary] - pos[start])
    if span < d and 2 * (d - span) < span and d // 2 >= min_gop - 1:
        return _reach(pos, start, (d + 1) // 2, boundary)
    return _reach(pos, start, span, boundary)


def _trivial(num_frames: int) -> Optional[List[Segment]]:
    if num_frames == 1:
        return [Segment(0, 0)]
    if num_frames == 2:
        return [Segment(0, 1)]
    return None


@KEYFRAME_SELECTORS.register("adaptive")
def select_adaptive(frames: np.ndarray, tracker: Any, cfg: Any = None, flows: Optional[Sequence[np.ndarray]] = None,
                    frame_test: Optional[FrameTest] = None, shown: Optional[Sequence[int]] = None) -> List[Segment]:
    """Adaptive segments (module docstring). ``flows`` = ``tracker.pairwise_flows(frames)``
    if already computed (it is computed here otherwise). ``frame_test`` replaces the
    per-frame pass/fail test (default :func:`heuristic_frame_test`). ``shown``: the frames'
    display indices, for the GOP limits (module docstring)."""
    frames = check_frames(frames)
    num = frames.shape[0]
    trivial = _trivial(num)
    if trivial is not None:
        return trivial
    min_gop, max_gop = int(setting(cfg, "min_gop", 2)), int(setting(cfg, "max_gop", 48))
    _check_gops(min_gop, max_gop)
    get_score(str(setting(cfg, "score", "gradient")))  # unknown score → ConfigError before any work
    fw, bw = tracker.pairwise_flows(frames) if flows is None else flows
    fb = float(getattr(tracker, "fb_threshold", 1.5))
    vis = float(getattr(tracker, "visibility_threshold", 0.3))
    small, fws, bws, scale = _analysis_inputs(frames, fw, bw, float(setting(cfg, "analysis_scale", 0.5)),
                                              getattr(tracker, "flow_memory_gb", None))
    cuts = detect_cuts(small, fws, bws, float(setting(cfg, "scene_cut_threshold", 0.5)), fb * scale, vis)
    if cuts:
        log.info("scene cuts at frames %s", cuts)
    segments: List[Segment] = []
    s = 0
    while s < num - 1:
        limit = gop_limit(s, max_gop, num - 1, shown)
        cut = next((c for c in cuts if s < c <= limit), None)
        if cut == s + 1:
            segments.append(Segment(s, cut))
            s = cut
            continue
        if cut is not None:
            limit = cut - 1
        else:
            boundary = next((c - 1 for c in cuts if c > s + 1), num - 1)
            limit = balanced_limit(s, boundary, max_gop, min_gop, shown[: boundary + 1] if shown is not None else None)
        end = _grow_segment(small, fws, bws, s, limit, cfg, fb * scale, vis, frame_test)
        segments.append(Segment(s, end))
        s = end
    return segments


@KEYFRAME_SELECTORS.register("fixed")
def select_fixed(frames: np.ndarray, tracker: Any = None, cfg: Any = None, flows: Any = None,
                 shown: Optional[Sequence[int]] = None) -> List[Segment]:
    """Segments of ``fixed_gop`` frames (keyframes included; display frames with ``shown``)
    sharing boundaries; the last may be shorter. Scene cuts are ignored (this is the fixed-GOP
    ablation)."""
    num = check_frames(frames).shape[0]
    trivial = _trivial(num)
    if trivial is not None:
        return trivial
    gop = int(setting(cfg, "fixed_gop", 16))
    if gop < 2:
        raise ConfigError(f"keyframes.fixed_gop must be at least 2, got {gop}")
    segments, s = [], 0
    while s < num - 1:
        end = gop_limit(s, gop, num - 1, shown)
        segments.append(Segment(s, end))
        s = end
    return segments


def select_segments(
    frames: np.ndarray, tracker: Any, cfg: Any, flows: Optional[Sequence[np.ndarray]] = None,
    shown: Optional[Sequence[int]] = None,
) -> List[Segment]:
    """Segments by the selector named ``cfg.name`` (``adaptive`` | ``fixed`` | ``learned``);
    ``shown`` is passed on only when given (a selector without repeats support never sees it)."""
    select = KEYFRAME_SELECTORS.get(str(setting(cfg, "name", "adaptive")))
    return select(frames, tracker, cfg, flows=flows, **({} if shown is None else {"shown": shown}))
