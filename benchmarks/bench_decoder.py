"""Diffusion-decoder speed at 384x256: one denoising step, and frames/s on a real bitstream.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_decoder.py [--weights DIR] [--device cuda] \
        [--sampler S --steps N] [--set residual_from=keyframes residual_scale=0.25] \
        [--out benchmarks/results/decoder_cpu.json]

Encodes the first 24 frames of the bundled sample clip with the default codec, decodes them
with the warp and the diffusion decoder (default shipped weights; a video generator's folder gives
the video decoder; ``--set KEY=VALUE`` gives it more options), and prints seconds per denoising step
(batch 1, 64x96 latent), decode frames/s
of both decoders, and the machine (with its load average: the CPUs may be shared);
``--out`` also writes them as JSON with the decoder's effective settings.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from actdiff.codec import decode_video, encode_video
from actdiff.conditioning import NUM_CHANNELS
from actdiff.config import compose
from actdiff.data import load_sample_clip
from actdiff.decoders import build_decoder
from actdiff.errors import ConfigError
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs


def step_seconds(model, device: str, repeats: int = 5) -> float:
    f = model.config.latent_factor
    z = torch.randn(1, model.unet.config.in_channels, 256 // f, 384 // f, device=device)
    c = torch.randn(1, int(model.config.get("conditioning_channels", NUM_CHANNELS)), 256, 384, device=device)
    t = torch.tensor([500], device=device)
    if hasattr(model, "set_num_frames"):  # a video generator: one frame per window here
        model.set_num_frames(1)
    with torch.no_grad():
        model(z, t, c)
        times = []
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(z, t, c)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def decoder_option(item: str) -> tuple[str, object]:
    """``KEY=VALUE`` → ``(key, value)``, the value a number or ``true``/``false`` where it reads as one."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set takes KEY=VALUE, got {item!r}")
    try:
        return key, json.loads(text)
    except json.JSONDecodeError:
        return key, text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--sampler", default=None, help="default: the weights' default_sampler")
    p.add_argument("--steps", type=int, default=None, help="default: the weights' default_sampler")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="more options of the diffusion decoder (e.g. residual_from=keyframes residual_scale=0.25)")
    p.add_argument("-o", "--out", default=None, help="write the numbers as JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args()
    refuse_outputs(p, [args.out], args.overwrite)
    options = dict(decoder_option(item) for item in args.set)
    video = load_sample_clip(args.frames)
    enc = encode_video(video, compose(None, []))
    diffusion = build_decoder("diffusion", weights=args.weights, device=args.device,
                              sampler=args.sampler, steps=args.steps, **options)
    step = step_seconds(diffusion.model, args.device)
    print(f"denoising step (batch 1, 384x256): {step:.3f} s")
    result = {"device": args.device, "frames": video.num_frames, "size": [256, 384],
              "step_seconds": step, "decoders": {}}
    for name, dec in (("warp", build_decoder("warp")), ("diffusion", diffusion)):
        t0 = time.perf_counter()
        decode_video(enc.data, dec)
        seconds = time.perf_counter() - t0
        result["decoders"][name] = {"seconds": seconds, "frames_per_second": video.num_frames / seconds}
        print(f"{name:>9} decoder: {video.num_frames / seconds:.2f} frames/s "
              f"({video.num_frames} frames 384x256, {seconds:.1f} s)")
    result["diffusion_settings"] = diffusion.settings()
    print(f"diffusion settings: {result['diffusion_settings']}")
    result["machine"] = {**machine(), "load_average_1min": os.getloadavg()[0]}
    print(f"machine: {result['machine']}")
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
