"""Rate points and the configs they make.

A rate point is a named list of codec overrides (``configs/rates/default.yaml``, keys relative to
the ``codec`` section: ``keyframe_codec.quality=5``), or a number such as ``0.01``: a target bpp
that rate control (:mod:`actdiff.codec.ratecontrol`) reaches on the real file size.
:func:`point_configs` composes one full config per point on top of the evaluated base config.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from actdiff.codec import encode_video
from actdiff.codec.ratecontrol import target_overrides
from actdiff.config import DEFAULT_EXPERIMENT, compose, config_root, load_yaml
from actdiff.data import load_dataset, load_protocol
from actdiff.errors import ConfigError, check_distinct
from actdiff.io import read_video
from actdiff.types import EncodeResult, Video

#: The evaluated base config when none is given (codec + protocol groups).
DEFAULT_CONFIG = DEFAULT_EXPERIMENT


def rates_file() -> Path:
    """The default rate points: ``configs/rates/default.yaml``."""
    return config_root() / "rates" / "default.yaml"


def load_rates(path: Path | str | None = None, names: Sequence[str] | None = None) -> dict[str, list[str]]:
    """``{name: [override, …]}`` of the chosen rate points (all, in file order, when ``names`` is None).

    Args:
        path: a rates YAML with a ``points`` mapping (default :func:`rates_file`).
        names: point names and/or target bpps (``"0.01"``) to keep, in this order.
    """
    path = Path(path) if path else rates_file()
    doc = load_yaml(path)
    points = OmegaConf.to_container(doc.get("points", {}), resolve=True)
    if not isinstance(points, dict) or not points:
        raise ConfigError(f"{path}: needs a non-empty 'points' mapping of name → list of overrides")
    names = list(names) if names else list(points)
    check_distinct("rate points", names)
    targets = {n: o for n in names if n not in points and (o := target_overrides(n)) is not None}
    bad = [n for n in names if n not in points and n not in targets]
    if bad:
        hint = "; a key=value after --rates is read as a rate point: put overrides before it" \
            if any("=" in n for n in bad) else ""
        raise ConfigError(f"unknown rate point(s) {', '.join(bad)} in {path} (known: {', '.join(points)}, "
                          f"or a target bpp such as 0.01){hint}")
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


def compose_config(config: str | Path | None = None, protocol: str | None = None,
                   overrides: Sequence[str] = (), default: str = DEFAULT_CONFIG) -> DictConfig:
    """The evaluated config: ``config`` (default ``default``, ``experiment/codec``) + ``protocol``
    (a group name of ``configs/protocol`` or a protocol YAML) + ``overrides`` (full keys: ``codec.…``)."""
    group = bool(protocol) and (config_root() / "protocol" / f"{protocol}.yaml").is_file()
    cfg = compose(config, ([f"protocol={protocol}"] if group else []) + list(overrides), default=default)
    if protocol and not group:
        cfg = OmegaConf.merge(cfg, {"protocol": load_protocol(protocol).to_dict()})
    return cfg


def encode_at_point(video: Video, point: str, rates: Mapping[str, Sequence[str]] | None = None,
                    overrides: Sequence[str] = ()) -> EncodeResult:
    """``video`` encoded with the evaluated default config (plus ``overrides``, ``key=value``) at
    rate point ``point`` of ``rates`` (default: ``configs/rates/default.yaml``); ``stats["bpp"]`` is
    its rate."""
    rates = load_rates(names=[point]) if rates is None else rates
    if point not in rates:
        raise ConfigError(f"unknown rate point {point!r} (known: {', '.join(rates)})")
    return encode_video(video, compose_config(overrides=list(overrides) + codec_overrides(rates[point])))


def training_streams(clips: Sequence[str], points: Sequence[str], max_frames: int, overrides: Sequence[str] = (),
                     repeats: bool = False) -> Iterator[tuple[str, np.ndarray, str, EncodeResult]]:
    """Fast-mode streams of TRAINING-corpus files (dataset ``train_clips``: ``$ACTDIFF_TRAIN_CLIPS``
    or the shared folder) for experiments that must not touch the clips results are reported on:
    each clip read once at the cpu protocol's 256x384 crop (first ``max_frames`` frames), then
    coded at every rate point of ``points`` (``configs/rates/default.yaml``; config ``overrides``
    before the point's). Yields ``(clip name, source frames uint8 (T, H, W, 3), point, EncodeResult)``.

    The experiments pair the decoder's segments with the source frame by frame, so repeated
    frames are coded as frames here (``codec.repeat_psnr=null`` before ``overrides``) unless
    ``repeats``: then the segments index the coded frames (``stats["repeated_frames"]``,
    :func:`actdiff.codec.repeats.drop_repeats`)."""
    overrides = list(overrides) if repeats else ["codec.repeat_psnr=null", *overrides]
    rates = load_rates()
    for seq in load_dataset("train_clips", sequences=clips):
        video = read_video(str(seq.path), max_frames=max_frames, size=(256, 384), resize_mode="crop")
        src = np.asarray(video.frames)
        for point in points:
            yield seq.name, src, point, encode_at_point(video, point, rates, overrides)


def point_configs(rates: Mapping[str, Sequence[str]], config: str | Path | None = None,
                  protocol: str | None = None, overrides: Sequence[str] = ()) -> dict[str, DictConfig]:
    """One composed config per rate point: base + ``overrides`` + the point's codec overrides,
    each codec section checked (:func:`actdiff.codec.schema.check_codec_config`) before any point runs."""
    from actdiff.codec.schema import check_codec_config

    cfgs = {name: compose_config(config, protocol, list(overrides) + codec_overrides(ovs))
            for name, ovs in rates.items()}
    for cfg in cfgs.values():
        if "codec" in cfg:
            check_codec_config(cfg)
    return cfgs


__all__ = ["DEFAULT_CONFIG", "codec_overrides", "compose_config", "load_rates", "point_configs", "rates_file"]
