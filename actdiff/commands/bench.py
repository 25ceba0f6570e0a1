"""``actdiff bench CODEC``: classical baselines through PyAV, same protocol, metrics and JSON.

Example::

    actdiff bench x265 --data uvg --protocol cpu --crf 35 40 45 51 -o results/x265.json

Each sequence is read under the protocol, encoded at every CRF (low-delay settings, see
``actdiff.baselines.pyav_codec``), decoded, and scored by the loop that scores ActDiff
(:mod:`actdiff.evaluation.runner`). Finished sequences are kept in ``OUT.partial`` while it runs;
the results JSON (docs/results_schema.md) appears when every sequence is done.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from actdiff.baselines import BASELINES
from actdiff.commands.common import ArgumentParser, cli_entry
from actdiff.data import load_dataset, load_protocol
from actdiff.errors import ConfigError
from actdiff.evaluation.results import check_output, new_results, parse_shard
from actdiff.evaluation.runner import baseline_points, run_dataset
from actdiff.metrics import DEFAULT_METRICS, check_metrics


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
    shard = parse_shard(args.shard)
    crfs = list(args.crf or BASELINES[args.codec].default_crfs)
    lo, hi = BASELINES[args.codec].crf_range
    if any(not lo <= c <= hi for c in crfs):
        raise ConfigError(f"{args.codec}: CRF values must lie in {lo}..{hi}")
    protocol = load_protocol(args.protocol)
    dataset = load_dataset(args.data, sequences=args.sequences)
    config = {"codec": args.codec, "crf": crfs, "settings": BASELINES[args.codec].notes,
              "metrics": args.metrics, "shard": args.shard}
    results = new_results(args.codec, dataset.name, protocol.to_dict(), config)
    log = None if args.quiet else (lambda s: sys.stderr.write(s + "\n"))

    def points_of(video, seq_log):
        return baseline_points(video, args.codec, crfs, args.metrics, seq_log)

    run_dataset(dataset, protocol, points_of, args.metrics, results, out, shard, args.shard, log)
    return 0
