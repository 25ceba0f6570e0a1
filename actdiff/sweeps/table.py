"""The sweep table: every point against the reference (Markdown + CSV).

Per point, from the dataset-mean curve of its results JSON (``mean[i]`` = i-th rate point):

* ``bpp`` — mean over rate points; ``Δbpp%`` — mean of ``bpp_i / bpp_ref,i - 1`` (percent);
* ``<metric>`` — mean over rate points; ``Δ<metric>`` — mean of ``metric_i - metric_ref,i``
  (rate points matched by index; lower-is-better metrics keep their sign, so ΔNIQE > 0 is worse);
* ``BD-rate <metric>`` — Bjøntegaard delta rate (%) of the point against the reference
  (``actdiff.evaluation.bdrate.bd_rate``, PCHIP; negative = the point needs fewer bits than the
  reference for the same quality, the JVET/CompressAI/DCVC convention, as ``actdiff bdrate``),
  only with at least 2 rate points; ``n/a`` when the curves do not allow it.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Dict, List, Optional

import numpy as np

from actdiff.evaluation.results import to_curves


def _mean(values: List[Optional[float]]) -> Optional[float]:
    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else None


def _bd(ref: Dict[str, Any], res: Dict[str, Any], metric: str) -> Optional[float]:
    from actdiff.errors import ActDiffError
    from actdiff.evaluation.bdrate import bd_rate

    a, b = to_curves(ref, metric, include_mean=True)["mean"], to_curves(res, metric, include_mean=True)["mean"]
    if len(a[0]) < 2 or len(b[0]) < 2:
        return None
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bd_rate(a, b, metric, ("reference", "point"))
    except (ActDiffError, ValueError, ZeroDivisionError):
        return None


def build_rows(rows: Dict[str, Dict[str, Any]], reference: str, metrics: List[str]) -> List[Dict[str, Any]]:
    """One dict per point: ``point, status, rates, bpp, dbpp_pct, <m>, d_<m>, bd_<m>, error``
    (+ ``stage`` of a failure and ``weights`` of a fit sweep's point, for ``summary.json``)."""
    ref = rows.get(reference, {}).get("results")
    ref_mean = ref["mean"] if ref else None
    out = []
    for name, row in rows.items():
        r: Dict[str, Any] = {"point": name, "status": row["status"], "error": row.get("error", "")}
        r.update({k: row[k] for k in ("stage", "weights") if row.get(k)})  # summary.json only
        res = row.get("results")
        if res:
            mean = res["mean"]
            r["rates"] = len(mean)
            r["bpp"] = _mean([p.get("bpp") for p in mean])
            matched = ref_mean is not None and len(ref_mean) == len(mean)
            r["dbpp_pct"] = _mean([100 * (p["bpp"] / q["bpp"] - 1) for p, q in zip(mean, ref_mean)]) \
                if matched else None
            for m in metrics:
                r[m] = _mean([p["metrics"].get(m) for p in mean])
                r[f"d_{m}"] = _mean([None if p["metrics"].get(m) is None or q["metrics"].get(m) is None
                                     else p["metrics"][m] - q["metrics"][m] for p, q in zip(mean, ref_mean)]) \
                    if matched else None
                r[f"bd_{m}"] = _bd(ref, res, m) if ref is not None and len(mean) >= 2 else None
        out.append(r)
    return out


def columns(metrics: List[str]) -> List[str]:
    cols = ["point", "status", "rates", "bpp", "dbpp_pct"]
    for m in metrics:
        cols += [m, f"d_{m}", f"bd_{m}"]
    return cols + ["error"]


def to_csv(table: List[Dict[str, Any]], metrics: List[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns(metrics), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in table:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns(metrics)})
    return buf.getvalue()


def _fmt(v: Any, signed: bool = False, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:+.{digits}g}" if signed else f"{v:.{digits}g}"
    return str(v)


def to_markdown(table: List[Dict[str, Any]], metrics: List[str], reference: str, title: str = "") -> str:
    head = ["point", "status", "bpp", "Δbpp"] + [c for m in metrics for c in (m, f"Δ{m}", f"BD-rate {m}")]
    lines = [f"## {title}" if title else "", "",
             f"Reference: **{reference}**. Δ = point − reference at matched rate points (mean); "
             "BD-rate < 0: the point needs fewer bits than the reference for the same quality (> 0: more).", "",
             "| " + " | ".join(head) + " |", "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|"]
    for r in table:
        status = r["status"] if r["status"] != "failed" else f"failed: {r['error']}".replace("|", "/")
        cells = [r["point"], status, _fmt(r.get("bpp")),
                 "n/a" if r.get("dbpp_pct") is None else f"{r['dbpp_pct']:+.1f}%"]
        for m in metrics:
            bd = r.get(f"bd_{m}")
            cells += [_fmt(r.get(m)), _fmt(r.get(f"d_{m}"), signed=True), "n/a" if bd is None else f"{bd:+.1f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip("\n") + "\n"
