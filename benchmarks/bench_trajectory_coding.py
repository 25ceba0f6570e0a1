"""Trajectory bits: ActDiff's adaptive range coder against the reference (ActDiff-VC) scheme.

Produced ``benchmarks/results/trajectory_coding_cpu.json`` (~2 min on 2 cores)::

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_trajectory_coding.py \\
        -o benchmarks/results/trajectory_coding_cpu.json

Clips (default: /work/shared/data/clips/*.mp4, /work/main/data/opencv_samples/*) are read at
the cpu protocol (384x256 crop, 96 frames) and encoded with the default codec config; the
tracks the real encoder selects for each segment are captured and coded by these schemes:

* ``actdiff``: as configured (smoothing, stride 2, ½ px); bits of the real payloads.
* ``reference``: METHOD.md "Trajectory coding" on the selected tracks, every frame, rounded to
  integer pixels: varint T and N, first positions in 10-bit x / 9-bit y (more if the grid needs
  it), zigzagged displacements of both axes with ONE canonical Huffman code per segment, plus
  its table (5-bit max length, Exp-Golomb count per length, Exp-Golomb symbols).
* ``reference_on_actdiff``: the reference scheme on exactly what ``actdiff`` codes (smoothed,
  stride 2, in integer units of ½ px).
* ``actdiff_int_s1``: ActDiff's coder as configured (1 px, stride 1, no smoothing, all points marked
  visible) on exactly the integer positions ``reference`` codes.
* ``actdiff_1px`` / ``reference_on_actdiff_1px``: ActDiff's pipeline at a 1 px step, and the
  reference scheme on what it codes.
* ``actdiff_nogrid`` / ``reference_on_actdiff_nogrid``: as configured, with the ``adaptive`` coder
  (frame-0 points coded one by one, not by the grid they lie on: the coder before 2026-12-03).
* ``actdiff_snap`` / ``reference_on_actdiff_snap``: ActDiff's pipeline with positions rounded
  toward the coder's prediction (``entropy.snap``, ``--snap``, default 0.9 steps), and the
  reference scheme on what it codes.

Rate: bits per point per frame, (segment length - 1) frames per point as ``encode_stats``.
Precision: Euclidean error (px) of the decoded positions at every frame against the
unquantised selected tracks, over visible point-frames. Where ActDiff's bits go: -log2 p of
each symbol under the coder's own models, recorded by wrapping its ``SymbolEncoder`` and
``_Models`` (bytes checked unchanged); and how many frame-0 points sit on the selector's
deterministic anchor grid (rebuildable from a count).
"""

from __future__ import annotations

import argparse
import glob
import heapq
import itertools
import json
import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from unittest import mock

import numpy as np
from omegaconf import OmegaConf

import actdiff.codec.encoder as encoder
import actdiff.entropy.trajectory as traj
from actdiff.codec.bitstream import read_bitstream
from actdiff.config import compose
from actdiff.data import load_protocol
from actdiff.entropy.first_frame import FrameGrid, frame0_symbols
from actdiff.entropy.symbols import SymbolEncoder, zigzag_array
from actdiff.entropy.varint import write_varint
from actdiff.evaluation.results import atomic_write_text, machine, versions
from actdiff.io.files import refuse_outputs
from actdiff.motion.temporal import subsample_tracks, upsample_tracks
from actdiff.selection.trajectories import anchor_points
from actdiff.types import Tracks

SCHEMES = ("actdiff", "reference", "reference_on_actdiff", "actdiff_int_s1", "actdiff_1px", "reference_on_actdiff_1px",
           "actdiff_snap", "reference_on_actdiff_snap", "actdiff_nogrid", "reference_on_actdiff_nogrid")
DEFAULT_CLIPS = ("/work/shared/data/clips/*.mp4", "/work/main/data/opencv_samples/*")


