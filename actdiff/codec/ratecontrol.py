"""Rate control: encode a clip so that its real file size lands on a target bits-per-pixel.

One monotone "rate knob" ``λ ∈ [0, 1]`` turns the codec settings together (:mod:`actdiff.codec.rate_knob`).
``encode_to_target`` measures the real encoded size (``8 · len(bytes) / (frames · H · W)``) and searches ``λ`` (regula
falsi on log-bpp, bisection fallback); since a GOP change adds a whole keyframe, the size is a step function of ``λ``,
so when the bracket closes without a hit it fine-tunes the keyframe quality alone (integer bisection) with the GOP and
budget of the bracket's ends. The pairwise flows are computed once and reused by every trial encode; the encoder's
detail-mix choice runs once, on the encode kept.

The decoded choice of trajectories (``trajectories.decoded_choice``, :mod:`actdiff.codec.decoded_choice`) decodes
every candidate set: the trial encodes leave it out (it moves a file's size by a few per cent), and the settings
found are encoded once more with it. When that file misses the tolerance, the search goes on with the choice in
every trial, from where it is (``stats["rate_control"]["history"]`` marks each trial's ``decoded_choice``).

Below ``λ = 0`` (keyframe quality 0, relaxed selector, longest GOP) the only knob left is the keyframe resolution: when
even ``λ = 0`` is too big (clips with many scene cuts need many keyframes), the keyframes are coded downscaled by
``scale`` (``keyframe_codec.scale``, :mod:`actdiff.image_codecs.scaled`; multiples of 1/8 up to ``max_scale``),
searched by regula falsi on log-bpp against log-scale, then the keyframe quality is fine-tuned at the chosen scale.
Rate control owns ``keyframe_codec.scale`` like it owns the quality: it is 1 everywhere on the λ range.

A target below the smallest (above the largest) file the knob can make is unreachable: the closest file is returned and
the fact is logged and written to ``stats["rate_control"]``.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import asdict, replace
from typing import Any, Callable, Dict, List, Optional, Tuple

from omegaconf import DictConfig

from actdiff.codec.decoded_choice import decoded_choice_on
from actdiff.codec.encoder import codec_section, encode_video, pairwise_flows
from actdiff.codec.encoding import add_detail_mix
from actdiff.codec.rate_knob import RateKnob, RateParams, anchors_from_rates, default_anchors, with_params
from actdiff.codec.rd_ratecontrol import encode_rd_to_target
from actdiff.errors import ConfigError
from actdiff.image_codecs.scaled import MAX_SCALE
from actdiff.progress import open_bar
from actdiff.types import EncodeResult, Video

log = logging.getLogger(__name__)


class _Trials:
    """Encodes the clip once per distinct setting and remembers every result (and the best)."""

    def __init__(self, video: Video, cfg: DictConfig, target: float, flows: Any = None) -> None:
        self.video, self.cfg, self.target = video, cfg, target
        self.choice = decoded_choice_on(codec_section(cfg))
        self.flows = pairwise_flows(video, cfg) if flows is None else flows
        self.cache: Dict[RateParams, EncodeResult] = {}
        self.history: List[Dict[str, Any]] = []
        self.lambdas: Dict[RateParams, Optional[float]] = {}
        self.best: Optional[Tuple[RateParams, EncodeResult]] = None
        self.pbar = open_bar(None, "rate control", unit="encode", leave=False)  # closed by encode_to_target

    def __call__(self, params: RateParams, lam: Optional[float] = None) -> float:
        if params not in self.cache:
            res = encode_video(self.video, with_params(self.cfg, params), flows=self.flows, choose_mix=False)
            self.cache[params] = res
            self.lambdas[params] = lam
            self.history.append({"lambda": lam, **asdict(params), "bpp": res.stats["bpp"],
                                 "decoded_choice": self.choice})
            log.info("rate control: λ=%s %s → %.5f bpp", lam, params, res.stats["bpp"])
            self.pbar.update(1)
            if self.best is None or abs(math.log(res.stats["bpp"] / self.target)) < abs(
                    math.log(self.best[1].stats["bpp"] / self.target)):
                self.best = (params, res)
        return self.cache[params].stats["bpp"]

    def hit(self, tolerance: float) -> bool:
        return self.best is not None and abs(self.best[1].stats["bpp"] / self.target - 1) <= tolerance

    def done(self, tolerance: float) -> bool:
        """Aim at half the tolerance; after 8 encodes accept anything inside it."""
        return self.hit(tolerance / 2) or (self.encodes >= 8 and self.hit(tolerance))

    @property
    def encodes(self) -> int:
        return len(self.cache)


def _search_lambda(trials: _Trials, knob: RateKnob, n: int, min_gop: int, tolerance: float,
                   lo: float, hi: float, r_lo: float, r_hi: float, max_encodes: int) -> Tuple[float, float]:
    """Shrink ``[lo, hi]`` (``bpp(lo) < target < bpp(hi)``) by regula falsi on log-bpp."""
    target = math.log(trials.target)
    side = 0
    while not trials.done(tolerance) and trials.encodes < max_encodes and hi - lo > 1e-3:
        f_lo, f_hi = math.log(r_lo) - target, math.log(r_hi) - target
        if side == 1:
            f_hi /= 2  # Illinois: halve the weight of an end that stays put
        elif side == -1:
            f_lo /= 2
        lam = lo - f_lo * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else (lo + hi) / 2
        lam = min(max(lam, lo + 0.05 * (hi - lo)), hi - 0.05 * (hi - lo))
        if knob.params(lam, n, min_gop) in (knob.params(lo, n, min_gop), knob.params(hi, n, min_gop)):
            lam = (lo + hi) / 2
        r = trials(knob.params(lam, n, min_gop), lam)
        if r < trials.target:
            lo, r_lo, side = lam, r, -1 if side == -1 else 1
        else:
            hi, r_hi, side = lam, r, 1 if side == 1 else -1
    return lo, hi


def _search_quality(trials: _Trials, base: RateParams, tolerance: float, max_encodes: int) -> None:
    """Integer bisection of the keyframe quality with ``base``'s GOP and budget."""
    def at(q: int) -> float:
        return trials(replace(base, quality=q))

    lo, hi = 0, 100
    r_lo = at(lo)
    if r_lo >= trials.target:
        return
    while hi - lo > 1 and not trials.done(tolerance) and trials.encodes < max_encodes:
        mid = (lo + hi) // 2
        if at(mid) < trials.target:
            lo = mid
        else:
            hi = mid


