"""Published result files of other codecs (CompressAI, DCVC) as results documents of our schema.

Users overlay published curves all the time; :func:`actdiff.evaluation.results.load_results`
(hence ``actdiff plot``/``bdrate`` and ``actdiff.load_results``) converts these layouts on reading:

* **CompressAI** (``compressai.utils.eval_model``/``plot``, ``results/*.json`` of its repository)::

      {"name": "bmshj2018-factorized", "description": "Inference (ans)",
       "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...], "encoding_time": [...]}}

  (also the older flat form ``{"bpp": [...], "rgb_psnr": [...], "ms-ssim": [...], "qp": [...]}``).
  One curve, already averaged over the dataset: it becomes the document's ``mean`` with no
  per-sequence points, so ``bdrate`` compares it with the other file's mean curve.
* **DCVC** (``test_video.py --output_path``)::

      {"UVG": {"Beauty_1920x1080_120fps_420_8bit_YUV": {"000": {"ave_all_frame_bpp": 0.01,
               "ave_all_frame_psnr": 33.1, "ave_all_frame_msssim": 0.95, "i_frame_num": 8,
               "p_frame_num": 88, "frame_pixel_num": 2073600, "qp_i": 0, ...}, "001": {...}}}}

  Per sequence and rate point (in the order of the rate keys). Sequence names are cut at their ``_<W>x<H>`` suffix
  (``Beauty_1920x1080_120fps…`` → ``Beauty``, as in ``configs/data/uvg.yaml``).

Metric names are mapped to ours (:data:`METRIC_NAMES`: ``psnr-rgb``/``rgb_psnr`` → ``psnr``,
``ms-ssim-rgb``/``ms-ssim`` → ``ms_ssim``, ``psnr-y`` → ``psnr_y`` …); other fields are dropped
and listed under ``config.dropped``. DCVC's ``ave_all_frame_psnr`` is RGB PSNR for RGB test
sequences but the 6:1:1 YUV PSNR for YUV 4:2:0 ones: where a point also has the planes'
``ave_all_frame_psnr_y`` and no ``ave_all_frame_psnr_rgb``, it is read as our ``psnr_yuv``
(:mod:`actdiff.metrics.yuv`), else as ``psnr`` (``ave_all_frame_psnr_rgb`` wins when present);
a file of neither field set cannot say which, so check it. An MS-SSIM of exactly 0
(DCVC without ``--calc_ssim``) is not a measurement and is dropped. Anything else is an
``InputError`` naming what is wrong.
"""

from __future__ import annotations

import math
import re
from typing import Any

from actdiff.errors import InputError

#: Their metric name → ours.
METRIC_NAMES = {
    "psnr": "psnr", "psnr-rgb": "psnr", "rgb_psnr": "psnr", "psnr_rgb": "psnr",
    "ms-ssim": "ms_ssim", "ms-ssim-rgb": "ms_ssim", "ms_ssim": "ms_ssim", "msssim": "ms_ssim",
    "psnr-y": "psnr_y", "y_psnr": "psnr_y", "psnr-u": "psnr_u", "u_psnr": "psnr_u",
    "psnr-v": "psnr_v", "v_psnr": "psnr_v", "psnr-yuv": "psnr_yuv",
    "lpips": "lpips", "dists": "dists", "vmaf": "vmaf", "niqe": "niqe",
}
#: Fields of a CompressAI curve that are rate parameters or timings, kept on each point.
_KEEP = {"q": "q", "qp": "qp", "encoding_time": "encode_seconds", "decoding_time": "decode_seconds"}
#: DCVC per-point fields → our metric names (``_rgb`` wins over the plain PSNR when present).
_DCVC_METRICS = {"ave_all_frame_psnr": "psnr", "ave_all_frame_psnr_rgb": "psnr", "ave_all_frame_msssim": "ms_ssim",
                 "ave_all_frame_psnr_y": "psnr_y", "ave_all_frame_psnr_u": "psnr_u",
                 "ave_all_frame_psnr_v": "psnr_v"}
_SIZE = re.compile(r"_\d+x\d+")