def huffman_lengths(counts: Counter) -> dict[int, int]:
    """Huffman code length of each symbol (heapq; a lone symbol gets 1 bit)."""
    if len(counts) == 1:
        return {next(iter(counts)): 1}
    heap = [(c, i, [s]) for i, (s, c) in enumerate(sorted(counts.items()))]
    heapq.heapify(heap)
    lengths, tie = dict.fromkeys(counts, 0), itertools.count(len(heap))
    while len(heap) > 1:
        (c1, _, s1), (c2, _, s2) = heapq.heappop(heap), heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, next(tie), s1 + s2))
    return lengths


def exp_golomb_bits(v: int) -> int:
    """Length of the order-0 Exp-Golomb code of ``v >= 0``."""
    return 2 * (v + 1).bit_length() - 1


def canonical_table_bits(lengths: dict[int, int]) -> int:
    """Bits of a canonical-Huffman table: max length (5 bits), the number of codes of each
    length 1..max (Exp-Golomb), then the symbols in canonical order (Exp-Golomb each)."""
    longest = max(lengths.values())
    if longest > 31:
        raise ValueError(f"Huffman code of {longest} bits does not fit the 5-bit table header")
    if sum(2.0 ** -n for n in lengths.values()) > 1 + 1e-12:
        raise AssertionError("Huffman lengths violate Kraft's inequality")
    per_len = Counter(lengths.values())
    return 5 + sum(exp_golomb_bits(per_len[n]) for n in range(1, longest + 1)) \
        + sum(exp_golomb_bits(s) for s in lengths)


def reference_bits(q: np.ndarray, qx: int, qy: int) -> tuple[dict[str, int], dict[int, int]]:
    """Bits of the reference scheme for integer positions ``q (T, N, 2)`` (x <= qx, y <= qy):
    per part, and the displacement codeword bits per coded step ``1..T-1``."""
    num_frames, n = q.shape[:2]
    out = {"header": 8 * (len(write_varint(num_frames)) + len(write_varint(n))),
           "first_frame": n * (max(10, qx.bit_length()) + max(9, qy.bit_length())),
           "table": 0, "displacements": 0}
    by_step: dict[int, int] = {}
    if n and num_frames > 1:
        z = zigzag_array(np.diff(q, axis=0))
        counts = Counter(z.ravel().tolist())
        lengths = huffman_lengths(counts)
        out["table"] = canonical_table_bits(lengths)
        code_len = np.vectorize(lengths.__getitem__, otypes=[np.int64])(z)
        out["displacements"] = int(code_len.sum())
        by_step = {t + 1: int(b) for t, b in enumerate(code_len.sum(axis=(1, 2)))}
    return out, by_step


_TAGS: dict[int, str] = {}


class _TaggedModels(traj._Models):
    """The coder's models, each registered under the part of the payload it codes."""

    def __init__(self) -> None:
        super().__init__()
        for v in self.vis:
            _TAGS[id(v)] = "visibility"
        _TAGS[id(self.mode)] = "predictor_mode"
        for g in self.g:
            _TAGS[id(g.prim)] = _TAGS[id(g.lens)] = "global_motion"
        for axis, r in zip("xy", self.r):
            for m in r.models:
                _TAGS[id(m.prim)], _TAGS[id(m.lens)] = f"residual_{axis}", f"escape_{axis}"


class _Recorder(SymbolEncoder):
    """``SymbolEncoder`` that also sums -log2 p of every symbol (ideal bits), per payload part
    and per coded step ``t >= 1`` (each step starts with two visibility batches). The frame-0
    uniform codes bypass it (``enc.enc.encode``); ``actdiff_breakdown`` counts them."""

    last: "_Recorder | None" = None

    def __init__(self) -> None:
        super().__init__()
        self.bits: dict[str, float] = defaultdict(float)
        self.by_step: dict[int, float] = defaultdict(float)
        self.tag, self.step, self.vis_calls = "?", 0, 0
        _Recorder.last = self

    def _add(self, bits: float) -> None:
        self.bits[self.tag] += bits
        self.by_step[self.step] += bits

    def adaptive(self, symbols, model) -> None:
        self.tag = _TAGS[id(model)]
        if self.tag == "visibility":
            self.vis_calls += 1
            self.step = (self.vis_calls + 1) // 2
        super().adaptive(symbols, model)

    def categorical(self, symbols, probs) -> None:
        s = np.asarray(symbols, np.int64)
        if s.size:
            self._add(float(-np.log2(probs[s]).sum()))
        super().categorical(symbols, probs)

    def uniform(self, symbols, size) -> None:
        self._add(np.asarray(symbols).size * math.log2(size) if size > 1 else 0.0)
        super().uniform(symbols, size)


