"""Quality metrics, one code path for ActDiff and the baselines.

Every metric is registered in ``actdiff.registry.METRICS``; ``METRICS.build(name)`` returns a
:class:`Metric` (EDM2-style: a name, a kind telling what it consumes, a direction and a
function). Kinds:

* ``nr`` — no-reference, per frame: ``fn(rec (B,3,H,W) float [0,1]) -> (B,)``;
* ``fr`` — full-reference, per frame: ``fn(ref, rec) -> (B,)`` (``psnr_y``, ``psnr_u``, ``psnr_v``,
  ``psnr_yuv``: of the BT.709 limited-range 4:2:0 planes, as video coding reports it,
  :mod:`actdiff.metrics.yuv`);
* ``clip`` — whole clip: ``fn(ref uint8 (T,H,W,3), rec) -> float`` (``warping_error``, ``tof``,
  ``tlp`` — temporal, see ``actdiff.metrics.temporal`` — and ``vmaf``, ``vmaf_neg`` through
  ffmpeg's libvmaf, see ``actdiff.metrics.vmaf``);
* ``dist`` — distribution (FID/KID) over frames or HiFiC patches, see ``actdiff.metrics.fid``;
  FVD/KVD (``fvd``, ``kvd``) over 16-frame clips with I3D features, see ``actdiff.metrics.i3d``
  (from 96 frames only 6 clips: a biased, noisy estimate).

Per-frame metrics are averaged over frames (NaN frames, e.g. NIQE on flat frames, are left out
of the mean with a warning; all NaN → NaN). Use :func:`compute_metrics`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from actdiff.errors import ConfigError, InputError, check_distinct, shorten
from actdiff.metrics import full_reference as fr
from actdiff.metrics.fid import INCEPTION_FILE, PATCH, DistributionMetrics
from actdiff.metrics.i3d import I3D_FILE
from actdiff.metrics.niqe import BLOCK as NIQE_BLOCK
from actdiff.metrics.niqe import niqe
from actdiff.metrics.temporal import tlp, tof, warping_error
from actdiff.metrics.vmaf import find_ffmpeg, vmaf, vmaf_neg
from actdiff.metrics.weights import find_weights, require_all
from actdiff.metrics.yuv import YUV_METRICS, frame_plane_psnr, plane_values, psnr_u, psnr_v, psnr_y, psnr_yuv
from actdiff.registry import METRICS
from actdiff.types import Video

DEFAULT_METRICS = ("psnr", "ms_ssim", "niqe", "warping_error")


@dataclass(frozen=True)
class Metric:
    """One metric. ``lower_is_better`` drives BD-rate sign flips and plots."""

    name: str
    kind: str
    fn: Callable[..., Any] | None
    lower_is_better: bool
    unit: str = ""
    requires: Callable[[], Any] | None = None  # raises MissingWeightsError when weights/tools are absent
    #: Smallest frames it is defined on: ``(short side, long side)`` in pixels (``(0, 0)``: any).
    min_size: tuple[int, int] = (0, 0)


def _inception() -> Any:
    return find_weights(INCEPTION_FILE, what="FID Inception-v3")


def _i3d() -> Any:
    return find_weights(I3D_FILE, what="FVD Inception-I3D")


# distribution metric → (DistributionMetrics protocol, score name, weights check)
DIST_METRICS: dict[str, tuple[str, str, Callable[[], Any]]] = {
    "fid": ("frames", "fid", _inception),
    "kid": ("frames", "kid", _inception),
    "fid_patches": ("patches", "fid", _inception),
    "kid_patches": ("patches", "kid", _inception),
    "fvd": ("clips16", "fvd", _i3d),
    "kvd": ("clips16", "kvd", _i3d),
}


#: Metric → smallest frames ``(short side, long side)`` it is defined on, from the code that computes
#: it: MS-SSIM 44 px for its 3 coarsest scales (torchmetrics: ``side // (scales - 1)**2 > 10``); VIF
#: (piq ``vif_p``) 41x41; HaarPSI (piq, 3 scales) a 16-px kernel; ``psnr_lowres`` one 8x8 block;
#: the warping error's DIS flow 8 px; NIQE two whole 96x96 blocks (``niqe.niqe_luma``); the HiFiC
#: patches of ``fid_patches``/``kid_patches`` 256x256. Smaller frames: ``check_frame_size`` refuses.
MIN_SIZES: dict[str, tuple[int, int]] = {
    "ms_ssim": (44, 44), "vif": (41, 41), "haarpsi": (16, 16), "psnr_lowres": (fr.LOWRES_FACTOR,) * 2,
    "warping_error": (8, 8), "niqe": (NIQE_BLOCK, 2 * NIQE_BLOCK), "fid_patches": (PATCH, PATCH),
    "kid_patches": (PATCH, PATCH),
}


def _register(name: str, kind: str, fn: Callable[..., Any] | None, lower: bool, unit: str = "",
              requires: Callable[[], Any] | None = None) -> None:
    metric = Metric(name, kind, fn, lower, unit, requires, MIN_SIZES.get(name, (0, 0)))
    METRICS.register(name)(lambda: metric)


_register("psnr", "fr", fr.psnr, False, "dB")
_register("psnr_lowres", "fr", fr.psnr_lowres, False, "dB")
for _name, _fn in (("psnr_y", psnr_y), ("psnr_u", psnr_u), ("psnr_v", psnr_v), ("psnr_yuv", psnr_yuv)):
    _register(_name, "fr", _fn, False, "dB")   # BT.709 limited 4:2:0 planes, actdiff.metrics.yuv
_register("ms_ssim", "fr", fr.ms_ssim, False)
_register("haarpsi", "fr", fr.haarpsi, False)
_register("vif", "fr", fr.vif, False)
_register("gmsd", "fr", fr.gmsd, True)
_register("lpips", "fr", fr.lpips, True, requires=lambda: require_all([fr.VGG16_FILE, fr.LPIPS_FILE], "LPIPS-VGG"))
_register("dists", "fr", fr.dists, True, requires=lambda: require_all([fr.VGG16_FILE, fr.DISTS_FILE], "DISTS"))
_register("niqe", "nr", niqe, True)
_register("warping_error", "clip", warping_error, True)
_register("tof", "clip", tof, True, "px")
_register("tlp", "clip", tlp, True, requires=lambda: require_all([fr.VGG16_FILE, fr.LPIPS_FILE], "tLP (LPIPS-VGG)"))
_register("vmaf", "clip", vmaf, False, requires=find_ffmpeg)
_register("vmaf_neg", "clip", vmaf_neg, False, requires=find_ffmpeg)
for _name, (_, _, _requires) in DIST_METRICS.items():
    _register(_name, "dist", None, True, requires=_requires)

#: Metrics in dB whose per-frame values are capped at 100 dB (identical frames: not ``inf``).
CAPPED_DB = frozenset(n for n in METRICS.names() if n.startswith("psnr"))
LOWER_IS_BETTER = frozenset(n for n in METRICS.names() if METRICS.build(n).lower_is_better)


def get_metric(name: str) -> Metric:
    """The registered metric ``name`` (``ConfigError`` listing the known ones otherwise)."""
    return METRICS.build(name)


def _check_known(names: Sequence[str]) -> None:
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)} (known: {', '.join(METRICS.names())})")


def _check_names(names: Any) -> None:
    """``ConfigError`` unless ``names`` is a list (or tuple) of strings: a single string would be
    read letter by letter."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise ConfigError(f"metrics must be a list of metric names, got {type(names).__name__} {shorten(repr(names))}")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise ConfigError(f"metrics must be metric names (str), got {type(bad[0]).__name__} {shorten(repr(bad[0]))}")


