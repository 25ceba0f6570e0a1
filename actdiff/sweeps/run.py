"""Run the points of a sweep in-process: training (:mod:`actdiff.training.fit`) and evaluation
(:mod:`actdiff.evaluation`).

Layout of a sweep folder::

    DIR/points/<point>.json         results JSON of a finished point (docs/results_schema.md);
                                    config["sweep"] holds the point's fingerprint
    DIR/points/<point>.error.json   the error of a failed point, with the stage (fit | evaluate)
                                    that failed (removed once the point succeeds)
    DIR/points/<point>/run/         fit sweeps: the ``actdiff fit`` run folder (config.yaml = the
                                    resolved fit config, checkpoints/, logs/)
    DIR/points/<point>/weights/     fit sweeps: the exported weights (a save_pretrained folder:
                                    config.json + diffusion_pytorch_model.safetensors, for the
                                    denoiser and the selectors alike) and fit.json (fit
                                    fingerprint + resolved fit config), written last: the
                                    weights are complete when fit.json matches
    DIR/table.md, DIR/table.csv     the comparison table (actdiff.sweeps.table)
    DIR/summary.json                status of every point

Every chosen point's settings are composed and checked before the first point runs (its rate
points' codec configs, its decoder, in fit sweeps its fit config's numbers): a typo in the last
point is one ``ConfigError`` naming the point, not a failure hours into the sweep. A point that
fails while running (out of memory, a diverged fit) is recorded and the sweep goes on.

A point whose results file exists with the same fingerprint is skipped on re-run; a failed
point, or one whose settings changed, is run again. In fit sweeps a point whose weights are
complete for the same fit fingerprint is not trained again (only evaluated, if needed); one
whose training was interrupted resumes from ``run/checkpoints/last.ckpt`` when its fit
settings are unchanged, and otherwise trains from scratch in a cleared ``run/``.
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from omegaconf import DictConfig, OmegaConf

from actdiff.codec.ratecontrol import target_overrides
from actdiff.data import load_dataset, load_protocol
from actdiff.decoders import build_decoder
from actdiff.errors import ConfigError
from actdiff.evaluation.rates import compose_config, load_rates, point_configs
from actdiff.evaluation.results import atomic_write_text, load_results, new_results, save_results
from actdiff.evaluation.runner import actdiff_points, padded_read, run_dataset
from actdiff.metrics import check_metrics
from actdiff.progress import bar, write
from actdiff.sweeps.spec import FIT_PREFIX, Point, Spec, fingerprint

FIT_MARKER = "fit.json"          # in weights/: written after the export, marks complete weights
RUN_MARKER = "sweep_fit.json"    # in run/: fit fingerprint of the checkpoints there (resume check)
# Keys of the fit config that do not change the trained weights (left out of the fit fingerprint).
_NOT_FINGERPRINTED = ("run_dir", "export", "name", "logger")


@dataclass
class PointStatus:
    """Outcome of one point: ``done`` (ran now), ``skipped`` (finished before) or ``failed``.

    ``stage`` is the part that failed (``fit`` | ``evaluate``); ``trained`` whether the point
    trained in this run (fit sweeps)."""

    name: str
    status: str
    results_path: Optional[Path] = None
    error: str = ""
    seconds: float = 0.0
    stage: str = ""
    trained: bool = False


def point_overrides(point: Point, extra: Sequence[str] = (), frames: Optional[int] = None) -> List[str]:
    """The point's overrides, then the command line's, then ``protocol.max_frames`` for ``--frames``."""
    return list(point.overrides) + list(extra) + ([f"protocol.max_frames={int(frames)}"] if frames else [])


def _is_fit(override: str) -> bool:
    return override.lstrip("+").startswith(FIT_PREFIX)


def split_extra(spec: Spec, extra: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Command-line overrides → ``(evaluate overrides, fit overrides)``: ``fit.KEY=V`` → fit ``KEY=V``
    (``+fit.KEY=V`` → ``+KEY=V``)."""
    fit = [("+" if o.startswith("+") else "") + o.lstrip("+")[len(FIT_PREFIX):] for o in extra if _is_fit(o)]
    if fit and not spec.trains:
        raise ConfigError(f"sweep {spec.name}: fit.… overrides need command: fit_evaluate")
    return [o for o in extra if not _is_fit(o)], fit


def resolve_rates(spec: Spec) -> Dict[str, List[str]]:
    """``{rate name: codec-relative overrides}`` from the spec's ``rates`` (see ``actdiff.sweeps.spec``)."""
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
    return load_rates(spec.rates_file, [str(r) for r in spec.rates] if spec.rates else None)


