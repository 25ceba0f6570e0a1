"""``actdiff bench CODEC``: classical baselines through PyAV, same protocol, metrics and JSON.

Example::

    actdiff bench x265 --data uvg --protocol cpu --crf 35 40 45 51 -o results/x265.json

Each sequence is read under the protocol, encoded at every CRF (low-delay settings, see
``actdiff.baselines.pyav_codec``), decoded, and scored by the loop that scores ActDiff
(:mod:`actdiff.evaluation.runner`). The protocol takes the same forms as in ``evaluate``:
``--protocol``, ``--frames N``, ``--config`` and ``protocol.KEY=VALUE`` overrides
(``configs/experiment/bench.yaml``); the resolved config is saved as ``<output>.config.yaml`` with the results.
Finished sequences are kept in ``OUT.partial`` while it runs; the results JSON
(docs/results_schema.md) appears when every sequence is done. ``--frames-dir DIR`` saves
thumbnails and a contact sheet per sequence (:mod:`actdiff.evaluation.contact`). ``--shard i/n``
runs sequences ``i, i+n, …``; ``--merge OUT.json shard0.json …`` combines the shards' results.
"""

from __future__ import annotations

from collections.abc import Sequence

from actdiff.commands.common import (
    ArgumentParser,
    add_config_args,
    add_dataset_args,
    add_output_args,
    add_results_args,
    cli_entry,
    data_root,
    frames_override,
    maybe_print_config,
    merged_shards,
    progress_line,
    setup_output,
    split_overrides,
)
from actdiff.errors import ConfigError

DEFAULT_CONFIG = "experiment/bench"
#: Default CRFs per codec (``actdiff.baselines.BASELINES[codec].default_crfs``), for ``--help``.
CRF_HELP = "x264/x265 35 40 45 51, svt-av1 45 52 58 63"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff bench", description=__doc__)
    p.add_argument("codec", help="baseline codec: x264 | x265 | svt-av1")
    add_dataset_args(p)
    p.add_argument("--crf", type=int, nargs="+", default=None,
                   help=f"CRF values, one rate point each (default: {CRF_HELP})")
    add_results_args(p)
    add_output_args(p)
    add_config_args(p, DEFAULT_CONFIG)
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    setup_output(args)
    from actdiff.baselines import BASELINES, rate_points
    from actdiff.config import to_yaml
    from actdiff.data import load_dataset, load_protocol
    from actdiff.evaluation.rates import compose_config
    from actdiff.evaluation.results import check_output, new_results, parse_shard
    from actdiff.evaluation.runner import baseline_points, run_dataset
    from actdiff.metrics import check_metrics

    if args.codec not in BASELINES:
        raise ConfigError(f"unknown baseline {args.codec!r} (known: {', '.join(sorted(BASELINES))})")
    out = check_output(args.output, args.overwrite)
    if merged_shards(args, out, args.codec):
        return 0
    overrides, root = data_root(split_overrides(args, extra) + frames_override(args))
    base = compose_config(args.config, args.protocol, overrides, default=DEFAULT_CONFIG)
    if maybe_print_config(args, base):
        return 0
    if not args.data:
        raise ConfigError("--data is required (dataset name, YAML, folder or video)")
    check_metrics(args.metrics)  # unknown names or missing weights fail before any encoding
    shard = parse_shard(args.shard)
    crfs = rate_points(args.codec, args.crf)
    protocol = load_protocol(base.get("protocol"))
    dataset = load_dataset(args.data, root=root, sequences=args.sequences)
    from actdiff.io.files import check_not_input

    check_not_input([out, f"{out}.config.yaml", f"{out}.partial"], [seq.path for seq in dataset])
    config = {"codec": args.codec, "crf": crfs, "settings": BASELINES[args.codec].notes,
              "metrics": args.metrics, "shard": args.shard}
    results = new_results(args.codec, dataset.name, protocol.to_dict(), config)
    log = None if args.quiet else progress_line
    saver = None
    if args.frames_dir:
        from actdiff.evaluation.contact import FrameSaver

        saver = FrameSaver(args.frames_dir, relative_to=out.absolute().parent, overwrite=args.overwrite)

    def points_of(video, seq_log):
        return baseline_points(video, args.codec, crfs, args.metrics, seq_log, saver)

    run_dataset(dataset, protocol, points_of, args.metrics, results, out, shard, args.shard, log, saver,
                config_yaml=to_yaml(base))
    return 0
