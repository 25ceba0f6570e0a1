"""Weight maps of a keyframe (registry: ``actdiff.registry.WEIGHT_MAPS``).

Each entry is a function ``frame uint8 (H, W, 3) -> float32 (H, W)`` in ``[0, 1]`` saying
where motion errors matter (edges/structure) for trajectory selection.
"""

from __future__ import annotations

import cv2
import numpy as np

from actdiff.errors import MissingWeightsError
from actdiff.registry import WEIGHT_MAPS


def _normalise(m: np.ndarray) -> np.ndarray:
    top = float(np.percentile(m, 99)) if m.size else 0.0
    if top <= 1e-6:
        return np.zeros_like(m, np.float32)
    return np.clip(m / top, 0.0, 1.0).astype(np.float32)


@WEIGHT_MAPS.register("sobel")
def sobel_map(frame: np.ndarray, blur: float = 1.5) -> np.ndarray:
    """Sobel gradient magnitude of the luma, Gaussian-blurred (sigma ``blur`` px), divided by
    its 99th percentile and clipped to ``[0, 1]`` (all zeros on a flat frame)."""
    gray = cv2.cvtColor(np.asarray(frame, np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return _normalise(cv2.GaussianBlur(np.sqrt(gx * gx + gy * gy), (0, 0), blur))


@WEIGHT_MAPS.register("canny")
def canny_map(frame: np.ndarray, blur: float = 1.5) -> np.ndarray:
    """Canny edges (thresholds from the median luma) blurred by ``blur`` px, scaled to a
    peak of 1."""
    gray = cv2.cvtColor(np.asarray(frame, np.uint8), cv2.COLOR_RGB2GRAY)
    med = float(np.median(gray))
    edges = cv2.Canny(gray, int(max(0, 0.66 * med)), int(min(255, 1.33 * med) + 1)).astype(np.float32) / 255.0
    m = cv2.GaussianBlur(edges, (0, 0), blur)
    peak = float(m.max())
    return (m / peak).astype(np.float32) if peak > 0 else m


@WEIGHT_MAPS.register("none")
def uniform_map(frame: np.ndarray) -> np.ndarray:
    """All ones (the "no weight map" ablation)."""
    return np.ones(np.asarray(frame).shape[:2], np.float32)


@WEIGHT_MAPS.register("hed")
def hed_map(frame: np.ndarray) -> np.ndarray:
    """HED edge sketch (as in the method) — needs pretrained HED weights, not shipped."""
    raise MissingWeightsError(
        "weight_map=hed needs pretrained HED weights, which are not available offline; use weight_map=sobel or canny"
    )
