"""``actdiff demo``: the whole codec on the bundled sample clip, with a rate/quality table.

For three rate points of ``configs/rates/default.yaml`` (or ``--rates``): encode the clip into a
real ``.adv`` file, decode it with the warp decoder and — when trained weights are available —
the diffusion decoder, and measure bpp, PSNR, coarse-scale PSNR (8x area-downsampled frames),
MS-SSIM, VMAF NEG, NIQE, temporal warping error and tOF. An x265 row at a matched low rate (preset
medium, no B-frames) is printed for reference. Outputs (the ``.adv`` files, decoded ``.mp4``
previews, ``results.json``, the resolved config and ``contact.png``, a contact sheet of the source,
every decoded stream and the x265 row, labelled with bpp and metrics) go to a new folder under ``--out``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

from actdiff.commands.common import ArgumentParser, add_output_args, cli_entry, setup_output

METRICS = ("psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "niqe", "warping_error", "tof")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff demo", description=__doc__)
    p.add_argument("--out", default="outputs/demo", help="parent folder of the demo's run folder")
    p.add_argument("--rates", nargs="+", default=["r0", "r2", "r4"],
                   help="rate point names of configs/rates/default.yaml (default: r0 r2 r4)")
    p.add_argument("--frames", type=int, default=None, help="use only the first N frames of the clip")
    p.add_argument("--no-diffusion", action="store_true", help="skip the diffusion decoder")
    p.add_argument("--no-baseline", action="store_true", help="skip the x265 reference row")
    p.add_argument("--no-sheet", action="store_true", help="skip the contact sheet (contact.png)")
    add_output_args(p)
    return p


def diffusion_decoder(enabled: bool):
    """The default diffusion decoder, or ``None`` with the reason printed (never silent)."""
    if not enabled:
        return None
    from actdiff.decoders import build_decoder
    from actdiff.errors import MissingWeightsError

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


def x265_point(video, target_bpp: float, saver=None) -> Dict:
    """x265 (medium, no B-frames) at the CRF whose rate is closest to ``target_bpp`` (a results point)."""
    from actdiff.evaluation.runner import baseline_near_rate

    return baseline_near_rate(video, "x265", target_bpp, METRICS, saver=saver)


def write_sheet(run_dir: Path, saver, doc: Dict, points: Dict[str, List[Dict]], x265) -> Path:
    """``run_dir/contact.png``: the source, every decoded stream and the x265 point."""
    from actdiff.evaluation.contact import draw_sheet, numbers, point_label, save_sheet, source_row

    rows = [source_row(doc, "sample", run_dir)]
    rows += [(point_label(f"actdiff-{d}", p), numbers(p), p["thumbnails"], run_dir)
             for d, pts in points.items() for p in pts]
    if x265 is not None:
        rows.append((point_label("x265", x265), numbers(x265), x265["thumbnails"], run_dir))
    title = "sample clip: source, ActDiff" + (", x265" if x265 is not None else "")
    fig = draw_sheet(rows, saver.frames["sample"], title)
    return save_sheet(fig, run_dir / "contact.png")


@cli_entry
def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    setup_output(args)
    from actdiff.config import save_config
    from actdiff.data import load_sample_clip
    from actdiff.decoders import build_decoder
    from actdiff.evaluation.contact import FrameSaver
    from actdiff.evaluation.rates import load_rates, point_configs
    from actdiff.evaluation.runner import actdiff_points
    from actdiff.io import atomic_write_bytes, prepare_outputs, write_video
    from actdiff.metrics import check_metrics
    from actdiff.metrics.source import source_metrics

    check_metrics(METRICS)  # e.g. no ffmpeg with libvmaf: one line, before anything runs
    rates = load_rates(None, args.rates)  # unknown or repeated points: before the run folder is made
    video = load_sample_clip(args.frames)
    run_dir = Path(args.out) / time.strftime("run-%Y%m%d-%H%M%S")
    prepare_outputs([run_dir])  # --out a file, or below one, or not writable: one line
    run_dir.mkdir(parents=True, exist_ok=False)
    print(f"sample clip: {video.num_frames} frames {video.width}x{video.height} @ {video.fps:g} fps "
          f"(Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0); outputs in {run_dir}")
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

    saver, doc = None, {"codec": "actdiff", "sequences": {}}
    if not args.no_sheet:
        saver = FrameSaver(run_dir / "frames", relative_to=run_dir)
        saver.start(doc, "sample", video)
    points = actdiff_points(video, cfgs, decoders, METRICS, on_decoded=on_decoded, saver=saver)
    rows: List[Dict] = [row(p["quality_param"], dname, p["bpp"], p["metrics"], p["decode_seconds"])
                        for k in range(len(cfgs)) for dname, pts in points.items() for p in [pts[k]]]
    x265 = None
    if not args.no_baseline:
        x265 = x265_point(video, min(r["bpp"] for r in rows), saver)
        rows.append(row(f"crf{x265['crf']}", "x265", x265["bpp"], x265["metrics"], x265["decode_seconds"]))
    print()
    print_table(rows)
    source = source_metrics(video.frames, METRICS)["niqe"]
    print(f"NIQE of the source clip itself: {source:.2f} (lower is better; a decoder scoring below it adds "
          "texture, not fidelity: compare PSNR/MS-SSIM/VMAF-NEG too)")
    (run_dir / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    if saver is not None:
        shown = "source, every decoded stream" + (", x265" if x265 is not None else "")
        print(f"contact sheet ({shown}): {write_sheet(run_dir, saver, doc, points, x265)}")
    sys.stdout.flush()
    return 0
