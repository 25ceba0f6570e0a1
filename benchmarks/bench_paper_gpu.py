#!/usr/bin/env python
"""GPU benchmark of the paper decoder (CogVideoX-5B I2V + DaS branch) and its Wan2.1 sibling, random weights.

One command on a GPU machine (writes benchmarks/results/paper_gpu_<gpu>.json)::

    python benchmarks/bench_paper_gpu.py

CPU smoke run of the same code on the tiny configs (seconds; tests/test_paper_setup.py runs it)::

    python benchmarks/bench_paper_gpu.py --tiny --device cpu --out /tmp/paper_tiny.json

Models at their real sizes with random weights (``configs/model/paper_random5b.yaml``,
``paper_wan_random.yaml``; speed and memory only, the frames mean nothing), one window of 49 frames at
480x720 (the reference's segment cap and resolution). Measured, each on its own:

* decode: seconds, frames/s and peak GPU memory of ``generate`` — the reference settings (20 DPM
  steps, dynamic CFG 6: two transformer passes per step) and the few-step options, each alone and
  combined: fewer steps, no guidance, cached keyframe latents, ``torch.compile`` of the blocks; the
  time split into conditioning latents (VAE encodes), denoising and VAE decode;
* training: steps/s and peak memory of one tracking-branch step (bf16 autocast, gradient
  checkpointing, AdamW on the branch, the VAE encodes of the window included).

The JSON (with the GPU's name) is rewritten after every measurement, so a run stopped early keeps
what it measured; ``--budget-s`` starts no new measurement after that many seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from actdiff.io.files import prepare_outputs, refuse_outputs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (name, options over the model's sampling defaults — the reference's: paper 20 DPM steps, dynamic CFG 6;
#: Wan 50 UniPC steps, CFG 6). "no_cfg": guidance 1, one transformer pass per step instead of two.
PAPER_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("reference", {}),
    ("10_steps", {"steps": 10}),
    ("no_cfg", {"guidance_scale": 1.0}),
    ("10_steps_no_cfg", {"steps": 10, "guidance_scale": 1.0}),
    ("4_steps_no_cfg", {"steps": 4, "guidance_scale": 1.0}),
    ("10_steps_no_cfg_cached_keyframes", {"steps": 10, "guidance_scale": 1.0, "cache_latents": True}),
]
COMPILE_VARIANT = ("10_steps_no_cfg_compiled", {"steps": 10, "guidance_scale": 1.0, "compile": True})
WAN_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("reference", {}),
    ("20_steps", {"steps": 20}),
    ("20_steps_no_cfg", {"steps": 20, "guidance_scale": 1.0}),
    ("10_steps_no_cfg", {"steps": 10, "guidance_scale": 1.0}),
]


def stub_missing_pyav() -> bool:
    """The GPU image may lack PyAV (video files), which ``actdiff.training`` imports through
    ``actdiff.io``; this benchmark reads no video, so stand-in modules satisfy those imports. Called
    after diffusers is imported (it probes which packages exist when imported)."""
    import importlib.util

    if "av" in sys.modules or importlib.util.find_spec("av") is not None:
        return False
    else:
        import enum
        import types

        av = types.ModuleType("av")
        video, ref = types.ModuleType("av.video"), types.ModuleType("av.video.reformatter")
        ref.ColorRange = enum.IntEnum("ColorRange", "UNSPECIFIED MPEG JPEG", start=0)
        ref.Colorspace = enum.IntEnum("Colorspace", "ITU709 FCC ITU601 ITU624 SMPTE170M SMPTE240M DEFAULT")
        av.video, video.reformatter = video, ref
        sys.modules.update({"av": av, "av.video": video, "av.video.reformatter": ref})
        return True


def model_config(name: str) -> Any:
    """``configs/model/<name>.yaml`` with its ``defaults`` merged (no Hydra needed)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(ROOT / "configs" / "model" / f"{name}.yaml")
    parents = [d for d in cfg.pop("defaults", []) if d != "_self_"]
    return OmegaConf.merge(*[model_config(p) for p in parents], cfg) if parents else cfg


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_gb(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


class PhaseTimer:
    """Seconds spent in the model's conditioning latents and VAE decode (the rest of a window: denoising)."""

    def __init__(self, model: Any, device: str) -> None:
        self.seconds = {"conditioning": 0.0, "vae_decode": 0.0}
        for attr, key in (("condition_latents", "conditioning"), ("decode_latents", "vae_decode")):
            setattr(model, attr, self._wrap(getattr(model, attr), key, device))

    def _wrap(self, fn: Callable, key: str, device: str) -> Callable:
        def timed(*a: Any, **k: Any) -> Any:
            sync(device)
            t0 = time.perf_counter()
            out = fn(*a, **k)
            sync(device)
            self.seconds[key] += time.perf_counter() - t0
            return out
        return timed

    def reset(self) -> None:
        self.seconds = dict.fromkeys(self.seconds, 0.0)


def window(frames: int, h: int, w: int, device: str, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Window conditions ``(T, 30, H, W)``: random values, keyframes at both ends."""
    g = torch.Generator().manual_seed(seed)
    cond = torch.rand(frames, 30, h, w, generator=g) * 2 - 1
    cond[:, 23] = 0
    cond[0, 23] = cond[-1, 23] = 1
    return cond.to(device, dtype)


def measure_decode(model: Any, cond: torch.Tensor, name: str, opts: dict[str, Any], device: str,
                   timer: PhaseTimer) -> dict[str, Any]:
    frames = list(range(cond.shape[0]))
    warm = 0.0
    if opts.get("compile") or opts.get("cache_latents"):      # first call compiles / fills the cache
        sync(device)
        t0 = time.perf_counter()
        model.generate(cond, 0, frames, **opts)
        sync(device)
        warm = time.perf_counter() - t0
    reset_peak(device)
    timer.reset()
    sync(device)
    t0 = time.perf_counter()
    model.generate(cond, 0, frames, **opts)
    sync(device)
    s = time.perf_counter() - t0
    out = {"variant": name, "options": model.sampling_options(opts), "seconds": s, "frames_per_second": len(frames) / s,
           "peak_gpu_gb": peak_gb(device), "conditioning_s": timer.seconds["conditioning"],
           "vae_decode_s": timer.seconds["vae_decode"],
           "denoising_s": s - timer.seconds["conditioning"] - timer.seconds["vae_decode"]}
    if warm:
        out["first_call_seconds"] = warm
    print(f"  {name:>32}: {out['frames_per_second']:.3f} frames/s ({s:.1f} s; denoise {out['denoising_s']:.1f} s, "
          f"VAE decode {out['vae_decode_s']:.1f} s, conditioning {out['conditioning_s']:.1f} s; "
          f"peak {out['peak_gpu_gb'] or 0:.1f} GB)", flush=True)
    return out


def measure_training(model: Any, frames: int, h: int, w: int, device: str, steps: int) -> dict[str, Any]:
    result_stub = stub_missing_pyav()
    from actdiff.training.branch_module import TrackingBranchModule

    module = TrackingBranchModule({}, {"lr": 1e-5}, model=model)
    model.set_gradient_checkpointing(True)
    opt = module.configure_optimizers()["optimizer"]
    cond = window(frames, h, w, device, torch.float32, seed=1)
    target = torch.rand(1, frames, 3, h, w, device=device) * 2 - 1
    batch = {"target": target, "cond": cond[None]}
    use_amp = device.startswith("cuda") and model.transformer.dtype == torch.bfloat16
    times = []
    reset_peak(device)
    for i in range(steps + 1):                                 # the first step warms up
        sync(device)
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = module.diffusion_loss(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if i:
            times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    trainable = sum(p.numel() for p in model.branch.parameters())
    out = {"steps_per_second": 1.0 / mean, "seconds_per_step": mean, "peak_gpu_gb": peak_gb(device),
           "loss": float(loss.detach()), "trainable_parameters": trainable, "window_frames": frames,
           "gradient_checkpointing": True, "autocast_bf16": use_amp, "pyav_stubbed": result_stub}
    print(f"  training: {out['steps_per_second']:.3f} steps/s ({mean:.2f} s/step, "
          f"peak {out['peak_gpu_gb'] or 0:.1f} GB, "
          f"{trainable / 1e9:.2f} B trainable)", flush=True)
    model.set_gradient_checkpointing(False)
    if model.transformer.dtype != torch.float32:
        model.branch.to(model.transformer.dtype)
    del opt, module
    return out


def build(name: str, device: str) -> Any:
    from actdiff.models.presets import build_model

    cfg = model_config(name)
    cfg.device = device
    sync(device)
    t0 = time.perf_counter()
    model = build_model(cfg).to(device).eval()
    sync(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"{model.describe()}: {params / 1e9:.2f} B parameters, built in {time.perf_counter() - t0:.0f} s", flush=True)
    return model, {"model": model.describe(), "config": name, "parameters": params,
                   "transformer_parameters": sum(p.numel() for p in model.transformer.parameters()),
                   "dtype": str(model.transformer.dtype)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny random configs (CPU smoke run)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--frames", type=int, default=None, help="window frames (default 49; tiny 9)")
    p.add_argument("--size", type=int, nargs=2, default=None, help="H W (default 480 720; tiny 32 48)")
    p.add_argument("--models", nargs="+", default=["paper", "paper-wan"], choices=["paper", "paper-wan"])
    p.add_argument("--train-steps", type=int, default=3, help="timed training steps (0: none)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    p.add_argument("--budget-s", type=float, default=540.0, help="start no measurement after this many seconds")
    p.add_argument("-o", "--out", default=None, help="JSON (default: benchmarks/results/paper_gpu_<gpu>.json)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    refuse_outputs(p, [args.out], args.overwrite)
    if not args.tiny and not args.device.startswith("cuda"):
        sys.stderr.write("error: the real-size models need a GPU (--device cuda); --tiny runs the tiny configs\n")
        return 2
    start = time.perf_counter()
    frames = args.frames or (9 if args.tiny else 49)
    h, w = args.size or ((32, 48) if args.tiny else (480, 720))
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None
    slug = (gpu or "cpu").lower().replace(" ", "_").replace("-", "_")
    default = ROOT / "benchmarks" / "results" / f"paper_gpu_{slug}{'_tiny' if args.tiny else ''}.json"
    out_path = Path(args.out or default)
    prepare_outputs([out_path], overwrite=args.overwrite, files=True)
    import diffusers

    result: dict[str, Any] = {
        "benchmark": "bench_paper_gpu", "gpu": gpu, "device": args.device, "tiny": args.tiny,
        "window": {"frames": frames, "height": h, "width": w}, "random_weights": True,
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                     "python": platform.python_version(), "cuda": torch.version.cuda},
        "models": {}, "skipped": []}

    def save() -> None:
        result["elapsed_s"] = time.perf_counter() - start
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2) + "\n")

    def in_budget(what: str) -> bool:
        if time.perf_counter() - start > args.budget_s:
            result["skipped"].append(what)
            print(f"  (budget: {what} skipped)", flush=True)
            return False
        return True

    configs = {"paper": ("paper_tiny" if args.tiny else "paper_random5b", PAPER_VARIANTS),
               "paper-wan": ("paper_wan_tiny" if args.tiny else "paper_wan_random", WAN_VARIANTS)}
    kept: dict[str, Any] = {}
    for key in args.models:
        name, variants = configs[key]
        model, info = build(name, args.device)
        entry = result["models"][key] = {**info, "decode": []}
        cond = window(frames, h, w, args.device, model.transformer.dtype)
        timer = PhaseTimer(model, args.device)
        with torch.no_grad():
            model.generate(cond, 0, list(range(frames)), steps=1)                # warm-up (kernels, allocator)
        for vname, opts in variants:
            if in_budget(f"{key}/{vname}"):
                entry["decode"].append(measure_decode(model, cond, vname, opts, args.device, timer))
                save()
        if key == "paper" and args.train_steps > 0 and in_budget("paper/training"):
            entry["training"] = measure_training(model, frames, h, w, args.device, args.train_steps)
            save()
        kept[key] = (model, cond, timer)
        if key != "paper":
            del model
            kept.pop(key)
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    if "paper" in kept and not args.no_compile and in_budget("paper/compile"):
        model, cond, timer = kept["paper"]
        result["models"]["paper"]["decode"].append(measure_decode(model, cond, *COMPILE_VARIANT, args.device, timer))
    save()
    print(f"results: {out_path} ({result['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
