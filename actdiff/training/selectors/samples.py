"""Training samples of the learned selectors, computed from videos with the codec's own code.

* :func:`keyframe_samples` (``task: keyframe_selector``): for a video, the real tracker's pairwise
  flows are computed once; from segment starts every ``data.starts_every`` frames the flows are
  chained ``data.horizon`` frames ahead at the adaptive selector's ``analysis_scale`` and each
  (keyframe, frame) pair becomes one sample:
  :func:`actdiff.selection.learned.nets.keyframe_features` and a label

  * ``heuristic``: the adaptive selector's pass/fail test (coverage ≥ ``coverage_min`` and
    score ≥ ``score_min``, :func:`actdiff.selection.segments.frame_measures`);
  * ``splat_psnr``: PSNR (dB) of the splatted keyframe (holes filled with the keyframe)
    against the frame ≥ ``data.psnr_min``.

* :func:`trajectory_samples` (``task: trajectory_selector``): windows of ``data.window`` frames
  every ``data.window_every`` frames; target = :func:`importance_target`, the greedy
  selector's residual map (``Problem.residual`` of :mod:`actdiff.selection.trajectories` with
  ``weight_map: none``: the time-mean, visibility-weighted error the codec attributes to
  densifying ``data.uniform_points`` uniform trajectories, bandwidth fitted as in the codec),
  divided by its 99th percentile and clipped to ``[0, 1]``; input = the first frame, at
  ``model.work_pixels`` pixels. The target follows whatever that residual measures (it is
  recomputed from the current code whenever samples are built).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np
from omegaconf import DictConfig, OmegaConf

from actdiff.errors import ConfigError
from actdiff.selection.learned.nets import frame_input, keyframe_features, work_size
from actdiff.types import Video

LABELS = ("heuristic", "splat_psnr")


def check_label(data: Any) -> str:
    """``data.label`` when it is one of :data:`LABELS`, else a one-line ``ConfigError``."""
    label = str(data.get("label", "heuristic"))
    if label not in LABELS:
        raise ConfigError(f"unknown data.label {label!r} (known: {', '.join(LABELS)})")
    return label


def plain(cfg: Any) -> Dict[str, Any]:
    """A config section as a plain ``dict`` (resolved)."""
    return dict(OmegaConf.to_container(cfg, resolve=True)) if isinstance(cfg, DictConfig) else dict(cfg or {})


def _tracker(codec: DictConfig):
    import actdiff.tracking  # noqa: F401  (registers the trackers)
    from actdiff.registry import TRACKERS

    params = plain(codec.tracker)
    params.pop("name", None)
    return TRACKERS.build(str(codec.tracker.name), **params)


def keyframe_samples(video: Video, codec: DictConfig, data: Dict[str, Any],
                     feature_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features float16 (N, 13, h, w), labels float32 (N,), starts int (N,))`` of one video
    (features stored in float16 to keep many clips in memory; the dataset returns float32)."""
    from actdiff.selection.segments import _analysis_inputs, frame_measures, splat_keyframe
    from actdiff.tracking.base import iter_chain

    frames = video.frames
    if len(frames) < 2:
        return np.zeros((0, 13, *feature_size), np.float16), np.zeros(0, np.float32), np.zeros(0, int)
    tracker = _tracker(codec)
    kcfg = codec.keyframes
    fw, bw = tracker.pairwise_flows(frames)
    small, fws, bws, scale = _analysis_inputs(frames, fw, bw, float(kcfg.get("analysis_scale", 0.5) or 0.5),
                                              getattr(tracker, "flow_memory_gb", None))
    fb, vis = float(tracker.fb_threshold) * scale, float(tracker.visibility_threshold)
    label = check_label(data)
    cmin, smin = float(kcfg.coverage_min), float(kcfg.score_min)
    psnr_min = float(data.get("psnr_min", 24.0))
    xs, ys, ss = [], [], []
    horizon = int(data.get("horizon", 24))
    for s in range(0, len(frames) - 1, max(1, int(data.get("starts_every", 4)))):
        key = small[s].astype(np.float32)
        for t, flow, conf in iter_chain(fws, bws, s, min(len(frames) - 1, s + horizon), fb):
            if t == s:
                continue
            warped, reached = splat_keyframe(key, flow, conf, vis)
            if label == "heuristic":
                coverage, score = frame_measures(key, small[t], flow, conf, kcfg, vis)
                y = coverage >= cmin and score >= smin
            else:
                filled = np.where(reached[..., None], warped, key)
                mse = float(np.mean((filled - small[t].astype(np.float32)) ** 2))
                y = 10 * np.log10(255.0 ** 2 / max(mse, 1e-10)) >= psnr_min
            xs.append(keyframe_features(key, small[t], flow, conf, warped, reached, feature_size).astype(np.float16))
            ys.append(float(y))
            ss.append(s)
    return np.stack(xs), np.asarray(ys, np.float32), np.asarray(ss, int)


def importance_target(frame0: np.ndarray, motion, visibility_threshold: float, n_points: int) -> np.ndarray:
    """Greedy-selection residual ``float32 (h, w)`` (the codec's error grid) of ``n_points``
    uniform trajectories of ``motion``, normalised to ``[0, 1]`` (module docstring)."""
    from actdiff.selection.learned import _normalise
    from actdiff.selection.trajectories import prepare, uniform_points

    prob = prepare(frame0, motion, {"weight_map": "none"}, visibility_threshold)
    pts = uniform_points(n_points, *prob.size)
    return _normalise(prob.residual(pts, prob.fit(pts)))


def trajectory_samples(video: Video, codec: DictConfig, data: Dict[str, Any],
                       work_pixels: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(inputs float32 (N, 3, h, w), targets float32 (N, 1, h, w))`` of one video."""
    import cv2

    from actdiff.tracking import chain_flows

    frames = video.frames
    window = int(data.get("window", 16))
    if window < 3:
        raise ConfigError(f"data.window must be at least 3, got {window}")
    n = len(frames)
    size = work_size(frames.shape[1], frames.shape[2], work_pixels)
    if n < 3:
        return np.zeros((0, 3, *size), np.float32), np.zeros((0, 1, *size), np.float32)
    tracker = _tracker(codec)
    fw, bw = tracker.pairwise_flows(frames)
    xs, ys = [], []
    for s in range(0, max(1, n - 2), max(1, int(data.get("window_every", 8)))):
        end = min(n - 1, s + window - 1)
        if end - s < 2:
            break
        motion = chain_flows(fw, bw, s, end, float(tracker.fb_threshold))
        target = importance_target(frames[s], motion, float(tracker.visibility_threshold),
                                   int(data.get("uniform_points", 48)))
        xs.append(frame_input(frames[s], size))
        ys.append(cv2.resize(target, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)[None])
    return np.stack(xs), np.stack(ys).astype(np.float32)


__all__ = ["LABELS", "importance_target", "keyframe_samples", "plain", "trajectory_samples"]
