"""The results JSON shared by ``evaluate`` (ActDiff) and ``bench`` (classical codecs).

Schema ``actdiff.results/1`` (documented in docs/results_schema.md), CompressAI/DCVC style::

    {"schema": "actdiff.results/1", "codec": "x265", "protocol": {...}, "dataset": "uvg",
     "versions": {...}, "machine": {...}, "config": {...},
     "sequences": {"Beauty": [RATE_POINT, ...], ...},
     "mean": [RATE_POINT_MEAN, ...]}

A rate point holds ``bpp``, ``bits_total``, ``bits`` (per part), ``frames``, ``height``,
``width``, one rate parameter (``quality_param``/``crf``/``target``), ``metrics`` ({name: value})
and ``encode_seconds``/``decode_seconds``. ``mean[i]`` averages the i-th rate point of every
sequence (bpp and each metric: arithmetic means over sequences). The optional ``source``
(``{sequence: {metric: value}}``) holds the no-reference metrics (NIQE) of the uncompressed
source frames, the reference point for "better than the original" scores.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actdiff.errors import ConfigError, InputError, OutputError
from actdiff.io.files import atomic_write_bytes
from actdiff.metrics.source import source_metrics

SCHEMA = "actdiff.results/1"
TOP_KEYS = ("schema", "codec", "protocol", "dataset", "versions", "machine", "config", "sequences", "mean")
POINT_KEYS = ("bpp", "bits_total", "frames", "height", "width", "metrics")
#: Largest bit rate a rate point may claim (bits per pixel; raw 16-bit RGBA is 64).
MAX_BPP = 64.0
#: Largest results file read (bytes): a results JSON is kilobytes to a few megabytes.
MAX_RESULTS_BYTES = 256 * 2**20
RATE_KEYS = ("quality_param", "crf", "target", "rate")


def versions() -> dict[str, str]:
    """Versions of Python and the libraries that can change results."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("actdiff", "torch", "torchvision", "torchmetrics", "piq", "av", "pillow", "numpy",
                "opencv-python-headless", "diffusers", "lightning", "bjontegaard"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        import av

        out["ffmpeg"] = ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))
    except (ImportError, AttributeError):  # pragma: no cover - av always present in practice
        pass
    return out


def machine() -> dict[str, Any]:
    """Where the numbers were measured (affects encode/decode seconds only)."""
    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                            "cpu_count": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    try:
        import torch

        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        info["torch_threads"] = torch.get_num_threads()
    except (ImportError, RuntimeError):  # pragma: no cover
        pass
    return info


def new_results(codec: str, dataset: str, protocol: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """An empty results document with versions and machine filled in."""
    return {"schema": SCHEMA, "codec": codec, "protocol": dict(protocol), "dataset": dataset,
            "versions": versions(), "machine": machine(), "config": _plain(config), "sequences": {}, "mean": []}


def _plain(obj: Any) -> Any:
    """JSON-able copy: numpy scalars → Python, NaN/inf kept (written as NaN/Infinity), DictConfig → dict."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(obj, (DictConfig, ListConfig)):
            obj = OmegaConf.to_container(obj, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _nanmean(values: list[float]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    finite = [v for v in vals if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def compute_mean(sequences: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per rate-point index, the mean over sequences of bpp, bits_total, seconds and each metric.

    Only indices present in every sequence are averaged (sequences may have fewer points when a
    run was interrupted). NaN metric values are left out of the mean.
    """
    seqs = [v for v in sequences.values() if v]
    if not seqs:
        return []
    n = min(len(v) for v in seqs)
    out = []
    for i in range(n):
        pts = [v[i] for v in seqs]
        mean: dict[str, Any] = {"sequences": len(pts)}
        for key in ("bpp", "bits_total", "encode_seconds", "decode_seconds"):
            m = _nanmean([p.get(key) for p in pts])
            if m is not None:
                mean[key] = m
        for key in RATE_KEYS:
            vals = {json.dumps(p.get(key)) for p in pts if key in p}
            if len(vals) == 1:
                mean[key] = pts[0][key]
        names = sorted({k for p in pts for k in p.get("metrics", {})})
        mean["metrics"] = {k: _nanmean([p["metrics"].get(k) for p in pts]) for k in names}
        out.append(mean)
    return out


def _check_point(point: Mapping[str, Any], where: str) -> None:
    """A rate point's ``bpp`` is finite and >= 0 (NaN: a failed point, kept) and each metric a
    number or null."""
    bpp = float(point["bpp"])
    if math.isinf(bpp) or bpp < 0 or bpp > MAX_BPP:
        raise InputError(f"{where}: bpp {bpp!r} is not a bit rate (0 … {MAX_BPP} bits per pixel)")
    bad = [k for k, v in point["metrics"].items()
           if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))]
    if bad:
        raise InputError(f"{where}: metric {bad[0]!r} is {point['metrics'][bad[0]]!r}, not a number")