#: Resolution of the searched keyframe scales (an exact float32, so the header stays 4 bytes).
SCALE_STEP = 0.125


def _quantize_scale(scale: float) -> float:
    return round(scale / SCALE_STEP) * SCALE_STEP


def _search_scale(trials: _Trials, base: RateParams, tolerance: float, max_scale: float,
                  max_encodes: int) -> None:
    """Below ``λ = 0``: raise the keyframe downscale factor of ``base`` (``bpp(base)`` is
    above the target) until the file fits, then fine-tune the quality at that scale."""
    target = math.log(trials.target)
    s_lo, r_lo = base.scale, trials(base)
    s_hi = _quantize_scale(max_scale)
    r_hi = trials(replace(base, scale=s_hi), 0.0)
    if r_hi >= trials.target or s_hi <= s_lo:
        return  # even the smallest keyframes are too big (the caller reports it)
    side = 0
    while not trials.done(tolerance) and trials.encodes < max_encodes and s_hi - s_lo > SCALE_STEP:
        x_lo, x_hi = math.log(s_lo), math.log(s_hi)
        f_lo, f_hi = math.log(r_lo) - target, math.log(r_hi) - target
        if side == 1:
            f_hi /= 2  # Illinois, as in _search_lambda
        elif side == -1:
            f_lo /= 2
        x = x_lo - f_lo * (x_hi - x_lo) / (f_hi - f_lo) if f_hi != f_lo else (x_lo + x_hi) / 2
        x = min(max(x, x_lo + 0.05 * (x_hi - x_lo)), x_hi - 0.05 * (x_hi - x_lo))
        s = _quantize_scale(math.exp(x))
        if s <= s_lo or s >= s_hi:
            s = _quantize_scale((s_lo + s_hi) / 2)
        if s <= s_lo or s >= s_hi:
            break
        r = trials(replace(base, scale=s), 0.0)
        if r > trials.target:
            s_lo, r_lo, side = s, r, -1 if side == -1 else 1
        else:
            s_hi, r_hi, side = s, r, 1 if side == 1 else -1
    if not trials.done(tolerance):
        _search_quality(trials, replace(base, scale=s_hi), tolerance, max_encodes)


