"""Shared helpers for the evaluation tests: tiny synthetic clips and results documents."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load_script(relpath: str) -> ModuleType:
    """Import a script of the repository that is not a package module (``benchmarks/…``,
    ``experiments/…``) by its path relative to the repository root."""
    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def moving_texture(t: int = 6, h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """Smooth colour texture translating 2 px/frame: ``uint8 (T, H, W, 3)``."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    big = rng.standard_normal((h, w + 2 * t, 3))
    big = np.stack([gaussian_filter(big[..., c], 3.0) for c in range(3)], -1)
    big = (big - big.min()) / (big.max() - big.min()) * 200 + 25
    return np.stack([big[:, 2 * i : 2 * i + w] for i in range(t)]).astype(np.uint8)


def write_clip_folder(folder, names=("alpha", "beta"), **kw):
    """A folder of lossless .mkv clips (FFV1) for ``--data FOLDER``."""
    from actdiff.io import write_video

    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        write_video(folder / f"{n}.mkv", moving_texture(seed=i, **kw), fps=25)
    return folder


def fake_results(codec: str, curves: dict, metric: str = "psnr") -> dict:
    """A valid results document from ``{seq: (bpp list, metric list)}``."""
    from actdiff.evaluation.results import compute_mean, new_results

    res = new_results(codec, "synthetic", {"name": "native"}, {})
    for name, (rates, values) in curves.items():
        res["sequences"][name] = [
            {"crf": i, "bpp": float(r), "bits_total": int(r * 1000), "bits": {}, "frames": 1, "height": 10,
             "width": 100, "metrics": {metric: float(v)}} for i, (r, v) in enumerate(zip(rates, values))]
    res["mean"] = compute_mean(res["sequences"])
    return res


def fail_point_at_run_time(monkeypatch, point_name, stage="evaluate"):
    """Make one point of a sweep fail while it runs (as out of memory or a diverged fit would):
    ``stage`` ``evaluate`` or ``fit``; raises ``RuntimeError("simulated <stage> failure of <point>")``."""
    import actdiff.sweeps.run as run_mod

    target = "evaluate_point" if stage == "evaluate" else "train_point"
    real = getattr(run_mod, target)

    def failing(*args, **kwargs):  # evaluate_point(spec, point, …), train_point(cfg, …)
        name = args[1].name if stage == "evaluate" else str(args[0].name).rsplit("-", 1)[-1]
        if name == point_name:
            raise RuntimeError(f"simulated {stage} failure of {point_name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_mod, target, failing)
