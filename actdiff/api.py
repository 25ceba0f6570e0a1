"""The public Python API: what ``from actdiff import …`` gives a notebook or a script.

    import actdiff
    enc = actdiff.encode("clip.mp4", target_bpp=0.01)            # or a (T, H, W, 3) array / tensor
    video = actdiff.decode(enc.data, decoder="diffusion")        # frames uint8 (T, H, W, 3)
    res = actdiff.evaluate(video_or_dataset, rates=["r1", "r3"], decoder="warp", metrics=["psnr"])
    res.to_dataframe()                                           # one row per sequence and rate point
    pipe = actdiff.ActDiffPipeline.from_pretrained()             # diffusers-style: encode + decode

Everything here calls the same library code as the ``actdiff`` command (the codec, the decoders
registry and the evaluation loop); configs are composed from ``configs/`` as on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from actdiff.codec import decode_video
from actdiff.codec.ratecontrol import encode as encode_with_rate_control
from actdiff.config import compose
from actdiff.decoders import build_decoder
from actdiff.errors import ConfigError, InputError
from actdiff.evaluation.document import Results, load_results
from actdiff.evaluation.rates import DEFAULT_CONFIG, load_rates, point_configs
from actdiff.evaluation.results import new_results
from actdiff.evaluation.runner import actdiff_points, padded_read, run_dataset
from actdiff.io import as_video
from actdiff.io.convert import as_list, check_callable, check_path_arg, shown, stream_bytes
from actdiff.metrics import DEFAULT_METRICS, check_frame_size, check_metrics
from actdiff.types import EncodeResult, Video, check_fps, check_positive


def setting_overrides(settings: dict[str, Any]) -> list[str]:
    """Keyword settings → codec overrides: ``keyframe_codec__quality=20`` → ``codec.keyframe_codec.quality=20``."""
    out = []
    for key, value in settings.items():
        text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        out.append(f"codec.{key.replace('__', '.')}={text}")
    return out


def codec_config(config: str | Path | None = None, overrides: Sequence[str] = (), target_bpp: float | None = None,
                 **settings: Any) -> DictConfig:
    """The composed codec config (default ``experiment/codec``) with ``overrides``, keyword
    ``settings`` (``__`` for dots) and, with ``target_bpp``, rate control on. List arguments here
    and below take a single string as a one-element list, and ``None`` as their default."""
    check_path_arg(config, "config")
    extra = as_list(overrides, "overrides") + setting_overrides(settings)
    if target_bpp is not None:
        extra.append(f"+codec.rate_control.target_bpp={check_positive(target_bpp, 'target_bpp', error=ConfigError)}")
    return compose(config, extra, default=DEFAULT_CONFIG)


def encode(video: Any, target_bpp: float | None = None, *, config: str | Path | None = None,
           overrides: Sequence[str] = (), fps: float | None = None, **settings: Any) -> EncodeResult:
    """Encode a clip into one self-contained ``.adv`` bitstream.

    Args:
        video: a path, a :class:`~actdiff.types.Video`, an array ``(T, H, W, 3)`` (uint8, or float
            in ``[0, 1]``) or a tensor ``(T, 3, H, W)`` in ``[0, 1]``, coded at its own size.
        target_bpp: reach this rate (bits per pixel, real file size) by rate control.
        config: a config file or ``group/name`` (default ``experiment/codec``).
        overrides: ``key=value`` strings as on the command line (``codec.keyframes.max_gop=32``).
        fps: frame rate of an array or tensor (default 25).
        settings: codec settings as keywords, ``__`` for dots: ``keyframe_codec__quality=20``.

    Returns:
        :class:`~actdiff.types.EncodeResult`: ``data`` (the file's bytes) and ``stats`` (bpp, bit split, …).
    """
    if fps is not None:
        check_fps(fps)
    cfg = codec_config(config, overrides, target_bpp, **settings)
    return encode_with_rate_control(as_video(video, fps), cfg)


def _stream_options(data: Any, max_pixels: Any, keyframe_weights: Any) -> dict[str, Any]:
    """Decode limits: none for an ``EncodeResult`` (written in this process from the caller's config);
    ``keyframe_weights`` one folder or a list of them."""
    dirs = as_list(keyframe_weights, "keyframe_weights", (str, Path))
    return {"max_pixels": max_pixels, "weights_dirs": [str(d) for d in dirs], "trusted": isinstance(data, EncodeResult)}


def decode(data: Any, decoder: Any = "warp", weights: str | Path | None = None, *, max_pixels: Any = "auto",
           keyframe_weights: Sequence[str | Path] = (), **options: Any) -> Video:
    """Decode a bitstream (bytes, an ``EncodeResult`` or an ``.adv`` path) into frames.

    Args:
        decoder: ``"warp"`` | ``"diffusion"``, a ``codec.decoder``-style mapping, or a built decoder.
        weights: diffusion weights folder (default: the shipped model).
        max_pixels: decode budget of a stream from bytes or a file (``"auto"``, an int or ``None``;
            :func:`actdiff.codec.decoder.check_budget`); an ``EncodeResult`` has none.
        keyframe_weights: folder(s) keyframe weights named by such a stream may be read from.
        options: decoder options (``steps``, ``sampler``, ``temporal_blend``, ``bidirectional``, …).

    Returns:
        :class:`~actdiff.types.Video` at the display size, frames ``uint8 (T, H, W, 3)``.
    """
    check_path_arg(weights, "weights")
    _refuse_options_for_warp(decoder, options, weights)
    stream_options = _stream_options(data, max_pixels, keyframe_weights)
    dec = build_decoder(decoder, weights=None if weights is None else str(weights), **options)
    return decode_video(stream_bytes(data), dec, **stream_options)


def _refuse_options_for_warp(decoder: Any, options: dict, weights: Any) -> None:
    """``ConfigError`` when diffusion options (or ``weights``) are passed with the warp decoder,
    which would ignore them."""
    from actdiff.decoders.warp import WarpDecoder

    name = decoder if isinstance(decoder, str) else None
    if isinstance(decoder, Mapping):
        name = decoder.get("name", "warp")
    extra = (["weights"] if weights is not None else []) + [k for k in options if k not in WarpDecoder.OPTIONS]
    if name == "warp" and extra:
        raise ConfigError(f"{', '.join(extra)}: diffusion decoder options, the warp decoder has none; "
                          "pass decoder='diffusion' or drop them")


def decode_segments(data: Any, *, max_pixels: Any = "auto", keyframe_weights: Sequence[str | Path] = ()
                    ) -> tuple[Any, list[Any]]:
    """What the decoder sees: ``(StreamHeader, [DecodedSegment, …])`` rebuilt from the stream alone
    (decoded keyframes ``uint8 (H, W, 3)`` at the coded size, trajectories ``(T, N, 2)`` pixels);
    ``max_pixels``, ``keyframe_weights`` as in :func:`decode`."""
    from actdiff.codec import decode_segments as _decode_segments

    stream_options = _stream_options(data, max_pixels, keyframe_weights)
    return _decode_segments(stream_bytes(data), **stream_options)


def _loop_args(metrics: Any, sequences: Any, fps: Any, log: Any, frames_dir: Any) -> tuple[list[str], Any]:
    """``metrics`` and ``sequences`` of :func:`evaluate`/:func:`bench` as lists (``ConfigError``: not
    names, empty, unknown, repeated; ``MissingWeightsError``), ``fps``, ``log`` and ``frames_dir``
    checked: one line before any work, not after the first encode."""
    metrics = as_list(metrics, "metrics", default=DEFAULT_METRICS, allow_empty=False)
    check_metrics(metrics)
    if fps is not None:
        check_fps(fps)
    check_callable(log, "log")
    check_path_arg(frames_dir, "frames_dir")
    return metrics, None if sequences is None else as_list(sequences, "sequences", allow_empty=False)


def _is_dataset(data: Any) -> bool:
    """A dataset name/YAML or a folder of videos, rather than one clip."""
    if not isinstance(data, (str, Path)):
        return False
    path = Path(data)
    return path.is_dir() and not any(path.glob("*.png")) or (not path.exists())


def evaluate(data: Any, rates: Sequence[str] | None = None, *, decoder: Any = "warp",
             metrics: Sequence[str] = DEFAULT_METRICS, config: str | Path | None = None, protocol: str | None = None,
             overrides: Sequence[str] = (), sequences: Sequence[str] | None = None, name: str = "clip",
             fps: float | None = None, log: Any = None, frames_dir: str | Path | None = None,
             overwrite: bool = False) -> Results:
    """Encode → decode → metrics at several rate points; a results document (docs/results_schema.md).

    Args:
        data: one clip (a video file, a PNG folder, a ``Video``, an array or a tensor; scored at
            its own size) or a dataset (a name or YAML of ``configs/data``, or a folder of videos;
            read under ``protocol``).
        rates: rate point names of ``configs/rates/default.yaml`` and/or target bpps (``"0.01"``);
            ``None``: all of them (an empty list is refused; a single name is one point).
        decoder: as in :func:`decode` (a mapping may carry ``weights`` and options).
        metrics: metric names (``actdiff.metrics``); checked before anything runs, with the clip's
            frame size (``actdiff.metrics.check_frame_size``: e.g. VIF needs 41x41).
        protocol: ``cpu`` | ``paper`` | ``native`` | a YAML (datasets only; default the config's).
        name: the sequence name of a single clip.
        log: a callable receiving one line per point (e.g. ``print``).
        frames_dir: save thumbnails of every point and a contact sheet per sequence (with x265 at
            the nearest rate) there (:mod:`actdiff.evaluation.contact`); see :func:`contact_sheet`.
            A run of the same codec there is refused (``OutputError``) unless ``overwrite``.
    """
    metrics, sequences = _loop_args(metrics, sequences, fps, log, frames_dir)
    rates = None if rates is None else as_list(rates, "rates", allow_empty=False)
    overrides = as_list(overrides, "overrides")
    check_path_arg(config, "config")
    cfgs = point_configs(load_rates(None, rates), config, protocol, overrides)
    dec = build_decoder(decoder)
    label = getattr(dec, "name", "custom")
    codec = f"actdiff-{label}"
    config_doc = {"rates": {n: list(v) for n, v in load_rates(None, rates).items()}, "decoder": label,
                  "metrics": list(metrics), "overrides": list(overrides)}
    if hasattr(dec, "settings"):
        config_doc["decoder_settings"] = dec.settings()

    saver = _saver(frames_dir, "x265", overwrite)

    def points_of(video: Video, seq_log: Any) -> list[dict[str, Any]]:
        return actdiff_points(video, cfgs, {label: dec}, metrics, log=seq_log, saver=saver)[label]

    if protocol is None and _is_dataset(data):
        protocol = next(iter(cfgs.values())).get("protocol")
    return _run(data, codec, config_doc, points_of, metrics, protocol, sequences, name, fps, log, saver,
                read_kwargs=padded_read(cfgs))


def bench(data: Any, codec: str = "x265", crf: Sequence[int] | None = None, *,
          metrics: Sequence[str] = DEFAULT_METRICS, protocol: str | None = "cpu",
          sequences: Sequence[str] | None = None, name: str = "clip", fps: float | None = None,
          log: Any = None, frames_dir: str | Path | None = None, overwrite: bool = False) -> Results:
    """A classical codec (``x264`` | ``x265`` | ``svt-av1``) through the same loop and schema as
    :func:`evaluate`; ``data``, ``frames_dir`` and ``overwrite`` as there (a single clip is coded at its own size)."""
    from actdiff.baselines import BASELINES, rate_points
    from actdiff.evaluation.runner import baseline_points

    metrics, sequences = _loop_args(metrics, sequences, fps, log, frames_dir)
    if not isinstance(codec, str):
        raise ConfigError(f"codec must be a baseline name ({', '.join(sorted(BASELINES))}), got {shown(codec)}")
    crf = None if crf is None else as_list(crf, "crf", Integral, allow_empty=False)
    crfs = rate_points(codec, crf)  # unknown codec, CRF out of range or repeated: before any work
    config_doc = {"codec": codec, "crf": crfs, "settings": BASELINES[codec].notes, "metrics": list(metrics)}

    saver = _saver(frames_dir, None, overwrite)

    def points_of(video: Video, seq_log: Any) -> list[dict[str, Any]]:
        return baseline_points(video, codec, crfs, metrics, seq_log, saver)

    return _run(data, codec, config_doc, points_of, metrics, protocol, sequences, name, fps, log, saver)


def _saver(frames_dir: str | Path | None, baseline: str | None, overwrite: bool) -> Any:
    """A thumbnail saver into ``frames_dir`` (absolute paths recorded), or ``None``."""
    if frames_dir is None:
        return None
    from actdiff.evaluation.contact import FrameSaver

    return FrameSaver(frames_dir, baseline=baseline, overwrite=overwrite)


def contact_sheet(a: dict[str, Any], b: dict[str, Any] | None = None, sequence: str | None = None) -> Any:
    """A matplotlib figure: decoded frames of ``a`` (and ``b``) next to the source, each row labelled
    with bpp and metrics; results evaluated with ``frames_dir`` (same protocol: same frames)."""
    from actdiff.evaluation.contact import compare_sheet, results_sheet

    return results_sheet(a, sequence) if b is None else compare_sheet(a, b, sequence)[0]


def _run(data: Any, codec: str, config_doc: dict[str, Any], points_of: Any, metrics: Sequence[str],
         protocol: str | None, sequences: Sequence[str] | None, name: str, fps: float | None, log: Any,
         saver: Any = None, read_kwargs: dict[str, Any] | None = None) -> Results:
    """``points_of`` over a dataset (read under ``protocol``, with ``read_kwargs``: ``run_dataset``'s) or
    over one clip at its own size."""
    from actdiff.evaluation.results import record_source

    if _is_dataset(data):
        from actdiff.data import load_dataset, load_protocol

        proto = load_protocol(protocol)
        dataset = load_dataset(str(data), sequences=sequences)
        results = new_results(codec, dataset.name, proto.to_dict(), config_doc)
        return Results(run_dataset(dataset, proto, points_of, metrics, results, log=log, saver=saver,
                                   read_kwargs=read_kwargs))
    if sequences is not None:   # a dataset's selection: ignored silently before
        raise ConfigError(f"sequences= selects sequences of a dataset; one clip is scored as {name!r} (name=)")
    video = as_video(data, fps)
    check_frame_size(metrics, video.height, video.width)  # before any encoding
    results = new_results(codec, name, {"name": "native", "height": video.height, "width": video.width,
                                        "max_frames": video.num_frames}, config_doc)
    if saver is not None:
        saver.check(codec, [name], [data] if isinstance(data, (str, Path)) else [])
    record_source(results, name, video.frames, metrics)
    if saver is not None:
        saver.start(results, name, video)
    results["sequences"][name] = points_of(video, log)
    if saver is not None:
        saver.finish(results, name, video, metrics)
    return Results(results)


def score(reference: Any, decoded: Any, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """``{metric: value}`` of ``decoded`` against ``reference`` (clips as for :func:`encode`)."""
    from actdiff.metrics import compute_metrics

    metrics = as_list(metrics, "metrics", default=DEFAULT_METRICS, allow_empty=False)
    check_metrics(metrics)
    ref = as_video(reference)
    check_frame_size(metrics, ref.height, ref.width)
    return compute_metrics(ref.frames, as_video(decoded).frames, metrics)


def describe(enc: EncodeResult) -> str:
    """A few lines on an encoded stream: size, rate, keyframes, segments, trajectories, rate control."""
    from actdiff.codec.ratecontrol import describe as rate_control_line

    if not isinstance(enc, EncodeResult):
        raise InputError(f"describe needs the EncodeResult of actdiff.encode, got {type(enc).__name__} "
                         "(a stored file: actdiff info FILE.adv)")
    st = enc.stats if isinstance(enc.stats, Mapping) else {}
    if not all(k in st for k in ("bpp", "frames", "width", "height", "keyframes", "segments", "trajectories")):
        return _describe_stream(enc.data)  # an EncodeResult built by hand: described from its stream
    repeats = len(st.get("repeated_frames") or ())
    lines = [f"{len(enc.data)} bytes, {st['bpp']:.5f} bpp, {st['frames']} frames {st['width']}x{st['height']}"
             + (f" ({repeats} repeat the frame before: {st.get('coded_frames', st['frames'] - repeats)} coded)"
                if repeats else ""),
             f"keyframes at {st['keyframes']}; segments {st['segments']}",
             f"trajectories per segment {st['trajectories']}"]
    if st.get("bits_per_point_per_frame"):
        lines.append(f"trajectory cost {st['bits_per_point_per_frame']:.2f} bits per point per frame")
    rc = rate_control_line(st)
    return "\n".join(lines + ([rc] if rc else []))


def _describe_stream(data: Any) -> str:
    """What ``actdiff info`` prints of the stream ``data``; ``InputError`` when it is none."""
    from actdiff.codec.describe import describe_stream, format_description
    from actdiff.errors import BitstreamError

    try:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InputError(f"data is {type(data).__name__}, not bytes")
        return format_description(describe_stream(bytes(data))).rstrip("\n")
    except (BitstreamError, InputError) as e:
        raise InputError(f"describe: the EncodeResult's stats lack bpp and the rest, and its data is no "
                         f"ActDiff stream ({e})") from None


def sample_clip(max_frames: int | None = None) -> Video:
    """The bundled 384×256 Big Buck Bunny excerpt (48 frames, 25 fps; © Blender Foundation, CC-BY 3.0)."""
    from actdiff.data import load_sample_clip

    return load_sample_clip(max_frames)


def sweep(spec: str | Path, out_dir: str | Path, frames: int | None = None,
          overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Run an ablation sweep (``configs/ablation/…`` or a YAML path) into ``out_dir`` (finished
    points are skipped) and write its table; returns the summary (``markdown``, ``table``, …)."""
    from actdiff.sweeps import load_spec, run_sweep, write_table

    spec_obj = load_spec(str(spec))
    statuses = run_sweep(spec_obj, out_dir, list(overrides), frames)
    summary = write_table(spec_obj, out_dir)
    summary["failed"] = [s.name for s in statuses if s.status == "failed"]
    return summary


@dataclass
class PipelineOutput:
    """What :class:`ActDiffPipeline` returns: the decoded ``video`` and the ``encoded`` stream."""

    video: Video
    encoded: EncodeResult


class ActDiffPipeline:
    """The codec end to end, in the style of a diffusers pipeline.

    ``ActDiffPipeline.from_pretrained(folder)`` loads diffusion-decoder weights (a
    ``save_pretrained`` folder; ``None`` = the shipped model); ``pipe(video, target_bpp=0.01)``
    encodes into real bytes and decodes them. ``decoder="warp"`` gives the non-generative decoder.
    """

    def __init__(self, decoder: Any = "warp", config: str | Path | None = None, **settings: Any) -> None:
        codec_config(config, (), None, **settings)  # an unknown setting: ConfigError now, not at the first encode
        self.decoder = build_decoder(decoder)
        self.config, self.settings = config, settings

    @classmethod
    def from_pretrained(cls, weights: str | Path | None = None, config: str | Path | None = None,
                        **decoder_options: Any) -> "ActDiffPipeline":
        """A pipeline whose decoder is the diffusion model in ``weights`` (default: shipped)."""
        section = {"name": "diffusion", "weights": None if weights is None else str(weights), **decoder_options}
        return cls(decoder=section, config=config)

    def encode(self, video: Any, target_bpp: float | None = None, **settings: Any) -> EncodeResult:
        return encode(video, target_bpp, config=self.config, **{**self.settings, **settings})

    def decode(self, data: Any) -> Video:
        return decode(data, self.decoder)

    def __call__(self, video: Any, target_bpp: float | None = None, **settings: Any) -> PipelineOutput:
        enc = self.encode(video, target_bpp, **settings)
        return PipelineOutput(video=self.decode(enc), encoded=enc)


__all__ = ["ActDiffPipeline", "PipelineOutput", "Results", "bench", "codec_config", "contact_sheet", "decode",
           "describe", "encode", "decode_segments", "evaluate", "load_results", "sample_clip", "score",
           "setting_overrides", "sweep"]