def check_metrics(names: Sequence[str]) -> None:
    """Fail early, before any encoding: not a list of strings, unknown names → ``ConfigError``; a
    metric whose weights or tool (LPIPS/DISTS weights, an ffmpeg with libvmaf) is missing →
    ``MissingWeightsError``; a name given twice → ``ConfigError``. The frame size is checked per clip,
    once it is read (:func:`check_frame_size`)."""
    _check_names(names)
    _check_known(names)
    check_distinct("metrics", names)
    for name in names:
        requires = get_metric(name).requires
        if requires is not None:
            requires()


def check_frame_size(names: Sequence[str], height: int, width: int, what: str = "the clip") -> None:
    """One-line ``InputError`` when a metric of ``names`` is undefined on ``height`` x ``width``
    frames (:data:`MIN_SIZES`): before any encoding, not a piq error or a NaN after it."""
    for name in names:
        short, long = get_metric(name).min_size
        if min(height, width) < short or max(height, width) < long:
            need = f"{short}x{long} or {long}x{short}" if long != short else f"{short}x{short}"
            raise InputError(f"metric {name} needs frames of at least {need} pixels; {what} is "
                             f"{width}x{height} (width x height): drop {name} or use larger frames")


def lower_is_better(name: str) -> bool:
    """Direction of ``name``; unknown names (e.g. ``bpp``) count as higher-is-better."""
    return name in METRICS and METRICS.build(name).lower_is_better