def validate(results: Any, source: str = "results") -> dict[str, Any]:
    """Check the schema; raise a one-line ``InputError`` naming what is wrong."""
    if not isinstance(results, dict):
        raise InputError(f"{source}: not a results JSON object")
    schema = results.get("schema")
    if schema != SCHEMA:
        raise InputError(f"{source}: schema {schema!r} is not {SCHEMA!r} "
                         "(not an actdiff, CompressAI or DCVC results file?)")
    missing = [k for k in TOP_KEYS if k not in results]
    if missing:
        raise InputError(f"{source}: missing key(s) {', '.join(missing)}")
    if not isinstance(results["sequences"], dict):
        raise InputError(f"{source}: 'sequences' must map names to lists of rate points")
    for name, points in results["sequences"].items():
        if not isinstance(points, list):
            raise InputError(f"{source}: sequence {name!r} must be a list of rate points")
        for i, p in enumerate(points):
            miss = [k for k in POINT_KEYS if not isinstance(p, dict) or k not in p]
            if miss:
                raise InputError(f"{source}: sequence {name!r} point {i} lacks {', '.join(miss)}")
            if not isinstance(p["bpp"], (int, float)) or not isinstance(p["metrics"], dict):
                raise InputError(f"{source}: sequence {name!r} point {i}: bpp must be a number, metrics a mapping")
            _check_point(p, f"{source}: sequence {name!r} point {i}")
    if not isinstance(results["mean"], list):
        raise InputError(f"{source}: 'mean' must be a list")
    src = results.get("source", {})
    if not isinstance(src, dict) or not all(
            isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()) for v in src.values()):
        raise InputError(f"{source}: 'source' must map sequence names to {{metric: number}}")
    return results


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically (never a half-written file, no clobbering)."""
    return atomic_write_bytes(path, text.encode(), overwrite=overwrite)


def save_results(results: dict[str, Any], path: str | Path, overwrite: bool = False) -> Path:
    """Recompute ``mean``, validate and write ``results`` atomically as indented JSON."""
    results = _plain(results)
    results["mean"] = compute_mean(results["sequences"])
    validate(results, str(path))
    return atomic_write_text(path, json.dumps(results, indent=2, allow_nan=True) + "\n", overwrite=overwrite)


def progress_path(out: str | Path) -> Path:
    """Where ``evaluate``/``bench`` keep the sequences finished so far: ``OUT.partial``."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def save_progress(results: dict[str, Any], out: str | Path) -> Path:
    """Write the results so far to ``progress_path(out)``, never to ``out`` itself: the output
    appears only complete (and an existing one is replaced only then), while a crash or a bad
    clip late in a dataset still leaves the finished sequences readable in ``OUT.partial``."""
    return save_results(results, progress_path(out), overwrite=True)


def finish_results(results: dict[str, Any], out: str | Path, shard: str | None, dataset: Any,
                   quiet: bool = False, config_yaml: str | None = None) -> Path:
    """Last step of ``evaluate``/``bench``: refuse a shard that held no sequence, write the
    results and (``config_yaml``) the resolved config beside them as ``OUT.config.yaml``, remove
    ``OUT.partial`` and say where. Both are written only here, so a run stopped before its end
    leaves an earlier results file and its config together as they were."""
    if not results["sequences"]:
        raise ConfigError(f"shard {shard} selects no sequence of {dataset.name} ({len(dataset)} sequences)")
    path = save_results(results, out, overwrite=True)
    if config_yaml is not None:
        atomic_write_text(Path(f"{out}.config.yaml"), config_yaml, overwrite=True)
    progress_path(out).unlink(missing_ok=True)
    if not quiet:
        sys.stderr.write(f"wrote {out}\n")
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results JSON (``InputError`` if missing, not JSON or another schema).

    CompressAI and DCVC result files are converted to this schema
    (:mod:`actdiff.evaluation.interop`)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError(f"{path} is not a regular file (a results JSON is expected)")
    if path.is_file() and path.stat().st_size > MAX_RESULTS_BYTES:
        raise InputError(f"{path} is {path.stat().st_size / 2**20:.0f} MiB, larger than any results JSON "
                         f"({MAX_RESULTS_BYTES // 2**20} MiB at most)")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"results file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not valid JSON: {e.msg} (line {e.lineno})") from None
    if isinstance(data, dict) and "schema" not in data:
        from actdiff.evaluation.interop import convert

        imported = convert(data, str(path))
        if imported is not None:
            imported["schema"] = SCHEMA
            if imported["mean"] is None:
                imported["mean"] = compute_mean(imported["sequences"])
            return validate(imported, str(path))
    return validate(data, str(path))