def _document(codec: str, dataset: str, config: dict[str, Any], sequences: dict[str, list[dict[str, Any]]],
              mean: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Our document's keys but ``schema`` (and ``mean`` when ``None``), which
    :func:`actdiff.evaluation.results.load_results` adds."""
    return {"codec": codec, "protocol": {"name": "imported"}, "dataset": dataset,
            "versions": {}, "machine": {}, "config": config, "sequences": sequences, "mean": mean}


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(float(v)):
        raise InputError(f"{where}: {v!r} is not a number")
    return float(v)


def is_compressai(data: Any) -> bool:
    """CompressAI's layout: ``{"name", "results": {"bpp": [...], …}}`` or a flat ``{"bpp": [...], …}``."""
    if not isinstance(data, dict) or "schema" in data:
        return False
    body = data.get("results") if isinstance(data.get("results"), dict) else data
    return isinstance(body, dict) and bool(body) and all(isinstance(v, list) for v in body.values()) and (
        "results" in data or "bpp" in body)


def from_compressai(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A CompressAI results file (one dataset-average curve) → a document whose ``mean`` is that curve."""
    body = data["results"] if isinstance(data.get("results"), dict) else data
    if "bpp" not in body:
        extra = " (it has 'bitrate': a rate per second needs the frame size and rate to become bpp)" \
            if "bitrate" in body else ""
        raise InputError(f"{source}: CompressAI results without 'bpp'{extra}")
    n = len(body["bpp"])
    bad = [k for k, v in body.items() if len(v) != n]
    if bad:
        raise InputError(f"{source}: CompressAI lists of different lengths: {', '.join(bad)} vs bpp ({n})")
    names = {k: METRIC_NAMES[k] for k in body if k in METRIC_NAMES}
    if not names:
        known = ", ".join(sorted(METRIC_NAMES))
        raise InputError(f"{source}: CompressAI results with no known metric (known: {known})")
    mean = []
    for i in range(n):
        metrics = {ours: _number(body[k][i], f"{source}: {k}[{i}]") for k, ours in names.items()}
        point: dict[str, Any] = {"bpp": _number(body["bpp"][i], f"{source}: bpp[{i}]"), "metrics": metrics,
                                 "rate_index": i}
        point.update({ours: body[k][i] for k, ours in _KEEP.items() if k in body})
        mean.append(point)
    name = str(data.get("name") or source.rsplit("/", 1)[-1].removesuffix(".json"))
    config = {"imported_from": "compressai", "file": source, "description": data.get("description", ""),
              "metric_names": names, "dropped": sorted(set(body) - set(names) - set(_KEEP) - {"bpp"})}
    return _document(name, "unknown (CompressAI dataset average)", config, {}, mean)


def is_dcvc(data: Any) -> bool:
    """DCVC's layout: ``{dataset: {sequence: {"000": {"ave_all_frame_bpp": …}}}}``."""
    if not isinstance(data, dict) or not data or "schema" in data:
        return False
    for seqs in data.values():
        if not isinstance(seqs, dict):
            return False
        for rates in seqs.values():
            if not isinstance(rates, dict) or not all(isinstance(p, dict) for p in rates.values()):
                return False
            if any("ave_all_frame_bpp" in p for p in rates.values()):
                return True
    return False


def _dcvc_point(p: dict[str, Any], where: str) -> dict[str, Any]:
    if "ave_all_frame_bpp" not in p:
        raise InputError(f"{where}: no 'ave_all_frame_bpp'")
    metrics = {}
    yuv = "ave_all_frame_psnr_y" in p and "ave_all_frame_psnr_rgb" not in p   # the plain PSNR is 6:1:1 YUV
    for key, ours in _DCVC_METRICS.items():  # ordered: ave_all_frame_psnr_rgb overrides ave_all_frame_psnr
        if key in p:
            metrics["psnr_yuv" if yuv and key == "ave_all_frame_psnr" else ours] = _number(p[key], f"{where}: {key}")
    if metrics.get("ms_ssim") == 0.0:
        del metrics["ms_ssim"]  # DCVC writes 0 when MS-SSIM was not computed
    frames = int(p.get("i_frame_num", 0)) + int(p.get("p_frame_num", 0)) or None
    bpp = _number(p["ave_all_frame_bpp"], f"{where}: ave_all_frame_bpp")
    pixels = p.get("frame_pixel_num")
    bits = int(round(bpp * frames * pixels)) if frames and isinstance(pixels, (int, float)) else None
    point: dict[str, Any] = {"bpp": bpp, "bits_total": bits, "frames": frames, "height": None, "width": None,
                             "metrics": metrics}
    for key in ("qp_i", "qp_p", "rate_idx"):
        if key in p:
            point[key] = p[key]
    return point


def from_dcvc(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A DCVC ``test_video.py`` output → per-sequence points (rate points in key order)."""
    sequences: dict[str, list[dict[str, Any]]] = {}
    original: dict[str, str] = {}
    for ds, seqs in data.items():
        for seq, rates in seqs.items():
            name = _SIZE.split(str(seq))[0] or str(seq)
            if name in sequences:
                name = f"{ds}/{name}"
            original[name] = f"{ds}/{seq}"
            sequences[name] = [_dcvc_point(rates[k], f"{source}: {ds}/{seq}/{k}") for k in sorted(rates)]
    if not sequences:
        raise InputError(f"{source}: DCVC results with no sequence")
    codec = source.rsplit("/", 1)[-1].removesuffix(".json")
    config = {"imported_from": "dcvc", "file": source, "sequence_names": original,
              "metric_names": {k: v for k, v in _DCVC_METRICS.items()}}
    return _document(codec, "+".join(data), config, sequences, None)


def convert(data: Any, source: str) -> dict[str, Any] | None:
    """``data`` converted to our layout when it is a CompressAI or DCVC file, else ``None``
    (without ``schema`` and, for DCVC, ``mean``: ``load_results`` completes and validates it)."""
    if is_compressai(data):
        return from_compressai(data, source)
    if is_dcvc(data):
        return from_dcvc(data, source)
    return None


__all__ = ["METRIC_NAMES", "convert", "from_compressai", "from_dcvc", "is_compressai", "is_dcvc"]