def actdiff_breakdown(tracks: Tracks, step: float, h: int, w: int, payload: bytes, grid: bool = False):
    """Bits of ``payload`` (= ``encode_tracks(tracks, step, h, w, grid=grid)``) per payload part
    (``coder_overhead`` = real bits - varint N - ideal bits: range-coder flush, probability
    rounding) and the ideal bits of each coded step ``t >= 1``."""
    with mock.patch.multiple(traj, SymbolEncoder=_Recorder, _Models=_TaggedModels):
        _Recorder.last = None
        again = traj.encode_tracks(tracks, step, h, w, grid=grid)
    if again != payload:
        raise AssertionError("instrumented trajectory coder produced different bytes")
    rec = _Recorder.last
    parts = dict(rec.bits) if rec else {}
    q, _ = traj._to_units(tracks, step, h, w)
    if q.size:
        frame_grid = FrameGrid(float(step), h, w) if grid else None
        parts["first_frame"] = float(np.log2(frame0_symbols(q[0], *traj._grid(step, h, w), frame_grid)[1]).sum())
    parts["header"] = 8 * len(write_varint(tracks.num_points))
    parts["coder_overhead"] = 8 * len(payload) - sum(parts.values())
    return parts, (dict(rec.by_step) if rec else {})


def _units(pos: np.ndarray, step: float, qx: int, qy: int) -> np.ndarray:
    """Positions ``(T, N, 2)`` px → clipped integer quantiser units (non-finite: an error)."""
    if not np.isfinite(pos).all():
        raise ValueError("non-finite track positions")
    return np.clip(np.rint(pos / step), 0, [qx, qy]).astype(np.int64)


def _raster_order(raw: Tracks, coded: Tracks, step: float, qx: int, qy: int) -> np.ndarray:
    """Permutation the coder applied (raster order of quantised frame-0 positions), checked."""
    q0 = _units(raw.positions[:1], step, qx, qy)[0]
    order = np.lexsort((q0[:, 0], q0[:, 1]))
    if not np.array_equal(coded.positions[0], (q0[order] * step).astype(np.float32)):
        raise AssertionError("could not match coded points to the selected tracks")
    return order


def _error(decoded: np.ndarray, raw: Tracks) -> np.ndarray:
    """Euclidean errors (px) of ``decoded (T, N, 2)`` at the visible point-frames of ``raw``."""
    return np.linalg.norm(decoded.astype(np.float64) - raw.positions, axis=2)[raw.visible]


def grid_points(raw: Tracks, tcfg, h: int, w: int) -> int | None:
    """Frame-0 points on the greedy selector's anchor grid of ``round(anchor_fraction *
    budget_points)`` or of all N points: cell centres, a function of (count, H, W) alone when
    ``anchor_snap`` is 0 (``None`` otherwise: the grid then depends on the image)."""
    if float(tcfg.anchor_snap) != 0 or tcfg.name != "greedy":
        return None
    p0 = {tuple(p) for p in raw.positions[0].tolist()}
    sizes = (max(1, round(float(tcfg.anchor_fraction) * int(tcfg.budget_points))), raw.num_points)
    return max(len(p0 & {tuple(p) for p in anchor_points(np.zeros((h, w)), k, 0.0).tolist()})
               for k in sizes) if raw.num_points else 0


def _put(out: dict, name: str, bits: float, parts_steps: tuple, error: np.ndarray, steps: int) -> None:
    out["bits"][name], (out["parts"][name], out["by_step"][name]) = bits, parts_steps
    out["error"][name], out["coded_steps"][name] = error, steps


