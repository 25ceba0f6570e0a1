"""``actdiff sweep configs/ablation/NAME.yaml [-o DIR] [--frames N] [key=value …]``: ablation grids.

Expands the spec's reference, points and grid; runs ``evaluate`` for each point in-process
(``command: fit_evaluate`` specs first train each point with ``actdiff fit``'s machinery and
evaluate it with the weights it exported; ``fit.KEY=V`` overrides change the training config);
a failed point is recorded and the sweep goes on; a re-run skips finished points (same
settings), does not retrain points whose weights are complete, and retries failed ones.
Writes ``DIR/table.md``/``table.csv`` (bpp, Δmetrics and
BD-rate against the reference) and ``DIR/summary.json``. Exit code 1 when a point failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from actdiff.commands.common import ArgumentParser, add_output_args, cli_entry, setup_output, split_overrides
from actdiff.errors import ConfigError


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff sweep", description=__doc__.splitlines()[0])
    p.add_argument("spec", help="sweep spec YAML (configs/ablation/NAME.yaml or ablation/NAME)")
    p.add_argument("-o", "--output", default=None, help="sweep folder (default: sweeps/NAME)")
    p.add_argument("--frames", type=int, default=None,
                   help="at most N evaluated frames per sequence (protocol.max_frames; not the training data)")
    p.add_argument("--data", default=None, help="dataset instead of the spec's (name, YAML or folder)")
    p.add_argument("--rates", nargs="+", default=None, help="rate point names / target bpps instead of the spec's")
    p.add_argument("--point", action="append", default=None, help="run only this point (repeatable)")
    p.add_argument("--force", action="store_true", help="re-run finished points too (fit sweeps: retrain them)")
    p.add_argument("--list", action="store_true", help="print the expanded points and exit")
    p.add_argument("--table-only", action="store_true", help="rebuild the table from finished points")
    p.add_argument("--wandb-yaml", default=None, metavar="PATH", help="also write a W&B sweep YAML and exit")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --wandb-yaml file")
    p.add_argument("overrides", nargs="*", default=[], metavar="key=value",
                   help="overrides for every point (fit.KEY=V: of the training config in fit sweeps)")
    add_output_args(p)
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    setup_output(args)
    from actdiff.evaluation.results import atomic_write_text, check_output
    from actdiff.sweeps import load_spec, run_sweep, wandb_sweep, write_table
    from actdiff.sweeps.run import fit_overrides

    overrides = split_overrides(args, extra)
    if args.frames is not None and args.frames < 1:
        raise ConfigError("--frames must be at least 1")
    spec = load_spec(args.spec)
    if args.data:
        spec.data = args.data
    if args.rates:
        spec.rates = list(args.rates)
    out = Path(args.output or Path("sweeps") / spec.name)
    if args.list:
        for p in spec.points:
            fit = f"; fit {' '.join(fit_overrides(spec, p)) or '(no fit overrides)'}" if spec.trains else ""
            print(f"{p.name}: {' '.join(p.overrides) or '(no overrides)'}; decoder {p.decoder_label}{fit}")
        return 0
    if args.wandb_yaml:
        path = check_output(args.wandb_yaml, args.overwrite)
        atomic_write_text(path, wandb_sweep(spec, args.spec, out, args.frames, overrides), overwrite=args.overwrite)
        print(f"wrote {path}: run `wandb sweep {path}` then `wandb agent SWEEP_ID`")
        return 0
    failed = []
    if not args.table_only:
        from actdiff.progress import write

        statuses = run_sweep(spec, out, overrides, args.frames, args.point, args.force,
                             log=(lambda line: None) if args.quiet else write)
        failed = [s for s in statuses if s.status == "failed"]
    summary = write_table(spec, out)
    sys.stdout.write(summary["markdown"])
    print(f"wrote {out / 'table.md'} and {out / 'table.csv'}")
    if failed:
        sys.stderr.write(f"error: {len(failed)} point(s) failed: {', '.join(s.name for s in failed)} "
                         f"(see {out / 'points'}/*.error.json; re-run to retry them)\n")
        return 1
    return 0
