"""Learned selectors, plugged into the codec through the registries.

* ``KEYFRAME_SELECTORS["learned"]``: the adaptive selector's segment growing (patience,
  ``min_gop``/``max_gop``, scene cuts — :func:`actdiff.selection.segments.select_adaptive`)
  with the per-frame test replaced by :class:`KeyframeNet`: a frame passes when the predicted
  probability that it can still be reconstructed from the keyframe is at least
  ``keyframes.threshold`` (default 0.5). Weights: ``keyframes.weights`` (a ``save_pretrained``
  folder: ``config.json`` + ``diffusion_pytorch_model.safetensors``).
* ``WEIGHT_MAPS["learned"]``: :class:`ImportanceNet`'s per-pixel importance map of the
  segment's first frame, normalised like ``sobel`` (divided by its 99th percentile, clipped to
  ``[0, 1]``). The weight-map registry call only receives the frame, so the weights come from
  the ``weights=`` argument (a folder, as above), else from ``$ACTDIFF_WEIGHT_MAP_WEIGHTS``;
  :func:`weight_map_from_config` builds the map from ``trajectories.weight_map`` /
  ``trajectories.weight_map_weights`` for callers that hold the config.

Missing weights raise a one-line ``MissingWeightsError``; a single ``.safetensors`` file of the
old format an ``InputError`` naming its converter. Torch is imported only when a learned
selector is used. Training: :mod:`actdiff.training.selectors`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from actdiff.config import setting
from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.registry import KEYFRAME_SELECTORS, WEIGHT_MAPS
from actdiff.selection.segments import select_adaptive, splat_keyframe
from actdiff.types import Segment

#: Environment variable naming the learned weight map's weights (see the module docstring).
WEIGHT_MAP_ENV = "ACTDIFF_WEIGHT_MAP_WEIGHTS"


@functools.lru_cache(maxsize=8)
def _cached_net(path: str, kind: str, version: Tuple[int, ...]):
    from actdiff.selection.learned.nets import load_selector

    return load_selector(path, kind)


def load_cached(path: Any, kind: str):
    """The ``kind`` net of the weights folder ``path``, loaded once per version of its files
    (errors: :func:`actdiff.selection.learned.nets.load_selector`)."""
    from actdiff.selection.learned.nets import CONFIG_FILE, WEIGHT_FILE, load_selector

    p = Path(str(path)).expanduser().resolve()
    files = [p / CONFIG_FILE, p / WEIGHT_FILE]
    if not p.is_dir() or not all(f.is_file() for f in files):
        load_selector(p, kind)  # raises the one-line error (missing file, old single-file format)
    return _cached_net(str(p), kind, tuple(f.stat().st_mtime_ns for f in files))


class LearnedFrameTest:
    """Per-frame test of the adaptive selector backed by a :class:`KeyframeNet` (see
    :data:`actdiff.selection.segments.FrameTest`)."""

    def __init__(self, weights: Any, threshold: float = 0.5) -> None:
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"keyframes.threshold must be in (0, 1), got {threshold}")
        self.net = load_cached(weights, "keyframe_selector")
        self.threshold = float(threshold)

    def probability(self, key: np.ndarray, target: np.ndarray, flow: np.ndarray, conf: np.ndarray, vis: float) -> float:
        """Predicted probability in ``[0, 1]`` that ``target`` is reconstructible from ``key``."""
        import torch

        from actdiff.selection.learned.nets import keyframe_features

        warped, reached = splat_keyframe(key, flow, conf, vis)
        x = keyframe_features(key, target, flow, conf, warped, reached, self.net.feature_size)
        with torch.no_grad():
            return float(torch.sigmoid(self.net(torch.from_numpy(x)[None]))[0])

    def __call__(self, key: np.ndarray, target: np.ndarray, flow: np.ndarray, conf: np.ndarray, vis: float) -> bool:
        return self.probability(key, target, flow, conf, vis) >= self.threshold


@KEYFRAME_SELECTORS.register("learned")
def select_learned(
    frames: np.ndarray, tracker: Any, cfg: Any = None, flows: Optional[Sequence[np.ndarray]] = None,
    shown: Optional[Sequence[int]] = None,
) -> List[Segment]:
    """Adaptive segments whose per-frame test is the learned model (``keyframes.weights``);
    ``shown`` as in :func:`~actdiff.selection.segments.select_adaptive`."""
    weights = setting(cfg, "weights", None)
    if not weights:
        raise MissingWeightsError("keyframes.name=learned needs keyframes.weights=DIR (the folder written by "
                                  "actdiff fit --config configs/experiment/train_keyframe_selector.yaml export=DIR)")
    test = LearnedFrameTest(weights, float(setting(cfg, "threshold", 0.5)))
    return select_adaptive(frames, tracker, cfg, flows=flows, frame_test=test, shown=shown)


def _normalise(m: np.ndarray) -> np.ndarray:
    top = float(np.percentile(m, 99)) if m.size else 0.0
    if top <= 1e-6:
        return np.zeros_like(m, np.float32)
    return np.clip(m / top, 0.0, 1.0).astype(np.float32)


class LearnedWeightMap:
    """``frame uint8 (H, W, 3) -> float32 (H, W)`` in ``[0, 1]`` from an :class:`ImportanceNet`.

    The frame is resized to about ``work_pixels`` pixels (the size the net was trained at),
    the sigmoid output is resized back to ``(H, W)`` and normalised like ``sobel``.
    """

    def __init__(self, weights: Any) -> None:
        self.net = load_cached(weights, "trajectory_selector")

    def importance(self, frame: np.ndarray) -> np.ndarray:
        """Raw predicted importance ``float32 (H, W)`` in ``[0, 1]`` (not normalised)."""
        import cv2
        import torch

        from actdiff.selection.learned.nets import frame_input, work_size

        frame = np.asarray(frame, np.uint8)
        h, w = frame.shape[:2]
        size = work_size(h, w, int(self.net.config["work_pixels"]))
        with torch.no_grad():
            p = torch.sigmoid(self.net(torch.from_numpy(frame_input(frame, size))[None]))[0, 0].numpy()
        return cv2.resize(p.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return _normalise(self.importance(frame))


@WEIGHT_MAPS.register("learned")
def learned_map(frame: np.ndarray, weights: Optional[str] = None) -> np.ndarray:
    """Learned importance map of ``frame`` (weights: ``weights`` or ``$ACTDIFF_WEIGHT_MAP_WEIGHTS``)."""
    path = weights or os.environ.get(WEIGHT_MAP_ENV)
    if not path:
        raise MissingWeightsError(f"weight_map=learned needs weights: set {WEIGHT_MAP_ENV}=DIR (the folder written by "
                                  "actdiff fit --config configs/experiment/train_trajectory_selector.yaml export=DIR)")
    return LearnedWeightMap(path)(frame)


def weight_map_from_config(cfg: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The weight map named by ``cfg.weight_map``; for ``learned``, loaded once from
    ``cfg.weight_map_weights`` (else ``$ACTDIFF_WEIGHT_MAP_WEIGHTS``)."""
    name = str(setting(cfg, "weight_map", "sobel"))
    if name != "learned":
        return WEIGHT_MAPS.get(name)
    path = setting(cfg, "weight_map_weights", None) or os.environ.get(WEIGHT_MAP_ENV)
    if not path:
        learned_map(np.zeros((8, 8, 3), np.uint8))  # raises the one-line MissingWeightsError
    return LearnedWeightMap(path)


__all__ = ["LearnedFrameTest", "LearnedWeightMap", "WEIGHT_MAP_ENV", "learned_map", "load_cached",
           "select_learned", "weight_map_from_config"]
