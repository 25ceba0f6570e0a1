"""``actdiff evaluate``: encode → real bytes → decode → metrics over a dataset and rate points.

Example::

    actdiff evaluate --data uvg --protocol cpu --codec actdiff --decoder warp \\
        --rates r1 r2 r3 r4 -o results/actdiff_warp.json

Every sequence is read under the protocol, and for each rate point (a named list of codec
overrides from ``configs/rates/default.yaml`` or ``--rates-file``) encoded with
``actdiff.codec.encode_video``; the rate is the length of the produced bytes, and the frames
scored by ``actdiff.metrics.compute_metrics`` are those ``decode_video`` rebuilds from those
bytes alone (the loop:
:mod:`actdiff.evaluation.runner`). ``--shard i/n`` processes sequences ``i, i+n, …``; shard outputs are combined by
``--merge OUT.json shard0.json shard1.json …`` (``bdrate``/``plot`` also accept
comma-separated shard files). The resolved base config is saved beside the output as
``<output>.config.yaml`` when the run ends, with the results (a stopped run leaves the two as they
were). Progress bars (sequences, rate points, decoded frames) go to stderr on a terminal
(``--progress``: always; ``-q``: never, nor the per-point lines); ``--frames-dir DIR`` also saves
thumbnails and one contact sheet per sequence (source, every point, x265 at the nearest rate;
:mod:`actdiff.evaluation.contact`).
"""

from __future__ import annotations

from collections.abc import Sequence

from actdiff.commands.common import (
    ArgumentParser,
    add_config_args,
    add_dataset_args,
    add_decoder_args,
    add_output_args,
    add_results_args,
    cli_entry,
    data_root,
    decoder_section,
    frames_override,
    maybe_print_config,
    merged_shards,
    progress_line,
    setup_output,
    split_overrides,
)
from actdiff.config import DEFAULT_EXPERIMENT as DEFAULT_CONFIG
from actdiff.errors import ConfigError

CODECS = ("actdiff",)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff evaluate", description=__doc__.splitlines()[0])
    add_dataset_args(p)
    p.add_argument("--codec", default="actdiff", choices=CODECS)
    p.add_argument("--rates", nargs="+", default=None,
                   help="rate point names and/or target bpps like 0.01 (rate control) (default: all in the rates file)")
    p.add_argument("--rates-file", default=None, help="YAML of rate points (default: configs/rates/default.yaml)")
    add_results_args(p)
    add_output_args(p)
    add_config_args(p, DEFAULT_CONFIG)
    add_decoder_args(p)
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    setup_output(args)
    from omegaconf import OmegaConf

    from actdiff.config import to_yaml
    from actdiff.data import load_dataset, load_protocol
    from actdiff.decoders import build_decoder
    from actdiff.evaluation.rates import compose_config, load_rates, point_configs
    from actdiff.evaluation.results import check_output, new_results, parse_shard
    from actdiff.evaluation.runner import actdiff_points, padded_read, run_dataset
    from actdiff.metrics import check_metrics

    out = check_output(args.output, args.overwrite)
    if merged_shards(args, out):
        return 0
    if not args.data:
        raise ConfigError("--data is required (dataset name, YAML, folder or video)")
    check_metrics(args.metrics)  # unknown names or missing weights fail before any encoding
    overrides, root = data_root(split_overrides(args, extra) + frames_override(args))
    base = compose_config(args.config, args.protocol, overrides)
    if maybe_print_config(args, base):
        return 0
    protocol = load_protocol(base.get("protocol"))
    rates = load_rates(args.rates_file, args.rates)
    cfgs = point_configs(rates, args.config, args.protocol, overrides)
    shard = parse_shard(args.shard)
    dataset = load_dataset(args.data, root=root, sequences=args.sequences)
    from actdiff.io.files import check_not_input

    check_not_input([out, f"{out}.config.yaml", f"{out}.partial"], [seq.path for seq in dataset])
    section = decoder_section(args, base)
    decoder = build_decoder(section)  # once: diffusion weights load a single time
    name = str(section["name"])
    options = {k: v for k, v in section.items() if k != "name" and v is not None}
    config = {"base": OmegaConf.to_container(base, resolve=True), "rates": rates, "decoder": name,
              "metrics": list(args.metrics), "shard": args.shard, "overrides": overrides,
              "bidirectional": bool(section.get("bidirectional", True)), "decoder_options": options}
    label = f"{args.codec}-{name}" + ("" if section.get("bidirectional", True) else "-nobidir")
    results = new_results(label, dataset.name, protocol.to_dict(), config)
    if hasattr(decoder, "settings"):
        results["config"]["decoder_settings"] = decoder.settings()
    log = None if args.quiet else progress_line
    saver = None
    if args.frames_dir:
        from actdiff.evaluation.contact import FrameSaver

        saver = FrameSaver(args.frames_dir, relative_to=out.absolute().parent, baseline="x265",
                           overwrite=args.overwrite)

    def points_of(video, seq_log):
        return actdiff_points(video, cfgs, {name: decoder}, args.metrics, log=seq_log, saver=saver)[name]

    run_dataset(dataset, protocol, points_of, args.metrics, results, out, shard, args.shard, log, saver,
                config_yaml=to_yaml(base), read_kwargs=padded_read(cfgs))
    return 0
