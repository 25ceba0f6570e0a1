"""Rate control of the RD encoder: search λ until the real file size lands on a target bpp.

As x265's ABR searches its QP, :func:`encode_rd_to_target` searches ``log λ`` (the file shrinks
as λ grows): it starts at ``codec.rd.lambda``, steps by factors of 4 until the target is
bracketed, then narrows the bracket by regula falsi on ``(log λ, log bpp)`` (Illinois variant,
bisection when it stalls). Every trial runs the same :class:`~actdiff.codec.rdo.RDSearch`, so
flows, keyframe encodes, trajectory selections and decodes are computed once and reused.
The file size is a step function of λ (the decisions are discrete): when the bracket closes
without a hit, the structure (segments, budgets, keyframe scale) of the closer end is kept and
the λ of the final keyframe quality choice alone is searched the same way, over every integer
quality from the lowest of ``codec.rd.qualities`` to 100 (``stats["rd"]["keyframe_lambda"]``).
A target that still cannot be met gives the closest file, and ``stats["rate_control"]`` says so.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, List, Optional, Tuple

from omegaconf import DictConfig

from actdiff.codec.encoding import add_detail_mix, codec_section, prepare
from actdiff.codec.rdo import RDSearch, RDSettings
from actdiff.errors import ConfigError
from actdiff.types import EncodeResult, Video

log = logging.getLogger(__name__)

#: λ range searched (beyond it the decisions no longer change on clips of the cpu protocol).
LAMBDA_MIN, LAMBDA_MAX = 1e-3, 1e4


def _log_search(bpp: Callable[[float], float], x0: float, target: float, done: Callable[[], bool],
                spent: Callable[[], bool]) -> Tuple[Optional[float], Optional[float]]:
    """Bracket and narrow ``x`` (``bpp(x)`` falls as ``x`` grows) in log space: steps of ×4 from
    ``x0`` until ``bpp(lo) > target >= bpp(hi)``, then regula falsi (Illinois) on ``(log x, log
    bpp)``. Returns the bracket ``(lo, hi)`` (``None`` ends where it could not be closed)."""
    def err(x: float) -> float:
        return math.log(bpp(min(max(x, LAMBDA_MIN), LAMBDA_MAX)) / target)

    lo = hi = min(max(x0, LAMBDA_MIN), LAMBDA_MAX)
    if err(lo) > 0:
        while err(hi) > 0:
            if hi >= LAMBDA_MAX or spent():
                return lo, None
            lo, hi = hi, min(hi * 4, LAMBDA_MAX)
    else:
        while err(lo) <= 0:
            if lo <= LAMBDA_MIN or spent():
                return None, hi
            hi, lo = lo, max(lo / 4, LAMBDA_MIN)
    side = 0
    while not done() and not spent() and hi / lo > 1.01:
        x_lo, x_hi, f_lo, f_hi = math.log(lo), math.log(hi), err(lo), err(hi)
        if side == 1:
            f_hi /= 2
        elif side == -1:
            f_lo /= 2
        x = x_lo - f_lo * (x_hi - x_lo) / (f_hi - f_lo) if f_hi != f_lo else (x_lo + x_hi) / 2
        x = math.exp(min(max(x, x_lo + 0.05 * (x_hi - x_lo)), x_hi - 0.05 * (x_hi - x_lo)))
        if err(x) > 0:
            lo, side = x, -1 if side == -1 else 1
        else:
            hi, side = x, 1 if side == 1 else -1
    return lo, hi


def encode_rd_to_target(video: Video, cfg: DictConfig, target_bpp: float, tolerance: float = 0.1,
                        max_encodes: int = 16, flows: Optional[Tuple[Any, Any]] = None) -> EncodeResult:
    """RD-mode encode of ``video`` whose real size is within ``±tolerance`` of ``target_bpp``.

    Args:
        video: clip ``uint8 (T, H, W, 3)`` at the size it is coded at.
        cfg: composed config (or codec section) with ``codec.rd``; its λ is the first trial.
        target_bpp: bits per pixel of the whole file at the display size (> 0).
        tolerance: accepted relative error, in ``(0, 1)``.
        max_encodes: most trial searches.
        flows: precomputed pairwise flows (see :func:`actdiff.codec.encode_video`).

    Returns:
        The result closest to the target (in log-rate), with ``stats["rate_control"]`` as in
        :func:`actdiff.codec.ratecontrol.encode_to_target` (``params`` holds the chosen λ) and
        ``stats["rd"]`` of the chosen encode.
    """
    if isinstance(target_bpp, bool) or not isinstance(target_bpp, (int, float)) or not target_bpp > 0 \
            or not math.isfinite(target_bpp):
        raise ConfigError(f"target bpp must be a positive number, got {target_bpp!r}")
    if not 0 < tolerance < 1:
        raise ConfigError(f"rate-control tolerance must be in (0, 1), got {tolerance!r}")
    codec = codec_section(cfg)
    settings = RDSettings.from_config(codec)
    search = RDSearch(prepare(video, codec, flows), codec, settings)
    results: Dict[Tuple[float, Optional[float]], EncodeResult] = {}
    history: List[Dict[str, Any]] = []

    def trial(lam: float, key_lam: Optional[float] = None) -> float:
        key = (lam, key_lam)
        if key not in results:
            results[key] = search.encode(lam, key_lam, choose_mix=False)  # the choice: once, below
            history.append({"lambda": lam, "keyframe_lambda": key_lam, "bpp": results[key].stats["bpp"]})
            log.info("rd rate control: λ=%.4g (keyframes %s) → %.5f bpp", lam, key_lam, results[key].stats["bpp"])
        return results[key].stats["bpp"]

    def done() -> bool:
        return any(abs(h["bpp"] / target_bpp - 1) <= tolerance / 2 for h in history) or (
            len(history) >= 8 and any(abs(h["bpp"] / target_bpp - 1) <= tolerance for h in history))

    lam0 = min(max(settings.lam if settings.lam > 0 else 1.0, LAMBDA_MIN), LAMBDA_MAX)
    lo, hi = _log_search(lambda x: trial(x), lam0, target_bpp, done, lambda: len(history) >= max_encodes)
    if not done() and lo is not None and hi is not None:
        # the decisions are discrete: keep the structure of the closer end, tune the keyframes' λ
        lam = min((lo, hi), key=lambda x: abs(math.log(trial(x) / target_bpp)))
        _log_search(lambda x: trial(lam, x), lam, target_bpp, done, lambda: len(history) >= 2 * max_encodes)
    best = min(results, key=lambda k: abs(math.log(results[k].stats["bpp"] / target_bpp)))
    best_lam = best[0]
    res = add_detail_mix(results[best], search.prep.frames, codec)
    achieved = res.stats["bpp"]
    bpps = [h["bpp"] for h in history]
    within = abs(achieved / target_bpp - 1) <= tolerance
    reachable = "yes"
    lams = [k[0] for k in results]
    if min(bpps) > target_bpp * (1 + tolerance) and max(lams) >= LAMBDA_MAX:
        reachable = "below_minimum"
    elif max(bpps) < target_bpp * (1 - tolerance) and min(lams) <= LAMBDA_MIN:
        reachable = "above_maximum"
    note = "" if within else (
        f"could not reach {target_bpp:.5f} bpp within ±{100 * tolerance:g}% in {len(history)} RD searches "
        f"(λ {min(lams):.3g}–{max(lams):.3g}); closest is {achieved:.5f} bpp at λ={best_lam:.4g}")
    if note:
        log.warning("rd rate control: %s", note)
    stats = dict(res.stats)
    stats["rate_control"] = {
        "target_bpp": float(target_bpp), "achieved_bpp": achieved, "error": achieved / target_bpp - 1,
        "tolerance": tolerance, "within_tolerance": within, "reachable": reachable,
        "min_bpp": min(bpps), "max_bpp": max(bpps), "iterations": len(history),
        "params": {"mode": "rd", "lambda": best_lam, "keyframe_lambda": best[1] if best[1] is not None else best_lam},
        "history": history, "note": note,
    }
    return EncodeResult(data=res.data, stats=stats, debug=res.debug)


__all__ = ["LAMBDA_MAX", "LAMBDA_MIN", "encode_rd_to_target"]
