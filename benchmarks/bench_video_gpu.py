#!/usr/bin/env python
"""GPU speed and memory of the video decoder models ``tiny-video`` and ``small-video`` (issue 13).

One command on a GPU machine (writes ``benchmarks/results/video_gpu_<gpu>.json``)::

    python benchmarks/bench_video_gpu.py

CPU smoke run of the same code on small windows (seconds; ``tests/test_bench_video_gpu.py``)::

    python benchmarks/bench_video_gpu.py --tiny --device cpu --out /tmp/video_gpu_tiny.json

What is measured, each model on its own (``configs/model/tiny_video.yaml``: the shipped 2D weights
inflated, temporal layers at zero; ``small_video.yaml``: random weights — speed and memory only, the
frames mean nothing):

* decode: one window of the model's longest length (16 frames) of random conditions
  ``(T, NUM_VIDEO_CHANNELS, H, W)`` through :meth:`SegmentGenerator.generate` with the weights'
  default sampler (steps as stored), at 256x384 and 480x720 (padded up to the model's size
  multiple, as the decoder pads): seconds, frames/s and peak GPU memory, in float32 and (GPU only)
  under bf16 autocast. The generator alone: the conditions (tracks, warps) are built on the CPU by the
  decoder and are not in these numbers;
* training: steps/s and peak memory of one :class:`ConditionalDenoiser` step on a batch of one
  window (bf16 autocast, the config's gradient checkpointing, AdamW over the trainable parts).

The JSON (with the GPU's name) is rewritten after every measurement, so a run stopped early keeps
what it measured; ``--budget-s`` starts no new measurement after that many seconds. Needs torch,
diffusers, omegaconf (with antlr4-python3-runtime) and lightning; it reads no video, so it runs
without PyAV (stand-in modules, recorded as ``pyav_stubbed``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_paper_gpu import ROOT, model_config, peak_gb, reset_peak, stub_missing_pyav, sync  # noqa: E402

from actdiff.io.files import prepare_outputs, refuse_outputs  # noqa: E402

MODELS = {"tiny-video": "tiny_video", "small-video": "small_video"}
SIZES = ((256, 384), (480, 720))


def padded(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


def gb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} GB"


def random_window(frames: int, channels: int, h: int, w: int, device: str, seed: int = 0) -> torch.Tensor:
    """Window conditions ``(T, C, H, W)`` in [-1, 1]: random values (speed only)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(frames, channels, h, w, generator=g) * 2 - 1).to(device)


