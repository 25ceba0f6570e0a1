"""Run the points of a sweep in-process through ``actdiff.commands.evaluate``'s functions.

Layout of a sweep folder::

    DIR/points/<point>.json         results JSON of a finished point (docs/results_schema.md);
                                    config["sweep"] holds the point's fingerprint
    DIR/points/<point>.error.json   the error of a failed point (removed once it succeeds)
    DIR/table.md, DIR/table.csv     the comparison table (actdiff.sweep.table)
    DIR/summary.json                status of every point

A point whose results file exists with the same fingerprint is skipped on re-run; a failed
point, or one whose settings changed, is run again.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Sequence

from omegaconf import OmegaConf

from actdiff.errors import ConfigError
from actdiff.results import atomic_write_text, load_results, new_results, save_results
from actdiff.sweep.spec import Point, Spec, fingerprint


@dataclass
class PointStatus:
    """Outcome of one point: ``done`` (ran now), ``skipped`` (finished before) or ``failed``."""

    name: str
    status: str
    results_path: Optional[Path] = None
    error: str = ""
    seconds: float = 0.0


def point_overrides(point: Point, extra: Sequence[str] = (), frames: Optional[int] = None) -> List[str]:
    """The point's overrides, then the command line's, then ``protocol.max_frames`` for ``--frames``."""
    return list(point.overrides) + list(extra) + ([f"protocol.max_frames={int(frames)}"] if frames else [])


def resolve_rates(spec: Spec) -> Dict[str, List[str]]:
    """``{rate name: codec-relative overrides}`` from the spec's ``rates`` (see ``actdiff.sweep.spec``)."""
    from actdiff.commands.evaluate import load_rates, rates_file
    from actdiff.ratecontrol import target_overrides

    if isinstance(spec.rates, dict):
        out = {}
        for name, ovs in spec.rates.items():
            if ovs is None and target_overrides(str(name)) is not None:
                out[str(name)] = target_overrides(str(name))
            elif isinstance(ovs, list) and all(isinstance(o, str) for o in ovs):
                out[str(name)] = list(ovs)
            else:
                raise ConfigError(f"sweep {spec.name}: rate {name} must map to a list of key=value strings")
        if not out:
            raise ConfigError(f"sweep {spec.name}: rates mapping is empty")
        return out
    path = Path(spec.rates_file) if spec.rates_file else rates_file()
    return load_rates(path, [str(r) for r in spec.rates] if spec.rates else None)


def point_fingerprint(spec: Spec, point: Point, overrides: Sequence[str], rates: Dict[str, List[str]]) -> str:
    return fingerprint({"command": spec.command, "data": spec.data, "sequences": spec.sequences,
                        "protocol": spec.protocol, "config": spec.config, "overrides": list(overrides),
                        "rates": rates, "metrics": spec.metrics, "decoder": point.decoder})


def evaluate_point(spec: Spec, point: Point, overrides: Sequence[str], rates: Dict[str, List[str]],
                   fp: str, log: Callable[[str], None]) -> Dict[str, Any]:
    """Encode → decode → metrics of every sequence at every rate for one point; a results document."""
    from actdiff.codec.pipeline import build_decoder
    from actdiff.commands import evaluate as ev
    from actdiff.data import load_dataset, load_protocol

    args = SimpleNamespace(protocol=spec.protocol, config=spec.config)
    base = ev._compose(args, list(overrides), [])
    protocol = load_protocol(base.get("protocol"))
    cfgs = {n: ev._compose(args, list(overrides), ev.codec_overrides(o)) for n, o in rates.items()}
    dec_kwargs = {k: v for k, v in point.decoder.items() if k != "name"}
    decoder = build_decoder(str(point.decoder["name"]), **dec_kwargs)
    dataset = load_dataset(spec.data, sequences=spec.sequences)
    config = {"base": OmegaConf.to_container(base, resolve=True), "rates": rates, "decoder": point.decoder,
              "metrics": list(spec.metrics), "overrides": list(overrides),
              "sweep": {"name": spec.name, "point": point.name, "fingerprint": fp}}
    results = new_results(f"actdiff-{point.decoder_label}:{point.name}", dataset.name, protocol.to_dict(), config)
    for seq in dataset:
        video = seq.read(protocol)
        results["sequences"][seq.name] = ev.evaluate_sequence(
            video, cfgs, decoder, spec.metrics, lambda s, n=seq.name: log(f"  {point.name} {n} {s}"))
    return results


def _done(path: Path, fp: str) -> bool:
    if not path.is_file():
        return False
    try:
        res = load_results(path)
    except Exception:  # a damaged file is simply re-run
        return False
    return res.get("config", {}).get("sweep", {}).get("fingerprint") == fp


def run_sweep(spec: Spec, out_dir: str | Path, extra: Sequence[str] = (), frames: Optional[int] = None,
              only: Optional[Sequence[str]] = None, force: bool = False,
              log: Callable[[str], None] = lambda s: sys.stderr.write(s + "\n")) -> List[PointStatus]:
    """Run (or skip) every point; never stops at a failed point. Returns one status per point."""
    out = Path(out_dir)
    (out / "points").mkdir(parents=True, exist_ok=True)
    rates = resolve_rates(spec)
    chosen = [spec.point(n) for n in only] if only else spec.points
    statuses: List[PointStatus] = []
    for i, point in enumerate(chosen):
        ovs = point_overrides(point, extra, frames)
        fp = point_fingerprint(spec, point, ovs, rates)
        res_path, err_path = out / "points" / f"{point.name}.json", out / "points" / f"{point.name}.error.json"
        tag = f"[{i + 1}/{len(chosen)}] {point.name}"
        if not force and _done(res_path, fp):
            log(f"{tag}: finished before, skipped")
            statuses.append(PointStatus(point.name, "skipped", res_path))
            continue
        log(f"{tag}: running ({' '.join(ovs) or 'no overrides'}; decoder {point.decoder_label})")
        t0 = time.perf_counter()
        try:
            results = evaluate_point(spec, point, ovs, rates, fp, log)
            save_results(results, res_path, overwrite=True)
            err_path.unlink(missing_ok=True)
            statuses.append(PointStatus(point.name, "done", res_path, seconds=time.perf_counter() - t0))
        except KeyboardInterrupt:
            raise
        except Exception as e:  # recorded, and the sweep goes on
            msg = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
            log(f"{tag}: FAILED: {msg}")
            atomic_write_text(err_path, json.dumps({"point": point.name, "error": msg, "fingerprint": fp,
                                                    "overrides": ovs, "traceback": traceback.format_exc()},
                                                   indent=2) + "\n", overwrite=True)
            res_path.unlink(missing_ok=True)
            statuses.append(PointStatus(point.name, "failed", None, msg, time.perf_counter() - t0))
    return statuses


def collect(spec: Spec, out_dir: str | Path) -> Dict[str, Dict[str, Any]]:
    """``{point: {"status", "results" or "error"}}`` from the sweep folder, in spec order."""
    out = Path(out_dir) / "points"
    rows: Dict[str, Dict[str, Any]] = {}
    for p in spec.points:
        res, err = out / f"{p.name}.json", out / f"{p.name}.error.json"
        if err.is_file():
            rows[p.name] = {"status": "failed", "error": json.loads(err.read_text()).get("error", "")}
        elif res.is_file():
            rows[p.name] = {"status": "ok", "results": load_results(res)}
        else:
            rows[p.name] = {"status": "missing"}
    return rows
