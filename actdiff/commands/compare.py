"""``actdiff compare A.json B.json -o sheet.png``: a contact sheet of two results, frame by frame.

Both results must have been written with ``--frames-dir`` (``evaluate``, ``bench``): the sheet
shows the source, then every rate point of A and of B (rows sorted by bpp, each labelled with
its codec, rate parameter, bpp and metrics) at the frames both recorded (the middles of the
clip's longest segments; :mod:`actdiff.evaluation.contact`). One sequence per sheet: the first
one both files hold, or ``--sequence``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from actdiff.commands.common import ArgumentParser, cli_entry
from actdiff.errors import OutputError


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff compare", description=__doc__)
    p.add_argument("a", help="results JSON written with --frames-dir (e.g. ActDiff's)")
    p.add_argument("b", help="results JSON written with --frames-dir (e.g. a baseline's)")
    p.add_argument("-o", "--output", required=True, help="contact sheet: .png, .pdf or .svg")
    p.add_argument("--sequence", default=None, help="the sequence to show (default: the first both files hold)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing sheet")
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise OutputError(f"{out}: sheet format must be one of .png, .pdf, .svg")
    from actdiff.evaluation.contact import compare_sheet, save_sheet
    from actdiff.evaluation.results import check_output, load_results

    check_output(out, args.overwrite)
    res_a, res_b = load_results(args.a), load_results(args.b)
    fig, sequence = compare_sheet(res_a, res_b, args.sequence, Path(args.a).absolute().parent,
                                  Path(args.b).absolute().parent)
    save_sheet(fig, out, args.overwrite)
    sys.stderr.write(f"wrote {out} ({sequence})\n")
    return 0
