"""``actdiff bench CODEC``: classical baselines through PyAV, same protocol, metrics and JSON.

Example::

    actdiff bench x265 --data uvg --protocol cpu --crf 35 40 45 51 -o results/x265.json

Each sequence is read under the protocol, encoded at every CRF (low-delay settings, see
``actdiff.baselines.pyav_codec``), decoded, and scored with ``actdiff.metrics.compute_metrics``
(the very code used for ActDiff). The results JSON (docs/results_schema.md) is rewritten after
every sequence, so an interrupted run keeps its finished sequences.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from actdiff.baselines import BASELINES, encode_decode
from actdiff.commands.common import ArgumentParser, cli_entry
from actdiff.data import load_dataset, load_protocol
from actdiff.errors import ConfigError
from actdiff.metrics import DEFAULT_METRICS, check_metrics, compute_metrics
from actdiff.metrics.source import record_source
from actdiff.results import check_output, finish_results, new_results, parse_shard, save_progress

DEFAULT_CRF = {"x264": [35, 40, 45, 51], "x265": [35, 40, 45, 51], "svt-av1": [45, 52, 58, 63]}


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff bench", description=__doc__.splitlines()[0])
    p.add_argument("codec", choices=sorted(BASELINES), help="baseline codec")
    p.add_argument("--data", required=True, help="dataset name/YAML (configs/data) or a folder of videos")
    p.add_argument("--protocol", default="cpu", help="evaluation protocol: cpu | paper | native | YAML")
    p.add_argument("--crf", type=int, nargs="+", default=None,
                   help="CRF values, one rate point each (default: x264/x265 35 40 45 51, svt-av1 45 52 58 63)")
    p.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), help="metric names (actdiff.metrics)")
    p.add_argument("--sequences", nargs="+", default=None, help="only these sequences")
    p.add_argument("--shard", default=None, help="i/n: process every n-th sequence starting at i")
    p.add_argument("-o", "--output", required=True, help="results JSON to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    out = check_output(args.output, args.overwrite)
    check_metrics(args.metrics)  # unknown names or missing weights fail before any encoding
    shard_i, shard_n = parse_shard(args.shard)
    crfs = args.crf or DEFAULT_CRF[args.codec]
    lo, hi = BASELINES[args.codec].crf_range
    if any(not lo <= c <= hi for c in crfs):
        raise ConfigError(f"{args.codec}: CRF values must lie in {lo}..{hi}")
    protocol = load_protocol(args.protocol)
    dataset = load_dataset(args.data, sequences=args.sequences)
    config = {"codec": args.codec, "crf": crfs, "settings": BASELINES[args.codec].notes,
              "metrics": args.metrics, "shard": args.shard}
    results = new_results(args.codec, dataset.name, protocol.to_dict(), config)
    for k, seq in enumerate(dataset):
        if k % shard_n != shard_i:
            continue
        video = seq.read(protocol)
        t, h, w = video.num_frames, video.height, video.width
        points = []
        for crf in sorted(crfs):
            r = encode_decode(video.frames, args.codec, crf, video.fps)
            m = compute_metrics(video.frames, r.frames, args.metrics)
            points.append({"crf": crf, "bpp": r.bits / (t * h * w), "bits_total": r.bits,
                           "bits": {"payload": r.bits}, "frames": t, "height": h, "width": w, "metrics": m,
                           "encode_seconds": r.encode_seconds, "decode_seconds": r.decode_seconds})
            if not args.quiet:
                shown = " ".join(f"{k}={v:.4g}" for k, v in m.items())
                sys.stderr.write(f"{args.codec} {seq.name} crf={crf} bpp={points[-1]['bpp']:.5f} {shown}\n")
        record_source(results, seq.name, video.frames, args.metrics)
        results["sequences"][seq.name] = points
        save_progress(results, out)
    finish_results(results, out, args.shard, dataset, args.quiet)
    return 0
