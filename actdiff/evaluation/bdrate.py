"""Bjøntegaard delta rate and matched-quality savings between two results documents.

Conventions — those of JVET, CompressAI and DCVC: A is the tested codec, B the anchor.

* ``bd_rate`` — BD-rate of A against the anchor B, in percent (``bjontegaard`` package, PCHIP
  interpolation of log-rate over quality, integrated over the overlapping quality range):
  **negative = A needs fewer bits than B for the same quality** (``-50`` means half of B's
  bits, ``+100`` twice B's bits).
* ``saving`` — the paper-style bitrate saving of A over B at matched quality: for each rate
  point of A inside B's quality range, B's rate at A's quality is interpolated (PCHIP of
  log-bpp over quality) and ``1 - bpp_A / bpp_B`` is reported in percent (**positive = A needs
  fewer bits**: a saving); ``saving`` is their mean.
* ``points`` — that saving for *every* point of A; outside B's tested range it is a bound, not an
  extrapolation: ``lower`` (A's quality beats all of B's points, so B would need more than its
  highest tested rate) or ``upper`` (B's worst point already beats A).

Lower-is-better metrics (niqe, lpips, dists, gmsd, fid, kid, warping_error) are negated before
interpolation so quality always increases with rate. A curve whose quality is not monotonic in
rate (no-reference metrics such as NIQE can improve as the rate drops) still gets numbers, but
its row carries the warning in the report's note column and JSON (``warnings``), and the average
names it under ``unreliable``; ``--frontier`` compares each codec's Pareto front instead (its
operational curve: points that a cheaper point matches or beats are dropped). When a results
file records the source's own no-reference score (``source``, e.g. NIQE of the uncompressed
frames), a curve that scores better than the source is noted too: for a generative decoder the
metric rewards synthesized detail there, for any codec it no longer measures fidelity. Per
sequence (sequences present in both files) and on the dataset-mean curves; a results file that
holds only a dataset-average curve (an imported CompressAI file) is compared on the mean curves.
BD-rate needs at least 2 points with distinct quality on each curve.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

from actdiff.errors import InputError
from actdiff.evaluation.results import source_value, to_curves
from actdiff.metrics import lower_is_better

Curve = tuple[np.ndarray, np.ndarray]


def _sign(metric: str) -> float:
    """-1 for lower-is-better metrics, +1 otherwise: ``sign * value`` grows with quality."""
    return -1.0 if lower_is_better(metric) else 1.0


def pareto_front(curve: Curve, metric: str) -> Curve:
    """The operational rate–quality curve: the points no cheaper point matches or beats.

    ``curve`` is ``(bpp (K,), metric (K,))``; returns the kept points sorted by bpp. A codec whose
    settings give a worse score at a higher rate would, in practice, use the cheaper setting.
    """
    rate, q = (np.asarray(v, dtype=np.float64) for v in curve)
    sign = _sign(metric)
    keep, best = [], -np.inf
    for i in np.lexsort((-sign * q, rate)):  # by rate, the better score first on ties
        if np.isfinite(q[i]) and sign * q[i] > best:
            keep.append(i)
            best = sign * q[i]
    idx = np.array(keep, dtype=int)
    return rate[idx], q[idx]


def _prepare(curve: Curve, metric: str, label: str, min_points: int = 2) -> Curve:
    """Sort by quality (negated when lower is better); check enough distinct points."""
    rate, q = (np.asarray(v, dtype=np.float64) for v in curve)
    keep = np.isfinite(rate) & np.isfinite(q) & (rate > 0)
    rate, q = rate[keep], _sign(metric) * q[keep]
    order = np.argsort(q, kind="stable")
    rate, q = rate[order], q[order]
    if len(q) < min_points:
        raise InputError(f"{label}: {len(q)} usable rate point(s) for {metric}; this needs at least {min_points}")
    if np.any(np.diff(q) <= 0):
        raise InputError(f"{label}: two rate points have the same {metric}; PCHIP needs distinct values")
    if np.any(np.diff(rate) <= 0):
        warnings.warn(f"{label}: {metric} is not monotonic in bitrate; BD numbers are unreliable", stacklevel=3)
    return rate, q


def bd_rate(anchor: Curve, test: Curve, metric: str, labels: tuple[str, str] = ("A", "B")) -> float:
    """BD-rate (%) of ``test`` against ``anchor`` (negative: ``test`` needs fewer bits for the same
    quality); curves are ``(bpp, metric)`` arrays; ``labels`` name ``(anchor, test)`` in errors."""
    import bjontegaard as bd

    ra, qa = _prepare(anchor, metric, labels[0])
    rt, qt = _prepare(test, metric, labels[1])
    if max(qa.min(), qt.min()) >= min(qa.max(), qt.max()):
        raise InputError(f"{labels[0]} and {labels[1]}: {metric} ranges do not overlap; no BD-rate")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Insufficient curve overlap")
        return float(bd.bd_rate(ra, qa, rt, qt, method="pchip", require_matching_points=False, min_overlap=0))


def bd_rate_of_points(anchor: Sequence[dict], test: Sequence[dict], metric: str) -> float | None:
    """BD-rate (%) of ``test`` against ``anchor``, each a list of points ``{"bpp": …, metric: …}``
    (an A/B's two curves); ``None`` where :func:`bd_rate` cannot be computed (e.g. no overlap)."""
    def curve(points: Sequence[dict]) -> Curve:
        return np.array([p["bpp"] for p in points]), np.array([p[metric] for p in points])

    try:
        return bd_rate(curve(anchor), curve(test), metric)
    except InputError:
        return None


def mean_bd_rates(per_clip: Sequence[dict[str, float | None]],
                  metrics: Sequence[str]) -> tuple[dict[str, float | None], dict[str, int]]:
    """Mean BD-rate per metric over the clips that have one, and how many did."""
    vals = {m: [c[m] for c in per_clip if c[m] is not None] for m in metrics}
    return {m: float(np.mean(v)) if v else None for m, v in vals.items()}, {m: len(v) for m, v in vals.items()}


def quality_overlap(curves: list[Curve], metric: str) -> tuple[float, float] | None:
    """The quality interval ``(lo, hi)`` (metric units, ``lo`` the worse end) that every curve
    reaches, or ``None`` when they share none."""
    qs = [_sign(metric) * np.asarray(c[1], dtype=np.float64) for c in curves]
    lo, hi = max(float(np.nanmin(q)) for q in qs), min(float(np.nanmax(q)) for q in qs)
    return (_sign(metric) * lo, _sign(metric) * hi) if lo < hi else None


def bd_rate_between(anchor: Curve, test: Curve, metric: str, interval: tuple[float, float],
                    labels: tuple[str, str] = ("A", "B")) -> float:
    """BD-rate (%) of ``test`` against ``anchor`` over the quality ``interval`` ``(lo, hi)`` only
    (metric units; it must lie inside both curves' ranges): the mean over that interval of the
    log-rate difference, each curve's log-rate a PCHIP over quality as in :func:`bd_rate` (which
    equals this over the two curves' whole overlap). Two tested curves compared with one anchor
    over the same interval differ by their own difference alone, not by where each one ends."""
    ra, qa = _prepare(anchor, metric, labels[0])
    rt, qt = _prepare(test, metric, labels[1])
    a, b = sorted(_sign(metric) * float(v) for v in interval)
    eps = 1e-9 * max(1.0, abs(a), abs(b))
    if not (b > a and a >= max(qa[0], qt[0]) - eps and b <= min(qa[-1], qt[-1]) + eps):
        raise InputError(f"{labels[0]} and {labels[1]}: {metric} interval {interval} is not inside both curves' ranges")
    a, b = max(a, qa[0], qt[0]), min(b, qa[-1], qt[-1])
    log_t, log_a = PchipInterpolator(qt, np.log(rt)), PchipInterpolator(qa, np.log(ra))
    mean = (log_t.integrate(a, b) - log_a.integrate(a, b)) / (b - a)
    return float(100.0 * (math.exp(mean) - 1.0))


def matched_points(a: Curve, b: Curve, metric: str, labels: tuple[str, str] = ("A", "B")) -> list[dict[str, Any]]:
    """Per point of ``a`` (sorted by quality): the saving (%) of a over b at a's quality.

    Each item: ``{"bpp", "quality", "saving", "bound"}``. Inside b's quality range ``bound`` is
    ``None`` and ``saving`` is interpolated (PCHIP of b's log-bpp over quality). Outside it there is
    no extrapolation, only what b's tested points prove:

    * ``"lower"`` — a's quality is better than every point of b: b would need more than its
      highest tested rate, so ``saving >= 1 - bpp_a / max(bpp_b)``;
    * ``"upper"`` — a's quality is worse than every point of b: b reaches it at its lowest tested
      rate or below, so ``saving <= 1 - bpp_a / min(bpp_b)``.
    """
    ra, qa = _prepare(a, metric, labels[0], min_points=1)
    rb, qb = _prepare(b, metric, labels[1])
    f = PchipInterpolator(qb, np.log(rb))
    sign = _sign(metric)
    out: list[dict[str, Any]] = []
    for r, q in zip(ra, qa):
        if qb[0] <= q <= qb[-1]:
            saving, bound = 100 * (1 - r / math.exp(float(f(q)))), None
        elif q > qb[-1]:
            saving, bound = 100 * (1 - r / rb.max()), "lower"
        else:
            saving, bound = 100 * (1 - r / rb.min()), "upper"
        out.append({"bpp": float(r), "quality": float(sign * q), "saving": float(saving), "bound": bound})
    return out


def matched_savings(a: Curve, b: Curve, metric: str, labels: tuple[str, str] = ("A", "B")) -> list[float | None]:
    """Interpolated savings of :func:`matched_points`; ``None`` where a's quality is outside b's range."""
    return [p["saving"] if p["bound"] is None else None for p in matched_points(a, b, metric, labels)]


def synthesizes(results: dict[str, Any]) -> bool:
    """Whether a results document comes from a generative decoder (it can add detail the source lacks)."""
    decoder = str((results.get("config") or {}).get("decoder", ""))
    return decoder == "diffusion" or "diffusion" in str(results.get("codec", "")).lower()


def _source_note(label: str, curve: Curve, source: float, metric: str, generative: bool) -> str | None:
    """A note when some points of ``curve`` score better than the uncompressed source itself."""
    n = int(np.sum(_sign(metric) * curve[1] > _sign(metric) * source))
    if not n:
        return None
    why = ("the metric rewards synthesized detail there, not fidelity" if generative
           else "a no-reference score, not fidelity: see the full-reference metrics")
    return f"{label}: {metric} better than the source's own ({source:.3g}) at {n} of {len(curve[1])} points ({why})"


def _row(ca: Curve, cb: Curve, metric: str, labels: tuple[str, str], source: float | None,
         generative: tuple[bool, bool] = (False, False)) -> dict[str, Any]:
    """BD-rate, matched points and notes for one sequence (or the mean curve)."""
    row: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            row["points"] = matched_points(ca, cb, metric, labels)
            vals = [p["saving"] for p in row["points"] if p["bound"] is None]
            row["saving"] = float(np.mean(vals)) if vals else None
            row["bd_rate"] = bd_rate(cb, ca, metric, (labels[1], labels[0]))  # A tested, B the anchor
        except InputError as e:
            row["error"] = str(e)
    # e.g. a curve whose quality is not monotonic in rate: the row stays, flagged unreliable
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    if source is not None:
        row["source"] = source
        found = (_source_note(lab, c, source, metric, g) for lab, c, g in zip(labels, (ca, cb), generative))
        notes += [n for n in found if n]
    if notes:
        row["warnings"] = notes
    return row


def _mean_only(results: dict[str, Any]) -> bool:
    """A document with a dataset-average curve and no per-sequence points (e.g. CompressAI's)."""
    return not results["sequences"] and bool(results.get("mean"))


def compare(res_a: dict[str, Any], res_b: dict[str, Any], metric: str, frontier: bool = False) -> dict[str, Any]:
    """``{"sequences": {name: {...}}, "average": {...}}`` for one metric (``"mean"``: the mean curves).

    A is the tested codec, B the anchor (see the module's conventions). ``frontier``: compare the
    Pareto fronts (:func:`pareto_front`) instead of every point. When either document holds only
    a dataset-average curve, the mean curves alone are compared (``average["mean_only"]``).
    """
    ca, cb = to_curves(res_a, metric, include_mean=True), to_curves(res_b, metric, include_mean=True)
    if frontier:
        ca, cb = ({k: pareto_front(c, metric) for k, c in cs.items()} for cs in (ca, cb))
    mean_only = _mean_only(res_a) or _mean_only(res_b)
    common = [] if mean_only else [n for n in res_a["sequences"] if n in res_b["sequences"]]
    if not common and not mean_only:
        raise InputError(f"no sequence in common between {res_a['codec']} and {res_b['codec']}")
    same_source = res_a.get("protocol") == res_b.get("protocol")
    generative = (synthesizes(res_a), synthesizes(res_b))
    rows: dict[str, Any] = {}
    full = mean_only or len(common) == len(res_a["sequences"]) == len(res_b["sequences"])
    for name in common + (["mean"] if full else []):
        source = source_value(res_a, name, metric)
        if source is None and same_source:
            source = source_value(res_b, name, metric)
        rows[name] = _row(ca[name], cb[name], metric, (f"{res_a['codec']}/{name}", f"{res_b['codec']}/{name}"),
                          source, generative)
    counted = ["mean"] if mean_only else common
    per_seq = [rows[n]["bd_rate"] for n in counted if "bd_rate" in rows[n]]
    sav = [rows[n]["saving"] for n in counted if rows[n].get("saving") is not None]
    average = {"bd_rate": float(np.mean(per_seq)) if per_seq else None,
               "saving": float(np.mean(sav)) if sav else None, "sequences": 0 if mean_only else len(per_seq),
               "unreliable": [n for n in counted if rows[n].get("warnings")  # only rows the average counts
                              and (rows[n].get("bd_rate") is not None or rows[n].get("saving") is not None)]}
    if mean_only:
        average["mean_only"] = True
    return {"a": res_a["codec"], "b": res_b["codec"], "metric": metric, "frontier": frontier, "sequences": rows,
            "average": average}


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def _fmt_point(p: dict[str, Any]) -> str:
    mark = {"lower": "≥", "upper": "≤"}.get(p["bound"], "")
    return f"{p['bpp']:.4f}: {mark}{p['saving']:+.0f}%"


#: What every report states about its signs (``actdiff bdrate`` prints it above each table).
SIGN_NOTE = ("BD-rate: negative = {a} needs fewer bits than the anchor {b} for the same {m} "
             "(JVET/CompressAI/DCVC convention); saving = 1 - bpp_{a}/bpp_{b} at matched {m}: "
             "positive = {a} needs fewer bits")


def to_markdown(report: dict[str, Any]) -> str:
    """The report as the Markdown table ``actdiff bdrate`` prints, its sign conventions stated above it."""
    a, b, m = report["a"], report["b"], report["metric"]
    front = " — Pareto fronts: dominated points dropped" if report.get("frontier") else ""
    lines = [f"BD-rate of {a} against the anchor {b} ({m}, PCHIP) and saving of {a} over {b} at matched {m}{front}",
             f"({SIGN_NOTE.format(a=a, b=b, m=m)}; per point of {a}, bpp: saving; "
             f"≥/≤ = bound where {a}'s {m} lies outside {b}'s tested range)", "",
             "| sequence | BD-rate | saving | per point | note |", "|---|---:|---:|---|---|"]
    for name, row in report["sequences"].items():
        notes = [row["error"]] if "error" in row else []
        note = "; ".join(notes + row.get("warnings", []))
        per_point = ", ".join(_fmt_point(p) for p in sorted(row.get("points", []), key=lambda p: p["bpp"]))
        lines.append(f"| {name} | {_fmt(row.get('bd_rate'))} | {_fmt(row.get('saving'))} | {per_point} | {note} |")
    av = report["average"]
    note = f"includes unreliable: {', '.join(av['unreliable'])}" if av.get("unreliable") else ""
    if av.get("mean_only"):
        note = "; ".join(x for x in ("dataset-average curves only (one file has no per-sequence points): "
                                     "check both cover the same sequences and protocol", note) if x)
        label = "mean curves"
    else:
        label = f"average of {av['sequences']} sequences"
    lines.append(f"| {label} | {_fmt(av['bd_rate'])} | {_fmt(av['saving'])} | | {note} |")
    return "\n".join(lines) + "\n"
