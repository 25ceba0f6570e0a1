"""``actdiff bdrate A.json B.json --metric M``: BD-rate of A against the anchor B, and matched-quality savings.

Negative BD-rate = A needs fewer bits than B for the same quality (JVET/CompressAI/DCVC); the
numbers and their conventions: :mod:`actdiff.evaluation.bdrate`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from actdiff.commands.common import ArgumentParser, cli_entry
from actdiff.errors import InputError, check_distinct


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff bdrate", description=__doc__.splitlines()[0])
    p.add_argument("a", help="results JSON of A, the tested codec (usually ActDiff); comma-separate shard files "
                             "to merge; CompressAI and DCVC result files are read too")
    p.add_argument("b", help="results JSON of B, the anchor (a baseline); same forms as A")
    p.add_argument("--metric", nargs="+", default=["niqe"], help="metric(s) to compare on")
    p.add_argument("--frontier", action="store_true",
                   help="compare Pareto fronts: drop points that a cheaper point of the same codec matches or beats")
    p.add_argument("--json", default=None, help="also write the report as JSON")
    p.add_argument("--markdown", default=None, help="also write the table as Markdown")
    p.add_argument("--overwrite", action="store_true", help="replace existing report files")
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from actdiff.evaluation.bdrate import compare, to_markdown
    from actdiff.evaluation.merge import load_many
    from actdiff.evaluation.results import atomic_write_text, metric_names
    from actdiff.io.files import prepare_outputs

    check_distinct("metrics", args.metric)  # one report per metric: a repeat was printed twice
    inputs = args.a.split(",") + args.b.split(",")
    prepare_outputs([args.json, args.markdown], inputs, overwrite=args.overwrite, files=True)
    res_a, res_b = load_many(args.a.split(",")), load_many(args.b.split(","))
    reports = []
    for metric in args.metric:
        for label, res in (("A", res_a), ("B", res_b)):
            if metric not in metric_names(res):
                raise InputError(f"{label} ({res['codec']}) has no metric {metric!r}")
        reports.append(compare(res_a, res_b, metric, frontier=args.frontier))
    text = "\n".join(to_markdown(r) for r in reports)
    sys.stdout.write(text)
    if args.json:
        atomic_write_text(args.json, json.dumps(reports if len(reports) > 1 else reports[0], indent=2) + "\n",
                          overwrite=args.overwrite)
    if args.markdown:
        atomic_write_text(args.markdown, text, overwrite=args.overwrite)
    return 0