def _search(trials: _Trials, knob: RateKnob, n: int, min_gop: int, tolerance: float, max_scale: float,
            max_encodes: int) -> Tuple[str, float]:
    """Search the knob (then the keyframe scale below ``λ = 0``) for ``trials.target``; returns
    whether it is reachable (``"yes"``, ``"below_minimum"``, ``"above_maximum"``) and the ``λ = 1`` rate."""
    target_bpp = trials.target
    p0, p1 = knob.params(0.0, n, min_gop), knob.params(1.0, n, min_gop)
    r0, r1 = trials(p0, 0.0), trials(p1, 1.0)
    reachable = "yes"
    if r0 > target_bpp * (1 + tolerance):
        _search_scale(trials, p0, tolerance, max_scale, max_encodes)
        if min(h["bpp"] for h in trials.history) > target_bpp * (1 + tolerance):
            reachable = "below_minimum"
    elif r1 < target_bpp * (1 - tolerance):
        reachable = "above_maximum"
    elif not trials.done(tolerance) and r0 < target_bpp < r1:
        lo, hi = _search_lambda(trials, knob, n, min_gop, tolerance, 0.0, 1.0, r0, r1, max_encodes)
        for lam in (lo, hi):  # GOP/budget steps: fine-tune quality at each end's structure
            if not trials.done(tolerance):
                _search_quality(trials, knob.params(lam, n, min_gop), tolerance, max_encodes)
    return reachable, r1