def load_results_at(rev: str, path: str | Path, repo: str | Path | None = None) -> dict[str, Any]:
    """The results JSON at ``path`` (relative to the root of the git checkout ``repo``, default:
    the working directory's) as it was at git revision ``rev``, validated: to compare a run with
    an earlier one. ``InputError`` when git cannot show it."""
    import subprocess

    shown = subprocess.run(["git", "show", f"{rev}:{Path(path).as_posix()}"], capture_output=True, text=True,
                           cwd=repo)
    if shown.returncode != 0:
        raise InputError(f"{path} at {rev}: {shown.stderr.strip() or 'git show failed'}")
    try:
        return validate(json.loads(shown.stdout), f"{path}@{rev}")
    except json.JSONDecodeError as e:
        raise InputError(f"{path}@{rev} is not valid JSON: {e.msg} (line {e.lineno})") from None


def to_curves(results: Mapping[str, Any], metric: str, include_mean: bool = False
              ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{sequence: (bpp (K,), metric (K,))}`` sorted by bpp; points lacking the metric are skipped.

    With ``include_mean`` the dataset mean curve is added under the key ``"mean"``.
    """
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    items = list(results["sequences"].items())
    if include_mean:
        items.append(("mean", results.get("mean") or compute_mean(results["sequences"])))
    for name, points in items:
        pairs = [(float(p["bpp"]), float(p["metrics"][metric])) for p in points
                 if p.get("metrics", {}).get(metric) is not None]
        pairs = [(r, m) for r, m in pairs if not (math.isnan(r) or math.isnan(m))]
        pairs.sort()
        out[name] = (np.array([r for r, _ in pairs]), np.array([m for _, m in pairs]))
    return out


def source_value(results: Mapping[str, Any], sequence: str, metric: str) -> float | None:
    """The source's own ``metric`` for ``sequence`` (``"mean"``: mean over sequences), if recorded."""
    src = results.get("source") or {}
    if sequence == "mean":
        vals = [v[metric] for n, v in src.items() if n in results["sequences"] and metric in v]
        return float(np.mean(vals)) if vals and len(vals) == len(results["sequences"]) else None
    value = src.get(sequence, {}).get(metric)
    return None if value is None else float(value)


def record_source(results: dict[str, Any], name: str, frames: np.ndarray, metrics: Sequence[str]) -> None:
    """Store the source's own no-reference scores of sequence ``name`` under
    ``results["source"][name]`` (nothing when ``metrics`` holds no no-reference metric): the
    reference point for "better than the original" (``frames``: ``uint8 (T, H, W, 3)`` as read)."""
    src = source_metrics(frames, metrics)
    if src:
        results.setdefault("source", {})[name] = src


def metric_names(results: Mapping[str, Any]) -> list[str]:
    """Every metric some rate point (or, for a dataset-average-only document, some mean point) holds."""
    points = [p for pts in results["sequences"].values() for p in pts] + list(results.get("mean") or [])
    return sorted({k for p in points for k in p.get("metrics", {})})


__all__ = [
    "SCHEMA",
    "atomic_write_text",
    "check_output",
    "compute_mean",
    "finish_results",
    "load_results_at",
    "load_results",
    "machine",
    "metric_names",
    "new_results",
    "parse_shard",
    "progress_path",
    "record_source",
    "save_progress",
    "save_results",
    "source_value",
    "to_curves",
    "validate",
    "versions",
]


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` (0-based ``i < n``) → ``(i, n)``; ``None`` → ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r} is not of the form i/n (e.g. 0/4)") from None
    if n < 1 or not 0 <= i < n:
        raise InputError(f"--shard {text}: need 0 <= i < n")
    return i, n


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Refuse an existing output without ``--overwrite``; make sure its folder can be created."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists (use --overwrite)")
    if path.exists() and path.is_dir():
        raise OutputError(f"{path} is a folder, expected a file path")
    return path
