"""``actdiff evaluate``: encode → real bytes → decode → metrics over a dataset and rate points.

Example::

    actdiff evaluate --data uvg --protocol cpu --codec actdiff --decoder warp \\
        --rates r1 r2 r3 r4 -o results/actdiff_warp.json

Every sequence is read under the protocol, and for each rate point (a named list of codec
overrides from ``configs/rates/default.yaml`` or ``--rates-file``) encoded with
``actdiff.codec.encode_video``; the rate is the length of the produced bytes, and the frames
scored by ``actdiff.metrics.compute_metrics`` are those ``decode_video`` rebuilds from those
bytes alone. ``--shard i/n`` processes sequences ``i, i+n, …``; shard outputs are combined by
``--merge OUT.json shard0.json shard1.json …`` (``bdrate``/``plot`` also accept
comma-separated shard files). The resolved base config is saved beside the output as
``<output>.config.yaml``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from actdiff.commands.common import (
    ArgumentParser,
    add_config_args,
    add_decoder_args,
    cli_entry,
    decoder_kwargs,
    maybe_print_config,
    split_overrides,
)
from actdiff.config import compose, config_root, load_yaml, to_yaml
from actdiff.data import load_dataset, load_protocol
from actdiff.errors import ConfigError, InputError
from actdiff.metrics import DEFAULT_METRICS, check_metrics, compute_metrics
from actdiff.metrics.source import record_source
from actdiff.results import (
    atomic_write_text,
    check_output,
    finish_results,
    load_results,
    merge_results,
    new_results,
    parse_shard,
    save_progress,
    save_results,
)

DEFAULT = "experiment/codec"
CODECS = ("actdiff",)


def rates_file() -> Path:
    return config_root() / "rates" / "default.yaml"


def load_rates(path: Path, names: Sequence[str] | None) -> dict[str, list[str]]:
    """``{name: [override, …]}`` of the chosen rate points (all, in file order, when ``names`` is None).

    A name that is a number (``0.01``) is a target bpp reached by rate control
    (``actdiff.ratecontrol``) instead of a named point of the file.
    """
    doc = load_yaml(path)
    points = OmegaConf.to_container(doc.get("points", {}), resolve=True)
    if not isinstance(points, dict) or not points:
        raise ConfigError(f"{path}: needs a non-empty 'points' mapping of name → list of overrides")
    from actdiff.ratecontrol import target_overrides

    names = list(names) if names else list(points)
    targets = {n: o for n in names if n not in points and (o := target_overrides(n)) is not None}
    bad = [n for n in names if n not in points and n not in targets]
    if bad:
        raise ConfigError(f"unknown rate point(s) {', '.join(bad)} in {path} (known: {', '.join(points)}, "
                          "or a target bpp such as 0.01)")
    for n in names:
        if n not in targets and (not isinstance(points[n], list) or not all(isinstance(o, str) for o in points[n])):
            raise ConfigError(f"{path}: rate point {n} must be a list of key=value strings")
    return {n: targets[n] if n in targets else list(points[n]) for n in names}


def codec_overrides(overrides: Sequence[str]) -> list[str]:
    """Rate-point overrides are relative to ``codec``: ``keyframe_codec.quality=20`` → ``codec.keyframe_codec...``."""
    out = []
    for o in overrides:
        key = o.lstrip("+").split("=", 1)[0]
        out.append(o if key.split(".")[0] in ("codec", "protocol") else o.replace(key, f"codec.{key}", 1))
    return out


def evaluate_sequence(video, cfgs: dict[str, DictConfig], decoder: str, metrics: Sequence[str],
                      log=None) -> list[dict[str, Any]]:
    """All rate points of one clip → list of result points (see docs/results_schema.md)."""
    from actdiff.codec import decode_video, encode_video
    from actdiff.ratecontrol import encode as encode_point  # rate control for target-bpp points

    t, h, w = video.num_frames, video.height, video.width
    points = []
    for name, cfg in cfgs.items():
        t0 = time.perf_counter()
        enc = encode_point(video, cfg, plain=encode_video)
        enc_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rec = decode_video(enc.data, decoder)
        dec_s = time.perf_counter() - t0
        if rec.frames.shape != video.frames.shape:
            raise InputError(f"decoded {rec.frames.shape} frames for a {video.frames.shape} input")
        m = compute_metrics(video.frames, rec.frames, metrics)
        bits = 8 * len(enc.data)
        st = enc.stats
        points.append({
            "quality_param": name, "bpp": bits / (t * h * w), "bits_total": bits,
            "bits": dict(st.get("bits", {})), "frames": t, "height": h, "width": w, "metrics": m,
            "keyframes": len(st.get("keyframes", [])), "trajectories": int(sum(st.get("trajectories", []) or [0])),
            "encode_seconds": enc_s, "decode_seconds": dec_s,
            **({"rate_control": {k: v for k, v in st["rate_control"].items() if k != "history"}}
               if "rate_control" in st else {}),
        })
        if log:
            shown = " ".join(f"{k}={v:.4g}" for k, v in m.items())
            log(f"{name} bpp={points[-1]['bpp']:.5f} {shown}")
    return points


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--data", help="dataset name/YAML (configs/data) or a folder of videos")
    p.add_argument("--protocol", default=None, help="cpu | paper | native | YAML (default: the config's)")
    p.add_argument("--codec", default="actdiff", choices=CODECS)
    p.add_argument("--decoder", default="warp", help="decoder: warp | diffusion")
    p.add_argument("--rates", nargs="+", default=None,
                   help="rate point names and/or target bpps like 0.01 (rate control) (default: all in the rates file)")
    p.add_argument("--no-bidirectional", action="store_true",
                   help="decoder ignores the end keyframe of each segment (ablation)")
    p.add_argument("--rates-file", default=None, help="YAML of rate points (default: configs/rates/default.yaml)")
    p.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), help="metric names")
    p.add_argument("--sequences", nargs="+", default=None, help="only these sequences")
    p.add_argument("--shard", default=None, help="i/n: process sequences i, i+n, …")
    p.add_argument("--merge", nargs="+", default=None, metavar="SHARD_JSON",
                   help="merge these shard results into --output and exit")
    p.add_argument("-o", "--output", required=True, help="results JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-q", "--quiet", action="store_true")
    add_config_args(p, DEFAULT)
    add_decoder_args(p)
    return p


def _compose(args, overrides: list[str], rate: list[str]) -> DictConfig:
    """Base config + ``--protocol`` (a group name or a protocol YAML) + user and rate overrides."""
    proto = args.protocol
    group = bool(proto) and (config_root() / "protocol" / f"{proto}.yaml").is_file()
    cfg = compose(args.config, ([f"protocol={proto}"] if group else []) + overrides + rate, default=DEFAULT)
    if proto and not group:
        cfg = OmegaConf.merge(cfg, {"protocol": load_protocol(proto).to_dict()})
    return cfg


@cli_entry
def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    out = check_output(args.output, args.overwrite)
    if args.merge:
        save_results(merge_results([load_results(p) for p in args.merge]), out, overwrite=args.overwrite)
        return 0
    if not args.data:
        raise ConfigError("--data is required (dataset name, YAML or folder)")
    check_metrics(args.metrics)  # unknown names or missing weights fail before any encoding
    overrides = split_overrides(args, extra)
    base = _compose(args, overrides, [])
    if maybe_print_config(args, base):
        return 0
    protocol = load_protocol(base.get("protocol"))
    rates = load_rates(Path(args.rates_file) if args.rates_file else rates_file(), args.rates)
    cfgs = {n: _compose(args, overrides, codec_overrides(o)) for n, o in rates.items()}
    shard_i, shard_n = parse_shard(args.shard)
    dataset = load_dataset(args.data, sequences=args.sequences)
    atomic_write_text(Path(f"{out}.config.yaml"), to_yaml(base), overwrite=True)
    config = {"base": OmegaConf.to_container(base, resolve=True), "rates": rates, "decoder": args.decoder,
              "metrics": list(args.metrics), "shard": args.shard, "overrides": overrides,
              "bidirectional": not args.no_bidirectional, "decoder_options": decoder_kwargs(args)}
    label = f"{args.codec}-{args.decoder}" + ("-nobidir" if args.no_bidirectional else "")
    results = new_results(label, dataset.name, protocol.to_dict(), config)
    from actdiff.codec.pipeline import build_decoder

    opts = decoder_kwargs(args) | ({"bidirectional": False} if args.no_bidirectional else {})
    decoder = build_decoder(args.decoder, **opts)  # once: diffusion weights load a single time
    if hasattr(decoder, "settings"):
        results["config"]["decoder_settings"] = decoder.settings()
    for k, seq in enumerate(dataset):
        if k % shard_n != shard_i:
            continue
        video = seq.read(protocol)
        log = None if args.quiet else (lambda s, n=seq.name: sys.stderr.write(f"{n} {s}\n"))
        record_source(results, seq.name, video.frames, args.metrics)
        results["sequences"][seq.name] = evaluate_sequence(video, cfgs, decoder, args.metrics, log)
        save_progress(results, out)
    finish_results(results, out, args.shard, dataset, args.quiet)
    return 0
