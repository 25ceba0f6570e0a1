"""How each candidate of the decoded choice decodes at EVERY frame of a segment: a looking tool, it chooses nothing.

The fast encoder's decoded choice (``trajectories.decoded_choice``, :mod:`actdiff.codec.decoded_choice`)
scores each segment's candidate trajectory sets on ``decoded_choice_frames`` (8) evenly spaced
in-between frames. This encodes one clip at one rate point (cpu protocol, the evaluated default
config plus ``--set`` overrides), keeps the candidates the encoder weighed (read through a wrapper of
the encoder's ``choose_by_decoding``; the stream is the encoder's own), decodes every in-between frame
of the ``--segments`` (default: the longest) with each candidate by the warp decoder and prints per
candidate: the choice's score (8 frames), the mean RD distortion ``D`` over all frames and over
their first / middle / last third, the temporal term ``T`` (:func:`actdiff.codec.decoded_choice.temporal_term`)
over all frames, the segment's tOF and warping error (:mod:`actdiff.metrics.temporal`, with the decoded
keyframes at both ends) and the mean absolute error. Which candidate each measure would pick is
what a better choice has to agree with.

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/choice_profile.py data/opencv_samples/vtest.avi --rate r0 \\
        -o out.json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

import actdiff.codec.encoder as encoder_module
from actdiff.codec.decoded_choice import temporal_term
from actdiff.codec.keyframe_chain import KeyframeChain
from actdiff.data import load_protocol
from actdiff.evaluation.rates import encode_at_point
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.metrics.temporal import tof, warping_error
from actdiff.motion.temporal import upsample_tracks
from actdiff.types import DecodedSegment


def capture_candidates(video: Any, rate: str, overrides: List[str]) -> tuple:
    """Encode ``video`` at ``rate``; returns ``(result, choice, chosen)`` as the encoder's
    ``choose_by_decoding`` saw them (``chosen``: per segment ``(segment, decoded keyframes, tracks,
    bandwidth, candidates)``, after the choice)."""
    seen: Dict[str, Any] = {}
    real = encoder_module.choose_by_decoding

    def spy(choice: Any, chosen: list, pool: Any) -> Dict[str, Any]:
        stats = real(choice, chosen, pool)
        seen.update(choice=choice, chosen=list(chosen))
        return stats

    encoder_module.choose_by_decoding = spy
    try:
        result = encode_at_point(video, rate, overrides=overrides)
    finally:
        encoder_module.choose_by_decoding = real
    if "choice" not in seen:
        raise SystemExit("error: the encoder made no decoded choice (trajectories.decoded_choice is off?)")
    return result, seen["choice"], seen["chosen"]


def profile_candidate(choice: Any, seg: Any, keys: tuple, cand: Any) -> Dict[str, Any]:
    """Every in-between frame of ``seg`` decoded with candidate ``cand``, measured against the source."""
    coded = choice.coded(cand)
    dseg = DecodedSegment(seg, keys[0], keys[1], upsample_tracks(coded, seg.length, choice.stride), cand.bandwidth)
    rec = choice.decoder.decode_frames(choice.header, dseg, range(seg.length))
    src = choice.frames[seg.start:seg.end + 1]
    inner = range(1, seg.length - 1)
    d = np.array([choice.distortion.frame(src[t], rec[t]) for t in inner])
    tt = np.array([temporal_term((src[t], src[t + 1]), (rec[t], rec[t + 1])) for t in inner])
    thirds = np.array_split(d, 3)
    return {"label": cand.label, "points": int(cand.tracks.num_points),
            "choice_score": choice.score_candidate(seg, keys, cand),
            "d_all": float(d.mean()), "d_thirds": [float(x.mean()) for x in thirds], "t_all": float(tt.mean()),
            "tof": tof(src, rec), "warping_error": warping_error(src, rec),
            "mae": float(np.abs(rec.astype(np.float64) - src).mean())}


def main(argv: List[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--rate", default="r0")
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--segments", type=int, nargs="*", help="segment indices (default: the longest)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("-o", "--output")
    args = p.parse_args(argv)
    if args.output and Path(args.output).exists():
        raise SystemExit(f"error: {args.output} exists; not overwritten")
    video = replace(load_protocol("cpu"), max_frames=args.frames).read(args.clip)
    result, choice, chosen = capture_candidates(video, args.rate, args.set)
    chain = KeyframeChain()
    keys_of = [chain.link(seg, decoded) for seg, decoded, *_ in chosen]
    wanted = args.segments or [int(np.argmax([c[0].length for c in chosen]))]
    rows = []
    for i in wanted:
        seg, _, tracks, _, cands = chosen[i]
        kept = next((c.label for c in cands if c.tracks is tracks), "?")
        cols = [profile_candidate(choice, seg, keys_of[i], c) for c in cands]
        picks = {m: cols[int(np.argmin([c[m] for c in cols]))]["label"]
                 for m in ("choice_score", "d_all", "t_all", "tof", "warping_error", "mae")}
        rows.append({"segment": [seg.start, seg.end], "objective": cands[0].label, "kept": kept,
                     "candidates": cols, "picks": picks})
        print(f"segment {seg.start}-{seg.end} ({seg.length} frames): objective {cands[0].label}, kept {kept}")
        for c in cols:
            print(f"  {c['label']:12s} pts={c['points']:3d} score8={c['choice_score']:.4f} D={c['d_all']:.4f} "
                  f"thirds={' '.join(f'{x:.4f}' for x in c['d_thirds'])} T={c['t_all']:.4f} tOF={c['tof']:.4f} "
                  f"werr={c['warping_error']:.5f} mae={c['mae']:.2f}")
        print("  picks: " + ", ".join(f"{m} -> {lab}" for m, lab in picks.items()))
    if args.output:
        doc = {"clip": args.clip, "rate": args.rate, "frames": args.frames, "set": args.set,
               "bpp": result.stats["bpp"], "segments": rows, "machine": machine()}
        atomic_write_text(Path(args.output), json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