def without_decoded_choice(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` (full config or codec section) with ``trajectories.decoded_choice`` off."""
    out = copy.deepcopy(cfg)
    codec_section(out).trajectories.decoded_choice = False
    return out


def encode_to_target(
    video: Video,
    cfg: DictConfig,
    target_bpp: float,
    tolerance: float = 0.1,
    knob: Optional[RateKnob] = None,
    max_encodes: int = 24,
    max_scale: float = 8.0,
) -> EncodeResult:
    """Encode ``video`` so that its real size is within ``±tolerance`` (relative) of ``target_bpp``.

    Args:
        video: clip ``uint8 (T, H, W, 3)`` at the size it is coded at.
        cfg: composed config (or codec section); everything but the knob's settings is kept.
        target_bpp: bits per pixel of the whole file at the display size (> 0).
        tolerance: accepted relative error, in ``(0, 1)``.
        knob: the λ → settings map (default :func:`default_anchors`).
        max_encodes: most trial encodes.
        max_scale: largest keyframe downscale factor tried below ``λ = 0`` (1 disables it;
            at most :data:`actdiff.image_codecs.scaled.MAX_SCALE`).

    Returns:
        The ``EncodeResult`` closest to the target (in log-rate), with ``stats["rate_control"]``:
        ``target_bpp``, ``achieved_bpp``, ``error`` (relative), ``within_tolerance``,
        ``reachable`` (``"yes"``, ``"below_minimum"``, ``"above_maximum"``), ``min_bpp``/``max_bpp``
        (the smallest file made — the ``λ = 0`` end, or smaller with downscaled keyframes when
        those were tried — and the ``λ = 1`` end, over the trials of either kind; the kept file
        when the target is out of reach), ``iterations`` (trial encodes), ``params``
        (chosen quality, budget_points, max_gop, strictness, keyframe scale, λ), ``history``
        and ``note`` (human-readable, never empty when the target was missed).
    """
    if isinstance(target_bpp, bool) or not isinstance(target_bpp, (int, float)) or not target_bpp > 0 \
            or not math.isfinite(target_bpp):
        raise ConfigError(f"target bpp must be a positive number, got {target_bpp!r}")
    if not 0 < tolerance < 1:
        raise ConfigError(f"rate-control tolerance must be in (0, 1), got {tolerance!r}")
    if isinstance(max_scale, bool) or not isinstance(max_scale, (int, float)) \
            or not 1 <= max_scale <= MAX_SCALE:
        raise ConfigError(f"rate-control max_scale must be in [1, {MAX_SCALE:g}], got {max_scale!r}")
    if str(codec_section(cfg).get("mode") or "fast") == "rd":  # RD mode searches its own λ (codec/rd_ratecontrol.py)
        return encode_rd_to_target(video, cfg, target_bpp, tolerance)
    knob = knob or RateKnob()
    n = video.num_frames
    min_gop = int(codec_section(cfg).keyframes.min_gop)
    choice = decoded_choice_on(codec_section(cfg))
    trials = _Trials(video, without_decoded_choice(cfg) if choice else cfg, float(target_bpp))
    reachable, r1 = _search(trials, knob, n, min_gop, tolerance, float(max_scale), max_encodes)
    if choice:   # the settings found, encoded with the decoded choice (and searched with it if that misses)
        trials.pbar.close()
        fast, trials = trials, _Trials(video, cfg, float(target_bpp), flows=trials.flows)
        assert fast.best is not None
        trials(fast.best[0], fast.lambdas[fast.best[0]])
        if reachable == "yes" and not trials.hit(tolerance):
            log.info("rate control: with the decoded choice %.5f bpp misses the target; searching with it",
                     trials.best[1].stats["bpp"])
            reachable, r1 = _search(trials, knob, n, min_gop, tolerance, float(max_scale), max_encodes)
        trials.history[:0] = fast.history
    trials.pbar.close()
    assert trials.best is not None
    params, res = trials.best[0], add_detail_mix(trials.best[1], video.frames, codec_section(cfg))
    achieved, lam = res.stats["bpp"], trials.lambdas[params]
    r_min = min(h["bpp"] for h in trials.history)
    if reachable != "yes":   # the kept file is the extreme one (with the decoded choice, the size it moved to)
        r_min, r1 = (achieved, r1) if reachable == "below_minimum" else (r_min, achieved)
    within = abs(achieved / target_bpp - 1) <= tolerance
    note = ""
    if reachable == "below_minimum":
        note = (f"target {target_bpp:.5f} bpp is below the smallest file this clip can take "
                f"({r_min:.5f} bpp{f', keyframes downscaled up to {max_scale:g}x' if max_scale > 1 else ''}); "
                "produced the smallest")
    elif reachable == "above_maximum":
        note = (f"target {target_bpp:.5f} bpp is above the largest file the rate knob makes "
                f"({r1:.5f} bpp); produced the largest")
    elif not within:
        note = (f"could not reach {target_bpp:.5f} bpp within ±{100 * tolerance:g}% in {len(trials.history)} "
                f"encodes; closest is {achieved:.5f} bpp")
    if note:
        log.warning("rate control: %s", note)
    stats = dict(res.stats)
    stats["rate_control"] = {
        "target_bpp": float(target_bpp), "achieved_bpp": achieved, "error": achieved / target_bpp - 1,
        "tolerance": tolerance, "within_tolerance": within, "reachable": reachable,
        "min_bpp": r_min, "max_bpp": r1, "iterations": len(trials.history),
        "params": {**asdict(params), "lambda": lam}, "history": trials.history, "note": note,
    }
    return EncodeResult(data=res.data, stats=stats, debug=res.debug)


#: Codec-section key holding a rate-control target (set by ``evaluate --rates 0.01``).
TARGET_KEY = "rate_control"


def target_overrides(name: str) -> Optional[List[str]]:
    """``"0.01"`` → codec overrides asking for rate control at 0.01 bpp; ``None`` if not a number."""
    try:
        value = float(name)
    except (TypeError, ValueError):
        return None
    if not value > 0 or not math.isfinite(value):
        raise ConfigError(f"target bpp {name!r} must be a positive number")
    return [f"+{TARGET_KEY}.target_bpp={value}"]


def encode(video: Video, cfg: DictConfig, plain: Optional[Callable[..., EncodeResult]] = None) -> EncodeResult:
    """``plain(video, cfg)`` (default ``encode_video``), or ``encode_to_target`` when the codec
    section holds ``rate_control.target_bpp`` (and optionally ``rate_control.tolerance`` and
    ``rate_control.max_scale``)."""
    rc = codec_section(cfg).get(TARGET_KEY)
    if rc is None or rc.get("target_bpp") is None:
        return (plain or encode_video)(video, cfg)
    return encode_to_target(video, cfg, float(rc.target_bpp), float(rc.get("tolerance", 0.1)),
                            max_scale=float(rc.get("max_scale", 8.0)))


def describe(stats: Dict[str, Any]) -> str:
    """One line on what rate control did (empty when it did not run)."""
    rc = stats.get("rate_control")
    if not rc:
        return ""
    p = rc["params"]
    how = f"searches at lambda {p['lambda']:.4g} (rd mode)" if p.get("mode") == "rd" else (
        f"encodes with keyframe quality {p['quality']}, {p['budget_points']} trajectories/segment, max GOP "
        f"{p['max_gop']}" + (f", keyframe strictness {p['strictness']:g}" if p.get("strictness", 1.0) != 1.0 else "")
        + (f", keyframes downscaled {p['scale']:g}x" if p.get("scale", 1.0) != 1.0 else ""))
    line = (f"rate control: target {rc['target_bpp']:.5f} bpp, achieved {rc['achieved_bpp']:.5f} bpp "
            f"({100 * rc['error']:+.1f}%) in {rc['iterations']} {how}")
    return line + (f"; WARNING: {rc['note']}" if rc["note"] else "")


__all__ = ["RateKnob", "anchors_from_rates", "default_anchors", "RateParams", "describe", "encode", "encode_to_target",
           "target_overrides", "with_params"]