def measure_segment(raw: Tracks, payload: bytes, variants: dict, h: int, w: int) -> dict:
    """Bits (total, per part, per coded step) and position errors of every scheme for one
    segment's selected tracks ``raw``; ``payload`` is the real encoder's; ``variants``: scheme
    name → ``TrackCoding`` (``actdiff`` first: the configured one)."""
    coding = variants["actdiff"]
    length, n = raw.num_frames, raw.num_points
    stride = int(coding.codec.trajectories.temporal_stride)
    out = {"length": length, "points": n, "coded_steps": {}, "bits": {}, "parts": {}, "by_step": {},
           "error": {}, "grid_points": grid_points(raw, coding.codec.trajectories, h, w)}
    smoothed = coding.smooth(raw)
    out["error"]["smoothing only (no quantiser)"] = _error(smoothed.positions, raw)
    out["error"]["smoothing+stride (no quantiser)"] = _error(
        upsample_tracks(subsample_tracks(smoothed, stride), length, stride).positions, raw)
    for name, cod in variants.items():
        step, coded = cod.coder.step, cod(raw)
        qx, qy = traj._grid(step, h, w)
        data = cod.coder.encode(coded, h, w)
        if name == "actdiff" and data != payload:
            raise AssertionError("re-encoding the captured tracks does not give the real payload")
        order = _raster_order(raw, coded, step, qx, qy)
        dec = upsample_tracks(coded, length, stride).positions
        back = np.empty_like(dec)
        back[:, order] = dec
        err = _error(back, raw)
        _put(out, name, 8 * len(data), actdiff_breakdown(coded, step, h, w, data, cod.coder.grid), err,
             coded.num_frames - 1)
        ref = reference_bits(_units(coded.positions, step, qx, qy), qx, qy)
        _put(out, f"reference_on_{name}", sum(ref[0].values()), ref, err, coded.num_frames - 1)
    qx, qy = traj._grid(1.0, h, w)
    q = _units(raw.positions, 1.0, qx, qy)
    ref, err = reference_bits(q, qx, qy), _error(q, raw)
    _put(out, "reference", sum(ref[0].values()), ref, err, length - 1)
    all_vis = Tracks(q.astype(np.float32), np.ones((length, n), bool), np.ones((length, n), np.float32))
    grid = coding.coder.grid  # the configured coder's frame-0 coding
    data = traj.encode_tracks(all_vis, 1.0, h, w, grid=grid)
    if not np.array_equal(traj.decode_tracks(data, length, 1.0, h, w, grid).positions,
                          q[:, np.lexsort((q[0, :, 0], q[0, :, 1]))]):
        raise AssertionError("ActDiff's coder did not reproduce the integer tracks")
    _put(out, "actdiff_int_s1", 8 * len(data), actdiff_breakdown(all_vis, 1.0, h, w, data, grid), err, length - 1)
    return out