def point_fingerprint(spec: Spec, point: Point, overrides: Sequence[str], rates: Dict[str, List[str]],
                      fit_fp: Optional[str] = None) -> str:
    """Hash of what a point's results depend on (in fit sweeps also the fit fingerprint)."""
    payload = {"command": spec.command, "data": spec.data, "sequences": spec.sequences,
               "protocol": spec.protocol, "config": spec.config, "overrides": list(overrides),
               "rates": rates, "metrics": spec.metrics, "decoder": point.decoder}
    if fit_fp is not None:
        payload["fit"] = fit_fp
    return fingerprint(payload)


def fit_overrides(spec: Spec, point: Point, extra: Sequence[str] = ()) -> List[str]:
    """The spec's ``fit.overrides``, then the command line's ``fit.…`` ones, then the point's own
    (the ablated setting comes last, so a group swap such as ``fit.model=tiny`` cannot undo it)."""
    assert spec.fit is not None
    return list(spec.fit.overrides) + list(extra) + list(point.fit_overrides)


def point_dir(out_dir: str | Path, point: Point) -> Path:
    """``DIR/points/<point>/``: the run folder and the weights of a fit sweep's point."""
    return Path(out_dir) / "points" / point.name


def weights_path(pdir: Path) -> Path:
    """The ``save_pretrained`` folder a point's trained weights are exported to (every task)."""
    return pdir / "weights"


def fit_config(spec: Spec, point: Point, fit_overrides: Sequence[str], pdir: Path) -> DictConfig:
    """The point's ``actdiff fit`` config: ``fit.config`` + overrides, ``run_dir``/``export`` in ``pdir``."""
    from actdiff.config import compose

    assert spec.fit is not None
    cfg = compose(spec.fit.config, list(fit_overrides))
    task = str(cfg.get("task") or "denoiser")
    if task != spec.fit.task:
        raise ConfigError(f"point {point.name}: fit overrides change the task to {task!r}; "
                          f"every point of sweep {spec.name} trains a {spec.fit.task}")
    for key, value in (("run_dir", str(pdir / "run")), ("export", str(weights_path(pdir))),
                       ("name", f"{spec.name}-{point.name}")):
        OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def fit_fingerprint(cfg: DictConfig) -> str:
    """Hash of the resolved fit config, less the keys that do not change the weights (paths, logger)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    return fingerprint({k: v for k, v in resolved.items() if k not in _NOT_FINGERPRINTED})


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def weights_complete(pdir: Path, fit_fp: str) -> bool:
    """Whether ``pdir/weights`` holds a finished export of the fit with fingerprint ``fit_fp``."""
    target = weights_path(pdir)
    return _read_json(target / FIT_MARKER).get("fingerprint") == fit_fp and (target / "config.json").is_file()


def train_point(cfg: DictConfig, fit_fp: str, pdir: Path, log: Callable[[str], None],
                fresh: bool = False) -> Path:
    """Train with ``actdiff fit``'s ``run`` in-process and export; returns the weights path.

    Resumes from ``run/checkpoints/last.ckpt`` when the run folder belongs to the same fit
    fingerprint (and not ``fresh``), else clears ``run/``. Stale weights are removed first;
    ``weights/fit.json`` (fingerprint, task, resolved config) is written once the export exists.
    """
    from actdiff.errors import OutputError
    from actdiff.training.fit import run_fit

    task = str(cfg.get("task") or "denoiser")
    run, weights = pdir / "run", weights_path(pdir)
    same = _read_json(run / RUN_MARKER).get("fingerprint") == fit_fp
    resume = not fresh and same and (run / "checkpoints" / "last.ckpt").is_file()
    if weights.exists():
        shutil.rmtree(weights)
    if not resume and run.exists():
        log(f"  clearing {run} ({'--force' if fresh else 'other fit settings or no checkpoint'})")
        shutil.rmtree(run)
    if resume:
        log(f"  resuming the interrupted training from {run / 'checkpoints' / 'last.ckpt'}")
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / RUN_MARKER, json.dumps({"fingerprint": fit_fp}) + "\n", overwrite=True)
    run_fit(cfg, resume=resume)
    if not (weights / "config.json").is_file():
        raise OutputError(f"training finished but exported no weights at {weights}")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    atomic_write_text(weights / FIT_MARKER, json.dumps({"fingerprint": fit_fp, "task": task, "weights": str(weights),
                                                        "config": resolved}, indent=2, default=str) + "\n",
                      overwrite=True)
    return weights


def trained_decoder(point: Point, task: str, weights: Path) -> Tuple[Dict[str, Any], List[str]]:
    """``(decoder, extra codec overrides)`` that make the evaluation use the trained ``weights``."""
    if task == "denoiser":
        return {**point.decoder, "name": "diffusion", "weights": str(weights)}, []
    if task == "keyframe_selector":
        return dict(point.decoder), ["codec.keyframes.name=learned", f"codec.keyframes.weights={weights}"]
    return dict(point.decoder), ["codec.trajectories.weight_map=learned",
                                 f"codec.trajectories.weight_map_weights={weights}"]


def evaluate_point(spec: Spec, point: Point, overrides: Sequence[str], rates: Dict[str, List[str]],
                   fp: str, log: Callable[[str], None], decoder: Optional[Dict[str, Any]] = None,
                   fit_info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Encode → decode → metrics of every sequence at every rate for one point; a results document.

    ``decoder`` replaces ``point.decoder`` (fit sweeps: the trained weights); ``fit_info`` is
    stored as ``config["fit"]``."""
    decoder = dict(decoder or point.decoder)
    base = compose_config(spec.config, spec.protocol, list(overrides))
    protocol = load_protocol(base.get("protocol"))
    cfgs = point_configs(rates, spec.config, spec.protocol, list(overrides))
    dec = build_decoder(decoder)
    dataset = load_dataset(spec.data, sequences=spec.sequences)
    config = {"base": OmegaConf.to_container(base, resolve=True), "rates": rates, "decoder": decoder,
              "metrics": list(spec.metrics), "overrides": list(overrides),
              "sweep": {"name": spec.name, "point": point.name, "fingerprint": fp}}
    if fit_info is not None:
        config["fit"] = fit_info
    results = new_results(f"actdiff-{point.decoder_label}:{point.name}", dataset.name, protocol.to_dict(), config)

    def points_of(video, seq_log):
        return actdiff_points(video, cfgs, {"d": dec}, spec.metrics, log=seq_log)["d"]

    return run_dataset(dataset, protocol, points_of, spec.metrics, results, log=lambda s: log(f"  {point.name} {s}"),
                       read_kwargs=padded_read(cfgs))