def timed(fn: Any, device: str, repeats: int) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls of ``fn`` after one warm-up call, and the last output."""
    out = fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2], out


def measure_decode(model: Any, frames: int, size: tuple[int, int], device: str, bf16: bool,
                   repeats: int) -> dict[str, Any]:
    from actdiff.conditioning import NUM_VIDEO_CHANNELS

    m = model.window_spec().size_multiple
    h, w = padded(size[0], m), padded(size[1], m)
    cond = random_window(frames, NUM_VIDEO_CHANNELS, h, w, device)
    ids = list(range(frames))
    reset_peak(device)

    def run() -> torch.Tensor:
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            return model.generate(cond, 0, ids)

    s, out = timed(run, device, repeats)
    finite = bool(torch.isfinite(out).all())
    result = {"size": list(size), "padded_size": [h, w], "frames": frames, "dtype": "bf16-autocast" if bf16 else
              "float32", "sampling": model.sampling_defaults(), "seconds": s, "frames_per_second": frames / s,
              "peak_gpu_gb": peak_gb(device), "output_finite": finite}
    print(f"  decode {size[0]}x{size[1]} {result['dtype']:>13}: {frames / s:8.2f} frames/s ({s:.3f} s / window, "
          f"peak {gb(result['peak_gpu_gb'])}{'' if finite else ', NON-FINITE OUTPUT'})", flush=True)
    return result


def measure_training(name: str, frames: int, size: tuple[int, int], device: str, steps: int) -> dict[str, Any]:
    from actdiff.conditioning import NUM_VIDEO_CHANNELS
    from actdiff.training.module import ConditionalDenoiser

    cfg = model_config(MODELS[name])
    module = ConditionalDenoiser(dict(cfg), {"lr": 1e-4}).to(device)
    module.model.train()
    opt = module.configure_optimizers()["optimizer"]
    m = module.model.window_spec().size_multiple
    h, w = padded(size[0], m), padded(size[1], m)
    batch = {"cond": random_window(frames, NUM_VIDEO_CHANNELS, h, w, device, seed=1)[None],
             "target": random_window(frames, 3, h, w, device, seed=2)[None]}
    use_amp = device.startswith("cuda")
    reset_peak(device)

    def step() -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = module.diffusion_loss(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    s, loss = timed(step, device, steps)
    trainable = sum(p.numel() for p in module.model.trainable_parameters())
    out = {"model": name, "size": list(size), "padded_size": [h, w], "window_frames": frames, "batch_windows": 1,
           "steps_per_second": 1.0 / s, "seconds_per_step": s, "peak_gpu_gb": peak_gb(device),
           "loss": float(loss), "trainable_parameters": trainable, "autocast_bf16": use_amp,
           "gradient_checkpointing": bool(cfg.get("gradient_checkpointing", False))}
    print(f"  training {size[0]}x{size[1]}: {1 / s:.2f} steps/s ({s:.3f} s/step, peak {gb(out['peak_gpu_gb'])}, "
          f"{trainable / 1e6:.1f} M trainable, loss {out['loss']:.3f})", flush=True)
    return out  # the module and optimiser go with this frame


def build(name: str, device: str) -> tuple[Any, dict[str, Any]]:
    from actdiff.models.presets import build_model

    t0 = time.perf_counter()
    model = build_model(model_config(MODELS[name])).to(device).eval()
    params = sum(p.numel() for p in model.parameters())
    temporal = sum(p.numel() for p in model.temporal.parameters())
    print(f"{model.describe()}: {params / 1e6:.1f} M parameters ({temporal / 1e6:.1f} M temporal), "
          f"built in {time.perf_counter() - t0:.1f} s", flush=True)
    return model, {"model": model.describe(), "config": MODELS[name], "parameters": params,
                   "temporal_parameters": temporal, "window": model.window_spec().max_frames,
                   "size_multiple": model.window_spec().size_multiple}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="small windows (CPU smoke run): 4 frames at 32x48")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--repeats", type=int, default=3, help="timed decodes per setting (median)")
    p.add_argument("--train-steps", type=int, default=5, help="timed training steps (0: none)")
    p.add_argument("--budget-s", type=float, default=300.0, help="start no measurement after this many seconds")
    p.add_argument("-o", "--out", default=None, help="JSON (default: benchmarks/results/video_gpu_<gpu>.json)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    refuse_outputs(p, [args.out], args.overwrite)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.tiny and not args.device.startswith("cuda"):
        sys.stderr.write("error: the full-size windows need a GPU (--device cuda); --tiny runs small ones\n")
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.stderr.write("error: --device cuda but torch sees no GPU\n")
        return 2
    start = time.perf_counter()
    import diffusers

    stubbed = stub_missing_pyav()
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None
    slug = (gpu or "cpu").lower().replace(" ", "_").replace("-", "_")
    default = ROOT / "benchmarks" / "results" / f"video_gpu_{slug}{'_tiny' if args.tiny else ''}.json"
    out_path = Path(args.out or default)
    prepare_outputs([out_path], overwrite=args.overwrite, files=True)
    sizes = [(32, 48)] if args.tiny else list(SIZES)
    result: dict[str, Any] = {
        "benchmark": "bench_video_gpu", "gpu": gpu, "device": args.device, "tiny": args.tiny,
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                     "python": platform.python_version(), "cuda": torch.version.cuda},
        "pyav_stubbed": stubbed, "conditions": "random", "models": {}, "skipped": []}

    def save() -> None:
        result["elapsed_s"] = time.perf_counter() - start
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2) + "\n")

    def in_budget(what: str) -> bool:
        if time.perf_counter() - start <= args.budget_s:
            return True
        result["skipped"].append(what)
        print(f"  (budget: {what} skipped)", flush=True)
        return False

    for name in args.models:
        model, info = build(name, args.device)
        entry = result["models"][name] = {**info, "decode": [], "training": []}
        frames = 4 if args.tiny else info["window"]
        for size in sizes:
            for bf16 in (False, True) if args.device.startswith("cuda") else (False,):
                if in_budget(f"{name}/decode/{size}/{'bf16' if bf16 else 'fp32'}"):
                    entry["decode"].append(measure_decode(model, frames, size, args.device, bf16, args.repeats))
                    save()
        del model
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
        for size in sizes:
            if args.train_steps > 0 and in_budget(f"{name}/training/{size}"):
                try:
                    entry["training"].append(measure_training(name, frames, size, args.device, args.train_steps))
                except torch.OutOfMemoryError as err:  # recorded, not hidden
                    entry["training"].append({"size": list(size), "error": f"out of memory: {err}".splitlines()[0]})
                    print(f"  training {size}: out of memory", flush=True)
                save()
                if args.device.startswith("cuda"):
                    torch.cuda.empty_cache()
    save()
    print(f"results: {out_path} ({result['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