def bench_clip(path: str, cfg, snap: float = 0.9) -> list[dict]:
    """Encode ``path`` at the cpu protocol; measure every segment that carries tracks."""
    video = load_protocol("cpu").read(path)
    captured: dict[tuple[int, int], tuple] = {}

    def capture(frames, flows, seg, *args, **kwargs):  # (tracks, bandwidth, candidates) of one segment
        # keyed by segment: the encoder's worker threads may compute segments out of order
        captured[(seg.start, seg.end)] = real(frames, flows, seg, *args, **kwargs)
        return captured[(seg.start, seg.end)]

    real = encoder._select
    with mock.patch.object(encoder, "_select", capture):
        enc = encoder.encode_video(video, cfg)
    # with codec.trajectories.decoded_choice the stream carries the candidate the decoder kept
    kept = {(r["start"], r["end"]): r["kept"] for r in enc.stats.get("decoded_choice", {}).get("segments", [])}
    for key, (tracks, bandwidth, cands) in captured.items():
        chosen = [c for c in cands if c.label == kept.get(key)]
        captured[key] = (chosen[0].tracks, chosen[0].bandwidth) if chosen else (tracks, bandwidth)
    h, w = enc.debug["header"].coded_height, enc.debug["header"].coded_width
    sections = read_bitstream(enc.data).sections
    if {(s.segment.start, s.segment.end) for s in sections} != set(captured):
        raise AssertionError(f"{len(captured)} captured track sets for {len(sections)} segments")
    codec = encoder.codec_section(cfg)
    coder = encoder.Stages.from_config(codec).coder
    variants = {name: encoder.TrackCoding(codec, c, h, w) for name, c in (
        ("actdiff", coder), ("actdiff_1px", type(coder)(step=1.0, snap=coder.snap)),
        ("actdiff_snap", type(coder)(step=coder.step, snap=snap)),
        ("actdiff_nogrid", traj.AdaptiveTrajectoryCoder(step=coder.step, snap=coder.snap)))}
    segs: list[dict] = []
    for sec in sections:
        raw, _ = captured[(sec.segment.start, sec.segment.end)]
        if sec.segment.length > 2:  # shorter segments carry no trajectories
            segs.append({"start": sec.segment.start, "end": sec.segment.end,
                         **measure_segment(raw, sec.trajectories, variants, h, w)})
    return segs


def _err_stats(errors: list[np.ndarray]) -> dict | None:
    e = np.concatenate(errors) if errors else np.zeros(0)
    return {"mean": e.mean(), "median": np.median(e), "p90": np.percentile(e, 90)} if e.size else None


def summarise(segs: list[dict]) -> dict:
    """Pooled bits per point per frame, errors, bit parts and per-step bits over ``segs``.

    ``bits_per_point_by_coded_step[k]``: bits spent on coded step ``k`` (1, 2, 3, 4+: frame-0
    positions, table and headers excluded) per point and coded step."""
    pf = sum(s["points"] * (s["length"] - 1) for s in segs)
    pts = sum(s["points"] for s in segs)
    grid = [s for s in segs if s["grid_points"] is not None and s["grid_points"] == s["points"] > 0]
    out = {"segments": len(segs), "points": pts, "point_frames": pf,
           "mean_segment_length": float(np.mean([s["length"] for s in segs])) if segs else None,
           "points_on_anchor_grid": None if any(s["grid_points"] is None for s in segs)
           else sum(s["grid_points"] for s in segs),
           "pure_grid_segments": len(grid),  # all points on the anchor grid of N
           "actdiff_first_frame_bits_of_pure_grid_segments": sum(s["parts"]["actdiff"]["first_frame"] for s in grid),
           "error_without_quantiser_px": {k: _err_stats([s["error"][k] for s in segs]) for k in
                                          ("smoothing only (no quantiser)", "smoothing+stride (no quantiser)")},
           "schemes": {}}
    for name in SCHEMES:
        bits = sum(s["bits"][name] for s in segs)
        parts: dict[str, float] = defaultdict(float)
        step_bits: dict[str, float] = defaultdict(float)
        step_n: dict[str, int] = defaultdict(int)
        for s in segs:
            for k, v in s["parts"][name].items():
                parts[k] += v
            for k in range(1, s["coded_steps"][name] + 1):
                key = str(k) if k < 4 else "4+"
                step_bits[key] += s["by_step"][name].get(k, 0.0)
                step_n[key] += s["points"]
        out["schemes"][name] = {
            "bits": bits, "bits_per_point_per_frame": bits / pf if pf else None,
            "error_px": _err_stats([s["error"][name] for s in segs]),
            "parts_bits": dict(parts),
            "parts_bits_per_point_per_frame": {k: v / pf for k, v in parts.items()} if pf else None,
            "parts_bits_per_point": {k: v / pts for k, v in parts.items()} if pts else None,
            "bits_per_point_by_coded_step": {k: step_bits[k] / step_n[k] for k in step_n if step_n[k]},
        }
    return out


