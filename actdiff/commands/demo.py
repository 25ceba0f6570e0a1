"""``actdiff demo``: the whole codec on the bundled sample clip, with a rate/quality table.

For three rate points of ``configs/rates/default.yaml`` (or ``--rates``): encode the clip into a
real ``.adv`` file, decode it with the warp decoder and — when trained weights are available —
the diffusion decoder, and measure bpp, PSNR, coarse-scale PSNR (8x area-downsampled frames),
MS-SSIM, VMAF NEG, NIQE, temporal warping error and tOF. An x265 row at a matched low rate (preset
medium, no B-frames) is printed for reference. Outputs (the
``.adv`` files, decoded ``.mp4`` previews, ``results.json``, the resolved config) go to a new
folder under ``--out``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

from actdiff.commands.common import ArgumentParser, cli_entry, setup_logging
from actdiff.config import save_config
from actdiff.data import load_sample_clip
from actdiff.decoders import build_decoder
from actdiff.errors import MissingWeightsError
from actdiff.evaluation.rates import load_rates, point_configs
from actdiff.evaluation.runner import actdiff_points, baseline_near_rate
from actdiff.io import atomic_write_bytes, write_video
from actdiff.metrics import check_metrics
from actdiff.metrics.source import source_metrics

METRICS = ("psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "niqe", "warping_error", "tof")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff demo", description=__doc__)
    p.add_argument("--out", default="outputs/demo", help="parent folder of the demo's run folder")
    p.add_argument("--rates", nargs="*", default=["r0", "r2", "r4"],
                   help="rate point names of configs/rates/default.yaml (default: r0 r2 r4)")
    p.add_argument("--frames", type=int, default=None, help="use only the first N frames of the clip")
    p.add_argument("--no-diffusion", action="store_true", help="skip the diffusion decoder")
    p.add_argument("--no-baseline", action="store_true", help="skip the x265 reference row")
    p.add_argument("-v", "--verbose", action="count", default=0)
    return p


def diffusion_decoder(enabled: bool):
    """The default diffusion decoder, or ``None`` with the reason printed (never silent)."""
    if not enabled:
        return None
    try:
        return build_decoder("diffusion")
    except MissingWeightsError as e:
        print(f"note: diffusion decoder skipped: {e}")
        return None


def row(name: str, decoder: str, bpp: float, metrics: Dict[str, float], seconds: float) -> Dict:
    return {"point": name, "decoder": decoder, "bpp": bpp, **metrics, "decode_seconds": seconds}


def print_table(rows: List[Dict]) -> None:
    head = (
        f"{'point':<6} {'decoder':<10} {'bpp':>8} {'PSNR':>6} {'PSNR-8x':>7} {'MS-SSIM':>8} {'VMAF-NEG':>8} "
        f"{'NIQE':>6} {'warp-err':>8} {'tOF':>6} {'dec s':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['point']:<6} {r['decoder']:<10} {r['bpp']:>8.5f} {r['psnr']:>6.2f} {r['psnr_lowres']:>7.2f} "
              f"{r['ms_ssim']:>8.4f} {r['vmaf_neg']:>8.2f} {r['niqe']:>6.2f} {r['warping_error']:>8.4f} "
              f"{r['tof']:>6.3f} {r['decode_seconds']:>6.1f}")


def x265_row(video, target_bpp: float) -> Dict:
    """x265 (medium, no B-frames) at the CRF whose rate is closest to ``target_bpp``."""
    p = baseline_near_rate(video, "x265", target_bpp, METRICS)
    return row(f"crf{p['crf']}", "x265", p["bpp"], p["metrics"], p["decode_seconds"])


@cli_entry
def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    check_metrics(METRICS)  # e.g. no ffmpeg with libvmaf: one line, before anything runs
    video = load_sample_clip(args.frames)
    run_dir = Path(args.out) / time.strftime("run-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=False)
    print(f"sample clip: {video.num_frames} frames {video.width}x{video.height} @ {video.fps:g} fps "
          f"(Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0); outputs in {run_dir}")
    rates = load_rates(None, args.rates)
    cfgs = point_configs(rates)
    decoders = {"warp": build_decoder("warp")}
    diffusion = diffusion_decoder(not args.no_diffusion)
    if diffusion is not None:
        decoders["diffusion"] = diffusion

    def on_decoded(name, dname, enc, rec) -> None:
        if dname == "warp":
            save_config(cfgs[name], run_dir / f"{name}.config.yaml")
            atomic_write_bytes(run_dir / f"{name}.adv", enc.data)
        write_video(run_dir / f"{name}_{dname}.mp4", rec.frames, rec.fps, codec="x264", crf=12)
        if dname == list(decoders)[-1]:
            print(f"  {name}: {len(enc.data)} bytes, {enc.stats['bpp']:.5f} bpp, keyframes {enc.stats['keyframes']}, "
                  f"trajectories {enc.stats['trajectories']}, encoded in {enc.stats['encode_seconds']:.1f} s")

    points = actdiff_points(video, cfgs, decoders, METRICS, on_decoded=on_decoded)
    rows: List[Dict] = [row(p["quality_param"], dname, p["bpp"], p["metrics"], p["decode_seconds"])
                        for k in range(len(cfgs)) for dname, pts in points.items() for p in [pts[k]]]
    if not args.no_baseline:
        rows.append(x265_row(video, min(r["bpp"] for r in rows)))
    print()
    print_table(rows)
    source = source_metrics(video.frames, METRICS)["niqe"]
    print(f"NIQE of the source clip itself: {source:.2f} (lower is better; a decoder scoring below it adds "
          "texture, not fidelity: compare PSNR/MS-SSIM/VMAF-NEG too)")
    (run_dir / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    sys.stdout.flush()
    return 0