def as_frames(v: Video | np.ndarray) -> np.ndarray:
    """``uint8 (T, H, W, 3)`` frames of a ``Video`` or array (a single ``(H, W, 3)`` frame → T=1)."""
    arr = v.frames if isinstance(v, Video) else np.asarray(v)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise InputError(f"metrics need uint8 (T, H, W, 3) frames, got {arr.dtype} {arr.shape}")
    return arr


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``uint8 (T, H, W, 3)`` → float32 ``(T, 3, H, W)`` in ``[0, 1]``."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0


def _frame_mean(name: str, values: torch.Tensor) -> float:
    v = values.double().numpy()
    finite = v[~np.isnan(v)]
    if finite.size == 0:
        return float("nan")
    if finite.size < v.size:
        warnings.warn(f"{name}: {v.size - finite.size} of {v.size} frames undefined (NaN), left out of the mean",
                      stacklevel=3)
    return float(finite.mean())


@torch.no_grad()
def per_frame(name: str, ref: np.ndarray, rec: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Per-frame values of an ``nr``/``fr`` metric → ``float64 (T,)``."""
    m = get_metric(name)
    out = []
    for i in range(0, len(rec), batch_size):
        y = to_tensor(rec[i : i + batch_size])
        out.append(m.fn(y) if m.kind == "nr" else m.fn(to_tensor(ref[i : i + batch_size]), y))
    return torch.cat(out).double().numpy()


def compute_metrics(
    ref: Video | np.ndarray,
    rec: Video | np.ndarray,
    metrics: Sequence[str] = DEFAULT_METRICS,
    fid_feature: torch.nn.Module | None = None,
    batch_size: int = 8,
) -> dict[str, float]:
    """All requested metrics of ``rec`` against ``ref`` (same shape, ``uint8 (T, H, W, 3)``).

    Returns ``{name: float}``; per-frame metrics are means over frames; ``psnr`` is the mean of
    per-frame PSNRs (frames identical to the reference are capped at 100 dB; likewise
    ``psnr_lowres`` and the planes' ``psnr_y``, ``psnr_u``, ``psnr_v``, ``psnr_yuv``). ``fid``/``kid``
    use whole frames, ``fid_patches``/``kid_patches`` HiFiC 256-px
    patches, ``fvd``/``kvd`` 16-frame clips (NaN with a warning below 32 frames); ``fid_feature``
    replaces the standard Inception and I3D (tests, custom extractors: it gets ``uint8 (N, 3, H, W)``
    frames, or ``uint8 (N, 3, 16, H, W)`` clips for ``fvd``/``kvd``).
    """
    a, b = as_frames(ref), as_frames(rec)
    if a.shape != b.shape:
        raise InputError(f"reference {a.shape} and reconstruction {b.shape} differ in shape")
    _check_known(metrics)
    out: dict[str, float] = {}
    dist: dict[str, dict[str, float]] = {}
    planes = None   # the Y, U, V PSNRs per frame, computed once for all the plane metrics asked for
    for name in metrics:
        m = get_metric(name)
        if name in YUV_METRICS:
            planes = frame_plane_psnr(a, b) if planes is None else planes
            out[name] = _frame_mean(name, torch.from_numpy(np.minimum(plane_values(planes, name), 100.0)))
        elif m.kind in ("nr", "fr"):
            vals = per_frame(name, a, b, batch_size)
            if name in CAPPED_DB:  # identical frames: capped at 100 dB, not inf
                vals = np.minimum(vals, 100.0)
            out[name] = _frame_mean(name, torch.from_numpy(vals))
        elif m.kind == "clip":
            out[name] = float(m.fn(a, b))
        else:
            proto, score, _ = DIST_METRICS[name]
            if proto not in dist:
                dm = DistributionMetrics(feature=fid_feature, protocol=proto)
                dm.update(a, b)
                dist[proto] = dm.compute()
            out[name] = dist[proto][score]
    return {k: (float(v) if not (isinstance(v, float) and math.isnan(v)) else float("nan")) for k, v in out.items()}


__all__ = [
    "DEFAULT_METRICS",
    "DIST_METRICS",
    "MIN_SIZES",
    "LOWER_IS_BETTER",
    "DistributionMetrics",
    "Metric",
    "as_frames",
    "check_frame_size",
    "check_metrics",
    "compute_metrics",
    "get_metric",
    "lower_is_better",
    "niqe",
    "per_frame",
    "tlp",
    "tof",
    "to_tensor",
    "vmaf",
    "vmaf_neg",
    "warping_error",
]