def print_report(clips: dict[str, dict], overall: dict) -> None:
    """Markdown tables: rate (error) per clip and scheme, then the overall bit parts."""
    rows = {**{Path(k).name: v for k, v in clips.items()}, "**overall**": overall}
    print("bits per point per frame (mean position error, px)\n")
    print("| clip | segs | mean len | " + " | ".join(SCHEMES) + " |\n|---|---|---|" + "---|" * len(SCHEMES))
    for name, s in rows.items():
        cells = [f"{s['schemes'][k]['bits_per_point_per_frame']:.2f} ({s['schemes'][k]['error_px']['mean']:.2f})"
                 for k in SCHEMES]
        print(f"| {name} | {s['segments']} | {s['mean_segment_length']:.1f} | " + " | ".join(cells) + " |")
    print(f"\nerror without the quantiser: {json.dumps(overall['error_without_quantiser_px'])}\nframe-0 "
          f"points on the deterministic anchor grid: {overall['points_on_anchor_grid']} of {overall['points']}; "
          f"{overall['pure_grid_segments']} of {overall['segments']} segments are the pure grid, their frame-0 "
          f"positions cost actdiff {overall['actdiff_first_frame_bits_of_pure_grid_segments']:.0f} bits")
    for name in SCHEMES:
        s = overall["schemes"][name]
        print(f"\n{name}: {s['bits_per_point_per_frame']:.3f} b/pt/fr; error {json.dumps(s['error_px'])}")
        print("  parts (b/pt/fr): " + ", ".join(
            f"{k} {v:.3f} ({100 * s['parts_bits'][k] / s['bits']:.0f}%)"
            for k, v in sorted(s["parts_bits_per_point_per_frame"].items(), key=lambda kv: -kv[1])))
        print(f"  first-frame bits per point: {s['parts_bits_per_point']['first_frame']:.2f}; bits per point "
              f"by coded step: " + ", ".join(f"{k}: {v:.2f}" for k, v in s["bits_per_point_by_coded_step"].items()))
    print(f"\nratios of total bits: {json.dumps(overall['ratios'], indent=1)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*", help="video files (default: the evaluation clips present)")
    p.add_argument("-o", "--output", help="results JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--snap", type=float, default=0.9, help="entropy.snap of the actdiff_snap scheme (steps)")
    args = p.parse_args()
    refuse_outputs(p, [args.output], args.overwrite)
    clips_in = args.clips or [c for pat in DEFAULT_CLIPS for c in sorted(glob.glob(pat))]
    if not clips_in:
        raise SystemExit("no clips found")
    cfg = compose(None, [])
    t0 = time.perf_counter()
    per_clip, all_segs = {}, []
    for c in clips_in:
        segs = bench_clip(c, cfg, args.snap)
        per_clip[c] = {**summarise(segs), "segment_detail": [
            {k: s[k] for k in ("start", "end", "length", "points", "grid_points", "bits")} for s in segs]}
        all_segs += segs
        print(f"{c}: {len(segs)} segments", flush=True)
    overall = summarise(all_segs)
    sch = overall["schemes"]
    overall["ratios"] = {f"{a}/{b}": sch[a]["bits"] / sch[b]["bits"] for a, b in (
        ("actdiff", "reference_on_actdiff"), ("actdiff_int_s1", "reference"), ("actdiff", "reference"),
        ("actdiff_1px", "reference_on_actdiff_1px"), ("actdiff_1px", "reference"),
        ("actdiff_snap", "actdiff"), ("actdiff_snap", "reference"), ("actdiff", "actdiff_nogrid"))}
    print_report(per_clip, overall)
    result = {
        "benchmark": "trajectory_coding", "protocol": "cpu", "machine": machine(), "versions": versions(),
        "seconds": time.perf_counter() - t0, "snap": args.snap,
        "codec_config": OmegaConf.to_container(cfg.codec, resolve=True),
        "rate_unit": "bits / (points x (segment length - 1)), pooled over segments",
        "error_unit": "mean Euclidean px vs the unquantised selected tracks, visible point-frames",
        "clips": per_clip, "overall": overall,
    }
    print(f"\nmachine: {result['machine']}")
    if args.output:
        atomic_write_text(args.output, json.dumps(result, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
