"""Choose the shipped diffusion decoder's sampling settings by a fixed rule on VALIDATION files.

Reads sweeps measured on the training corpus's validation files (never on the clips results are
reported on): rows of ``experiments/video_sampling_tradeoff.py`` (``{"rows": [...]}``) and of
``benchmarks/bench_video_decoder.py`` (``{"clips": [...]}``), which decode the same streams with
the warp decoder and with diffusion settings. A setting is *admissible* when at EVERY clip and
rate point, against the warp decoder on the same stream, it meets issue 13's targets that need no
other codec:

* coarse-scale PSNR (``psnr_lowres``) ≥ the warp decoder's;
* VMAF NEG ≥ the warp decoder's − 2;
* warping error and tOF ≤ 1.2 × the warp decoder's;
* NIQE < the warp decoder's (lower is better).

The choice is the admissible setting with the lowest mean NIQE. With none admissible, **fidelity
first** (since 2026-12-01): the setting with the lowest mean NIQE among those that meet every check
but NIQE (structure, VMAF NEG and both temporal checks at every stream), so that the default never
damages the video for a texture gain; only if no setting meets those either is the current default
kept. (Until 2026-12-01 the rule kept the current default whenever nothing was admissible, which
kept a setting failing four checks over one failing only NIQE by 0.05; the change was made after
that sweep had been seen, and it is stated with the result in docs/video_interface.md.)
**NIQE ties** (since 2026-12-02): settings whose mean NIQE lies within ``NIQE_TIE`` (0.05) of the
lowest are tied, and the tie goes to the highest mean coarse-scale PSNR (fidelity again; a NIQE
difference that small is no visible difference, and settings such as ``detail_mix`` move the
coarse band, not the texture NIQE reads). Added before the sweep of ``detail_mix`` was measured.
**Dominance** (since 2026-12-03, added after the sweep of ``residual_band`` had been seen, where
both settings failed the same checks and ``fine`` was ahead on every fidelity metric at every
stream): with ``--current LABEL`` (the shipped setting as the sweep spells it) and neither an
admissible nor a fidelity-first choice, a setting replaces the current one when at EVERY stream it
fails no check the current one passes there, its mean NIQE is within ``NIQE_TIE`` of the current
one's and its mean coarse PSNR is higher (the highest such wins); otherwise the current one stays.
Post-processed rows (label containing ``anchored``: computed by the sweep, not a decoder option)
are never candidates.

    .venv/bin/python experiments/choose_sampling_default.py \\
        benchmarks/results/video_sampling_tradeoff_val_cpu.json \\
        benchmarks/results/video_decoder_val_strength1_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from actdiff.io.files import atomic_write_bytes, refuse_outputs

WARP = "warp"
NIQE_TIE = 0.05  # mean NIQE differences up to this are ties, broken by mean coarse PSNR
RULES = {  # metric -> (check, text) against the warp decoder's value on the same stream
    "psnr_lowres": (lambda x, w: x >= w, ">= warp"),
    "vmaf_neg": (lambda x, w: x >= w - 2.0, ">= warp - 2"),
    "warping_error": (lambda x, w: x <= 1.2 * w, "<= 1.2 x warp"),
    "tof": (lambda x, w: x <= 1.2 * w, "<= 1.2 x warp"),
    "niqe": (lambda x, w: x < w, "< warp"),
}


def _bench_label(name: str, settings: dict) -> str:
    s = settings.get(name, {})
    model = "2d" if name == "diffusion-2d" else "video" if name == "video" else name
    if name == WARP:
        return WARP
    return f"{model} strength={s.get('strength', 1.0):g} blend={s.get('temporal_blend', 0.0):g}"


def load_rows(path: Path) -> list[dict]:
    """Flat records ``{clip, point, label, <metric>: value}`` of one sweep JSON (either format)."""
    doc = json.loads(path.read_text())
    if "rows" in doc:
        return [{"clip": r["clip"], "point": r["point"], "label": r["decoder"],
                 **{m: r[m] for m in RULES}} for r in doc["rows"]]
    out = []
    for clip in doc["clips"]:
        for name, runs in clip["rows"].items():
            for run in runs:
                out.append({"clip": clip["clip"], "point": run["quality_param"],
                            "label": _bench_label(name, doc.get("settings", {})),
                            **{m: run["metrics"][m] for m in RULES}})
    return out


def evaluate(rows: list[dict]) -> dict[str, dict]:
    """Per candidate label: ``admissible``, ``failures`` (list of str), ``failed_checks`` (the
    metrics of :data:`RULES` failed anywhere, plus ``"missing"`` for an unmeasured stream),
    ``failed_by_stream`` (``"clip point"`` → failed metrics), ``mean_niqe`` and ``mean_psnr_lowres``."""
    warp = {(r["clip"], r["point"]): r for r in rows if r["label"] == WARP}
    by_label: dict[str, dict] = {}
    for r in rows:
        if r["label"] == WARP or "anchored" in r["label"]:
            continue
        w = warp.get((r["clip"], r["point"]))
        if w is None:
            raise SystemExit(f"error: no warp row for {r['clip']} {r['point']}")
        key = (r["clip"], r["point"])
        entry = by_label.setdefault(r["label"], {"streams": {}, "failures": [], "checks": set(), "by_stream": {}})
        if key in entry["streams"]:
            continue  # the same stream measured in two files: keep the first
        entry["streams"][key] = (r["niqe"], r["psnr_lowres"])
        failed = entry["by_stream"].setdefault(f"{r['clip']} {r['point']}", [])
        for metric, (ok, text) in RULES.items():
            if not ok(r[metric], w[metric]):
                entry["checks"].add(metric)
                failed.append(metric)
                entry["failures"].append(f"{r['clip']} {r['point']}: {metric} {r[metric]:.4g} not {text} "
                                         f"({w[metric]:.4g})")
    streams = set(warp)
    result = {}
    for label, e in by_label.items():
        missing = streams - set(e["streams"])
        fails = e["failures"] + [f"not measured on {c} {p}" for c, p in sorted(missing)]
        checks = sorted(e["checks"] | ({"missing"} if missing else set()))
        n = len(e["streams"])
        result[label] = {"admissible": not fails, "failures": fails, "failed_checks": checks,
                         "failed_by_stream": e["by_stream"],
                         "mean_niqe": sum(v[0] for v in e["streams"].values()) / n,
                         "mean_psnr_lowres": sum(v[1] for v in e["streams"].values()) / n}
    return result


def _lowest_niqe(result: dict[str, dict], labels: list[str]) -> str | None:
    """Of ``labels``, the lowest mean NIQE; among those within :data:`NIQE_TIE` of it the highest
    mean coarse PSNR (``None`` for no labels)."""
    if not labels:
        return None
    best = min(result[k]["mean_niqe"] for k in labels)
    tied = [k for k in labels if result[k]["mean_niqe"] <= best + NIQE_TIE]
    return max(sorted(tied), key=lambda k: result[k]["mean_psnr_lowres"])


def choose(result: dict[str, dict]) -> str | None:
    """The admissible label with the lowest mean NIQE, ties by coarse PSNR (``None`` if none is
    admissible)."""
    return _lowest_niqe(result, [k for k, v in result.items() if v["admissible"]])


def fidelity_first(result: dict[str, dict]) -> str | None:
    """The fallback: the label with the lowest mean NIQE (ties by coarse PSNR) among those whose
    only failures are NIQE checks (``None`` if every label fails another check)."""
    return _lowest_niqe(result, [k for k, v in result.items() if set(v["failed_checks"]) <= {"niqe"}])


def dominating(result: dict[str, dict], current: str) -> str | None:
    """The label that replaces ``current`` by dominance (module docstring), else ``None``."""
    cur = result[current]

    def no_worse(label: str) -> bool:
        fails, cur_fails = result[label]["failed_by_stream"], cur["failed_by_stream"]
        return "missing" not in result[label]["failed_checks"] and all(
            set(f) <= set(cur_fails.get(s, [])) for s, f in fails.items())

    better = [k for k, v in result.items() if k != current and no_worse(k)
              and v["mean_niqe"] <= cur["mean_niqe"] + NIQE_TIE and v["mean_psnr_lowres"] > cur["mean_psnr_lowres"]]
    return max(sorted(better), key=lambda k: result[k]["mean_psnr_lowres"]) if better else None


def decide(result: dict[str, dict], current: str | None = None) -> tuple[str | None, str]:
    """``(choice, how)``: ``how`` is ``admissible``, ``fidelity_first``, ``dominance`` (with
    ``current``, a label of ``result``) or ``none`` (keep the default)."""
    pick = choose(result)
    if pick is not None:
        return pick, "admissible"
    pick = fidelity_first(result)
    if pick is not None:
        return pick, "fidelity_first"
    pick = dominating(result, current) if current else None
    return pick, "dominance" if pick is not None else "none"


def resolve_label(labels, part: str) -> str:
    """The one label of ``labels`` equal to ``part``, else the one containing it (exits otherwise)."""
    labels = sorted(set(labels))
    found = [k for k in labels if k == part] or [k for k in labels if part in k]
    if len(found) != 1:
        raise SystemExit(f"error: {part!r} names {len(found)} of the sweep's settings: {labels}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweeps", nargs="+", type=Path, help="sweep JSONs measured on validation files")
    p.add_argument("-o", "--output", type=Path, default=None, help="write the verdicts as JSON")
    p.add_argument("--current", default=None, help="the shipped setting's label (or a unique part of it), "
                                                   "for the dominance step")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    refuse_outputs(p, [args.output], args.overwrite)
    for f in args.sweeps:
        if not f.is_file():
            p.error(f"{f} not found")
    rows = [r for f in args.sweeps for r in load_rows(f)]
    result = evaluate(rows)
    for label, v in sorted(result.items(), key=lambda kv: kv[1]["mean_niqe"]):
        verdict = "admissible" if v["admissible"] else f"fails {len(v['failures'])}: {v['failures'][0]}"
        print(f"{label:28s} mean NIQE {v['mean_niqe']:.3f} coarse PSNR {v['mean_psnr_lowres']:.3f}  {verdict}")
    current = resolve_label(result, args.current) if args.current else None
    pick, how = decide(result, current)
    print(f"choice: {pick or 'none: keep the current default'} ({how})")
    if args.output:
        doc = {"sweeps": [str(f) for f in args.sweeps], "rules": {m: t for m, (_, t) in RULES.items()},
               "niqe_tie": NIQE_TIE, "choice": pick, "current": current, "chosen_by": how, "candidates": result}
        atomic_write_bytes(args.output, json.dumps(doc, indent=1).encode() + b"\n", overwrite=True)
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
