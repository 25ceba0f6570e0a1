"""The one encode → decode → metrics loop, for ActDiff and the classical baselines alike.

Every caller goes through here: ``actdiff evaluate``, ``bench`` and ``demo``, the rate-curve
callback of training, sweeps, and the Python API. For ActDiff a clip is encoded once per rate
point into real bytes (:func:`actdiff.codec.ratecontrol.encode`: plain, or rate-controlled for a
target-bpp point), the bytes are decoded by each decoder, and the decoded frames are scored by
:func:`actdiff.metrics.compute_metrics` against the frames the protocol read. A baseline is
encoded and decoded by PyAV at each CRF and scored by the same function. Each rate point becomes
one point of the results schema (docs/results_schema.md).

Progress: bars over sequences, rate points and decoded frames (:mod:`actdiff.progress`, stderr;
off unless on a terminal or asked). Pictures: with a ``saver``
(:class:`actdiff.evaluation.contact.FrameSaver`) every decoded stream leaves a few thumbnails,
recorded in its point, and every sequence a contact sheet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actdiff.baselines import encode_decode
from actdiff.codec import decode_video
from actdiff.codec.ratecontrol import encode as encode_point
from actdiff.errors import InputError
from actdiff.evaluation.results import finish_results, record_source, save_progress
from actdiff.metrics import check_frame_size, compute_metrics
from actdiff.progress import bar
from actdiff.types import EncodeResult, Video

Log = Callable[[str], None] | None
#: ``on_decoded(point name, decoder label, encode result, decoded video)`` (e.g. to save files).
OnDecoded = Callable[[str, str, EncodeResult, Video], None] | None


def score(video: Video, decoded: np.ndarray, total_bits: int, metrics: Sequence[str], **fields: Any) -> dict[str, Any]:
    """A results point: rate and ``metrics`` of ``decoded`` (``uint8 (T, H, W, 3)``) against ``video``.

    ``fields`` (the rate parameter such as ``quality_param``/``crf``, timings, …) are added as given.
    """
    if decoded.shape != video.frames.shape:
        raise InputError(f"decoded {decoded.shape} frames for a {video.frames.shape} input")
    t, h, w = video.num_frames, video.height, video.width
    return {"bpp": total_bits / (t * h * w), "bits_total": int(total_bits), "frames": t, "height": h, "width": w,
            "metrics": compute_metrics(video.frames, decoded, metrics), **fields}


def _stats_fields(stats: Mapping[str, Any]) -> dict[str, Any]:
    """What an ActDiff point records from the encoder's statistics."""
    out = {"bits": dict(stats.get("bits", {})), "keyframes": len(stats.get("keyframes", [])),
           "trajectories": int(sum(stats.get("trajectories", []) or [0]))}
    if "trajectory_stride" in stats:  # the fast mode's per-stream choice (actdiff/codec/stride_choice.py)
        out["trajectory_stride"] = int(stats["trajectory_stride"]["stride"])
    if stats.get("repeated_frames"):  # frames sent as repeats, not coded (actdiff/codec/repeats.py)
        out["repeated_frames"] = len(stats["repeated_frames"])
    if "rate_control" in stats:
        out["rate_control"] = {k: v for k, v in stats["rate_control"].items() if k != "history"}
    return out


def _shown(point: Mapping[str, Any]) -> str:
    return f"bpp={point['bpp']:.5f} " + " ".join(f"{k}={v:.4g}" for k, v in point["metrics"].items())


def actdiff_points(video: Video, configs: Mapping[str, Any], decoders: Mapping[str, Any], metrics: Sequence[str],
                   encoded: dict[str, EncodeResult] | None = None, on_decoded: OnDecoded = None,
                   log: Log = None, saver: Any = None) -> dict[str, list[dict[str, Any]]]:
    """ActDiff on one clip at every rate point, decoded by every decoder.

    Args:
        video: the clip as the protocol read it (frames ``uint8 (T, H, W, 3)``).
        configs: ``{point name: composed config}`` (see :func:`actdiff.evaluation.rates.point_configs`).
        decoders: ``{label: decoder}``; built decoders, registry names or ``codec.decoder`` sections.
        metrics: metric names (:mod:`actdiff.metrics`).
        encoded: a cache ``{point name: EncodeResult}`` of this clip, filled and reused (the
            encoder is deterministic); ``None`` encodes every time.
        on_decoded: called for every decoded stream.
        log: one line per point and decoder.
        saver: a :class:`~actdiff.evaluation.contact.FrameSaver` started on this clip: thumbnails
            of every decoded stream, recorded as the point's ``thumbnails``.

    Returns:
        ``{label: [point, …]}`` in the order of ``configs``.
    """
    out: dict[str, list[dict[str, Any]]] = {label: [] for label in decoders}
    with bar(len(configs) * len(decoders), "rate points", unit="point") as pbar:
        for name, cfg in configs.items():
            t0 = time.perf_counter()
            pbar.set_postfix_str(f"{name}: encode")
            if encoded is not None and name in encoded:
                enc, enc_s = encoded[name], float(encoded[name].stats.get("encode_seconds", 0.0))
            else:
                enc = encode_point(video, cfg)
                enc_s = time.perf_counter() - t0
                if encoded is not None:
                    encoded[name] = enc
            for label, decoder in decoders.items():
                pbar.set_postfix_str(f"{name}: {label} decode")
                t0 = time.perf_counter()
                rec = decode_video(enc.data, decoder, trusted=True)  # written just above from our own config
                dec_s = time.perf_counter() - t0
                if on_decoded is not None:
                    on_decoded(name, label, enc, rec)
                pbar.set_postfix_str(f"{name}: {label} metrics")
                point = score(video, rec.frames, 8 * len(enc.data), metrics, quality_param=name,
                              **_stats_fields(enc.stats), encode_seconds=enc_s, decode_seconds=dec_s)
                if saver is not None:
                    point["thumbnails"] = saver.add(label, name, rec.frames)
                out[label].append(point)
                pbar.update(1)
                if log:
                    log(f"{name} {label} {_shown(point)}")
    return out


