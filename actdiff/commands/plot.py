"""``actdiff plot A.json B.json … --metric niqe -o curves.png``: rate–quality curves.

One subplot per sequence plus the dataset mean; x = bits per pixel on a log axis. ActDiff
results (codec name starting with ``actdiff``) are drawn solid, baselines dashed. Where a
results file records the source clip's own score (``source``, no-reference metrics such as
NIQE), a dotted grey line marks it: a curve beyond it scores better than the original. Several shard
files of one run are merged when given comma-separated (``a0.json,a1.json``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from actdiff.commands.common import ArgumentParser, cli_entry
from actdiff.errors import InputError, OutputError, check_distinct

#: Figure formats (``actdiff.evaluation.plotting.FORMATS``).
FORMATS = (".png", ".pdf", ".svg")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff plot", description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+",
                   help="results JSONs (comma-separate shard files of one run); CompressAI and DCVC files too")
    p.add_argument("--metric", default="niqe", help="metric on the y axis")
    p.add_argument("-o", "--output", required=True, help="figure file: .png, .pdf or .svg")
    p.add_argument("--title", default="")
    p.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from actdiff.evaluation.merge import load_many
    from actdiff.evaluation.plotting import draw, save_figure
    from actdiff.evaluation.results import check_output, metric_names

    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise OutputError(f"{out}: figure format must be one of {', '.join(FORMATS)}")
    check_output(out, args.overwrite)
    check_distinct("results files", [Path(f).resolve() for r in args.results for f in r.split(",")])
    results = [load_many(r.split(",")) for r in args.results]
    if not any(args.metric in metric_names(r) for r in results):
        raise InputError(f"no results file has metric {args.metric!r}")
    save_figure(draw(results, args.metric, args.title), out, args.overwrite)
    sys.stderr.write(f"wrote {out}\n")
    return 0