def _done(path: Path, fp: str) -> bool:
    if not path.is_file():
        return False
    try:
        res = load_results(path)
    except Exception:  # a damaged file is simply re-run
        return False
    return res.get("config", {}).get("sweep", {}).get("fingerprint") == fp


def _run_point(spec: Spec, point: Point, out: Path, ovs: List[str], fit_extra: Sequence[str],
               rates: Dict[str, List[str]], force: bool, tag: str, log: Callable[[str], None],
               state: Dict[str, Any]) -> str:
    """Fit (fit sweeps) and evaluate one point unless finished; ``state["stage"]`` tracks the part
    running (for the error record). Returns ``skipped`` or ``done``."""
    res_path = out / "points" / f"{point.name}.json"
    decoder, eval_ovs, fit_fp, fit_info = dict(point.decoder), list(ovs), None, None
    if spec.trains:
        assert spec.fit is not None
        state["stage"] = "fit"
        pdir = point_dir(out, point)
        fit_ovs = fit_overrides(spec, point, fit_extra)
        cfg = fit_config(spec, point, fit_ovs, pdir)
        fit_fp = fit_fingerprint(cfg)
        weights = weights_path(pdir)
        complete = weights_complete(pdir, fit_fp)
        if not force and complete and _done(res_path, point_fingerprint(spec, point, ovs, rates, fit_fp)):
            log(f"{tag}: finished before, skipped")
            return "skipped"
        if force or not complete:
            log(f"{tag}: training ({' '.join(fit_ovs) or 'no fit overrides'}; {spec.fit.config}, "
                f"task {spec.fit.task}) into {pdir}")
            train_point(cfg, fit_fp, pdir, log, fresh=force)
            state["trained"] = True
        else:
            log(f"{tag}: weights trained before ({weights}), evaluating only")
        decoder, weight_ovs = trained_decoder(point, spec.fit.task, weights)
        eval_ovs = list(ovs) + weight_ovs
        fit_info = {"config": spec.fit.config, "task": spec.fit.task, "overrides": fit_ovs, "fingerprint": fit_fp,
                    "weights": str(weights), "run_dir": str(pdir / "run")}
    fp = point_fingerprint(spec, point, ovs, rates, fit_fp)
    if not spec.trains and not force and _done(res_path, fp):
        log(f"{tag}: finished before, skipped")
        return "skipped"
    state["stage"] = "evaluate"
    log(f"{tag}: running ({' '.join(ovs) or 'no overrides'}; decoder {point.decoder_label})")
    results = evaluate_point(spec, point, eval_ovs, rates, fp, log, decoder, fit_info)
    save_results(results, res_path, overwrite=True)
    return "done"


