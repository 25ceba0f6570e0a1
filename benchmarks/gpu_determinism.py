#!/usr/bin/env python
"""Is the video generator deterministic on a GPU, and how far are its GPU frames from its CPU frames?

One command on a GPU machine (writes ``benchmarks/results/gpu_determinism_<gpu>.json``)::

    python benchmarks/gpu_determinism.py

For ``tiny-video`` (the shipped 2D weights inflated) and ``small-video`` (random weights, seeded),
one window of random conditions (seeded) is generated twice on the GPU in float32 (the same seed
from the "stream") and once on the CPU: the largest absolute difference between the two GPU runs
(0 = bitwise identical) and between GPU and CPU, and the PSNR of the GPU frames against the CPU
frames (frames in [-1, 1] mapped to [0, 1]). small-video samples 4 steps instead of its 20 here
(recorded). ``--tiny`` runs a small window (CPU smoke run: the
"GPU" is then the CPU too).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_paper_gpu import ROOT, model_config, stub_missing_pyav  # noqa: E402
from bench_video_gpu import MODELS, padded, random_window  # noqa: E402

from actdiff.io.files import prepare_outputs, refuse_outputs  # noqa: E402


def psnr(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """PSNR (dB) of frames in [-1, 1] seen as [0, 1]; ``None`` when identical (strict JSON has no inf)."""
    mse = float((((a - b) / 2) ** 2).mean())
    return None if mse == 0 else 10 * torch.log10(torch.tensor(1.0 / mse)).item()


def check(name: str, frames: int, size: tuple[int, int], device: str) -> dict[str, Any]:
    from actdiff.conditioning import NUM_VIDEO_CHANNELS
    from actdiff.models.presets import build_model

    torch.manual_seed(0)                                     # small-video's random weights
    model = build_model(model_config(MODELS[name])).eval()
    m = model.window_spec().size_multiple
    h, w = padded(size[0], m), padded(size[1], m)
    cond = random_window(frames, NUM_VIDEO_CHANNELS, h, w, "cpu")
    ids = list(range(frames))
    opts = {"steps": 4} if name == "small-video" else {}     # its 20 steps take minutes on a CPU
    cpu = model.generate(cond, 7, ids, **opts).float()
    model.to(device)
    first = model.generate(cond.to(device), 7, ids, **opts).float().cpu()
    second = model.generate(cond.to(device), 7, ids, **opts).float().cpu()
    out = {"model": name, "size": [h, w], "frames": frames, "device": device,
           "sampling": {**model.sampling_defaults(), **opts},
           "max_abs_diff_two_runs": float((first - second).abs().max()),
           "bitwise_identical_two_runs": bool(torch.equal(first, second)),
           "max_abs_diff_vs_cpu": float((first - cpu).abs().max()), "psnr_vs_cpu_db": psnr(first, cpu)}
    print(json.dumps(out), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="a 4-frame 32x48 window (CPU smoke run)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("-o", "--out", default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    refuse_outputs(p, [args.out], args.overwrite)
    if not args.tiny and not args.device.startswith("cuda"):
        sys.stderr.write("error: the full-size check needs a GPU (--device cuda); --tiny runs a small one\n")
        return 2
    import diffusers  # noqa: F401  (before the PyAV stand-in: diffusers probes which packages exist)

    stub_missing_pyav()
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None
    slug = (gpu or "cpu").lower().replace(" ", "_").replace("-", "_")
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"gpu_determinism_{slug}.json")
    prepare_outputs([out], overwrite=args.overwrite, files=True)
    frames, size = (4, (32, 48)) if args.tiny else (16, (256, 384))
    result = {"benchmark": "gpu_determinism", "gpu": gpu, "torch": torch.__version__,
              "cudnn_deterministic": torch.backends.cudnn.deterministic,
              "checks": [check(name, frames, size, args.device) for name in args.models]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