def baseline_point(video: Video, codec: str, crf: int, metrics: Sequence[str], saver: Any = None) -> dict[str, Any]:
    """A classical codec (``x264``, ``x265``, ``svt-av1``; PyAV) at one CRF, scored (``saver``:
    as in :func:`actdiff_points`)."""
    r = encode_decode(video.frames, codec, crf, video.fps)
    point = score(video, r.frames, r.bits, metrics, crf=int(crf), bits={"payload": r.bits},
                  encode_seconds=r.encode_seconds, decode_seconds=r.decode_seconds)
    if saver is not None:
        point["thumbnails"] = saver.add(codec, f"crf{crf}", r.frames)
    return point


def baseline_points(video: Video, codec: str, crfs: Sequence[int], metrics: Sequence[str],
                    log: Log = None, saver: Any = None) -> list[dict[str, Any]]:
    """:func:`baseline_point` at every CRF, lowest CRF first."""
    points = []
    with bar(len(crfs), f"{codec} CRFs", unit="point") as pbar:
        for crf in sorted(crfs):
            pbar.set_postfix_str(f"crf {crf}")
            points.append(baseline_point(video, codec, crf, metrics, saver))
            pbar.update(1)
            if log:
                log(f"{codec} crf={crf} {_shown(points[-1])}")
    return points


def baseline_near_rate(video: Video, codec: str, target_bpp: float, metrics: Sequence[str],
                       crfs: Sequence[int] = (51, 48, 45, 42), saver: Any = None) -> dict[str, Any]:
    """The baseline at the CRF (tried from the highest) whose rate is closest to ``target_bpp``."""
    best: dict[str, Any] | None = None
    for crf in crfs:
        point = baseline_point(video, codec, crf, metrics, saver)
        if best is None or abs(point["bpp"] - target_bpp) < abs(best["bpp"] - target_bpp):
            best = point
        if point["bpp"] > target_bpp:
            break
    assert best is not None
    return best


def padded_read(cfgs: Mapping[str, Any]) -> dict[str, Any] | None:
    """``run_dataset``'s ``read_kwargs`` for clips coded with the rate points' configs ``cfgs``: each
    clip read into a buffer padded to their one ``codec.pad_multiple``, which the encoder pads in
    place (one copy of the clip instead of two); ``None`` when the points pad differently."""
    pads = {int(c.codec.pad_multiple) for c in cfgs.values() if "codec" in c}
    return {"pad_multiple": pads.pop()} if len(pads) == 1 else None


def run_dataset(dataset: Any, protocol: Any, points_of: Callable[[Video, Log], list[dict[str, Any]]],
                metrics: Sequence[str], results: dict[str, Any], out: str | Path | None = None,
                shard: tuple[int, int] = (0, 1), shard_text: str | None = None,
                log: Callable[[str], None] | None = None, saver: Any = None,
                config_yaml: str | None = None, read_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill ``results["sequences"]`` with ``points_of(video, log)`` for every sequence of the shard.

    The source's own no-reference scores are recorded beside. With ``out`` the finished sequences
    are saved to ``OUT.partial`` after each one and the complete results to ``out`` at the end, with
    ``config_yaml`` (the resolved config) beside them as ``OUT.config.yaml``
    (:func:`actdiff.evaluation.results.finish_results`). With a ``saver`` (which ``points_of``
    passes on to :func:`actdiff_points`/:func:`baseline_points`) each sequence starts by choosing
    its frames and ends with its contact sheet (:meth:`~actdiff.evaluation.contact.FrameSaver.check`
    first). ``read_kwargs`` go to each sequence's read (``pad_multiple``: the clip read into a buffer
    the encoder pads in place, :func:`actdiff.io.read_video`).
    """
    shard_i, shard_n = shard
    chosen = [seq for k, seq in enumerate(dataset) if k % shard_n == shard_i]
    if saver is not None:  # a frames folder in the data, or a run of this codec there: before any work
        listed = [dataset.root] if dataset.listed else []   # one video's folder is no dataset's
        saver.check(results["codec"], [seq.name for seq in chosen], [*listed, *(seq.path for seq in chosen)])
    with bar(len(chosen), "sequences", unit="seq") as pbar:
        for seq in chosen:
            pbar.set_postfix_str(seq.name)
            video = seq.read(protocol, **(read_kwargs or {}))
            check_frame_size(metrics, video.height, video.width, f"sequence {seq.name}")  # before its encoding
            seq_log = None if log is None else (lambda s, n=seq.name: log(f"{n} {s}"))
            record_source(results, seq.name, video.frames, metrics)
            if saver is not None:
                saver.start(results, seq.name, video)
            results["sequences"][seq.name] = points_of(video, seq_log)
            if saver is not None:
                saver.finish(results, seq.name, video, metrics)
            pbar.update(1)
            if out is not None:
                save_progress(results, out)
    if out is not None:
        finish_results(results, out, shard_text, dataset, quiet=log is None, config_yaml=config_yaml)
    return results


__all__ = ["actdiff_points", "baseline_near_rate", "baseline_point", "baseline_points", "padded_read", "run_dataset",
           "score"]