def check_points(spec: Spec, points: Sequence[Point], out: Path, eval_extra: Sequence[str],
                 fit_extra: Sequence[str], rates: Dict[str, List[str]], frames: Optional[int]) -> None:
    """Compose and check each point's settings (cheap: no data read, no weights trained); the
    first that cannot run raises one ``ConfigError`` naming the point."""
    from actdiff.errors import ActDiffError
    from actdiff.training.checks import check_fit_config

    built: List[Dict[str, Any]] = []
    for point in points:
        try:
            point_configs(rates, spec.config, spec.protocol, point_overrides(point, eval_extra, frames))
            if spec.trains:
                check_fit_config(fit_config(spec, point, fit_overrides(spec, point, fit_extra), point_dir(out, point)))
            elif point.decoder not in built:  # fit sweeps decode with the weights they train
                build_decoder(dict(point.decoder))
                built.append(point.decoder)
        except ActDiffError as e:
            raise ConfigError(f"sweep {spec.name}, point {point.name}: {(str(e).splitlines() or [''])[0]}") from None


def run_sweep(spec: Spec, out_dir: str | Path, extra: Sequence[str] = (), frames: Optional[int] = None,
              only: Optional[Sequence[str]] = None, force: bool = False,
              log: Callable[[str], None] = write) -> List[PointStatus]:
    """Run (or skip) every point; never stops at a failed point. Returns one status per point.

    ``extra``: command-line overrides of every point (``fit.KEY=V`` ones change the fit config);
    ``frames``: at most this many evaluated frames per sequence; ``force``: re-run (and retrain)
    finished points too."""
    check_metrics(spec.metrics)  # unknown, repeated, or weights missing: every point would fail after coding
    out = Path(out_dir)
    rates = resolve_rates(spec)
    eval_extra, fit_extra = split_extra(spec, extra)
    chosen = [spec.point(n) for n in only] if only else spec.points
    check_points(spec, chosen, out, eval_extra, fit_extra, rates, frames)
    (out / "points").mkdir(parents=True, exist_ok=True)
    statuses: List[PointStatus] = []
    with bar(len(chosen), "sweep points", unit="point") as pbar:
        for i, point in enumerate(chosen):
            ovs = point_overrides(point, eval_extra, frames)
            res_path, err_path = out / "points" / f"{point.name}.json", out / "points" / f"{point.name}.error.json"
            tag = f"[{i + 1}/{len(chosen)}] {point.name}"
            state: Dict[str, Any] = {"stage": "evaluate", "trained": False}
            t0 = time.perf_counter()
            try:
                status = _run_point(spec, point, out, ovs, fit_extra, rates, force, tag, log, state)
                err_path.unlink(missing_ok=True)
                statuses.append(PointStatus(point.name, status, res_path, seconds=time.perf_counter() - t0,
                                            trained=state["trained"]))
            except KeyboardInterrupt:
                raise
            except Exception as e:  # recorded, and the sweep goes on
                msg = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
                if spec.trains:
                    msg = f"{state['stage']}: {msg}"
                log(f"{tag}: FAILED: {msg}")
                fit_ovs = fit_overrides(spec, point, fit_extra) if spec.trains else []
                record = {"point": point.name, "stage": state["stage"], "error": msg, "overrides": ovs,
                          "fit_overrides": fit_ovs, "traceback": traceback.format_exc()}
                atomic_write_text(err_path, json.dumps(record, indent=2) + "\n", overwrite=True)
                res_path.unlink(missing_ok=True)
                statuses.append(PointStatus(point.name, "failed", None, msg, time.perf_counter() - t0, state["stage"],
                                            state["trained"]))
            pbar.update(1)
    return statuses


def collect(spec: Spec, out_dir: str | Path) -> Dict[str, Dict[str, Any]]:
    """``{point: {"status", "results" or "error" and "stage"}}`` from the sweep folder, in spec order;
    fit sweeps add ``weights`` where an export is complete."""
    out = Path(out_dir) / "points"
    rows: Dict[str, Dict[str, Any]] = {}
    for p in spec.points:
        res, err = out / f"{p.name}.json", out / f"{p.name}.error.json"
        if err.is_file():
            doc = _read_json(err)
            rows[p.name] = {"status": "failed", "error": doc.get("error", ""), "stage": doc.get("stage", "")}
        elif res.is_file():
            rows[p.name] = {"status": "ok", "results": load_results(res)}
        else:
            rows[p.name] = {"status": "missing"}
        marker = _read_json(out / p.name / "weights" / FIT_MARKER)
        if spec.trains and marker.get("weights"):
            rows[p.name]["weights"] = marker["weights"]
    return rows
