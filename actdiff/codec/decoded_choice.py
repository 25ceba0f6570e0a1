"""The decoder chooses each segment's trajectories (fast mode, ``codec.trajectories.decoded_choice``).

The selector's objective (:class:`actdiff.selection.decoder_error.Problem`) ranks the point sets it
weighs only loosely as the decoder does: over 68 segments of training clips it picked the set that
decodes best in 29, and the best candidate decoded 0.36 dB above the stream
(``benchmarks/results/selector_candidates_decode/``, docs/video_interface.md). Here every candidate
of :func:`actdiff.selection.trajectories.candidate_sets` (the greedy refinements from each anchor
fraction, the grid) is coded as the stream codes tracks (smoothing, the stream's stride,
quantisation), decoded by the warp decoder as configured by default (what ``actdiff decode
--decoder warp`` and the diffusion decoder's prediction start from) with the segment's decoded
keyframes, at ``decoded_choice_frames`` evenly spaced in-between frames, and scored

    score = ((1 − τ) · mean_t D(t) + τ · mean_t T(t)) · (F + ε)^w,
    τ = ``decoded_choice_temporal`` ∈ [0, 1], w = ``decoded_choice_flow`` ≥ 0, ε = 0.01 px

with ``D`` the RD mode's distortion (:class:`actdiff.codec.distortion.Distortion`,
``codec.rd.distortion``: multi-scale PSNR and GMSD, chosen for its agreement with VMAF NEG) of the
decoded frame ``t`` and ``T`` the temporal term on the same scale, ``1 − PSNR(Δ̂, Δ) / 50`` of the
luma change from frame ``t`` to ``t + 1`` (the next decoded frame, or the decoded end keyframe),
decoded ``Δ̂`` against the source's ``Δ``: a flicker, a ghost fading in and out or an object stuck
in place changes the frames unlike the source does. ``F`` is the flicker as
:func:`actdiff.metrics.temporal.tof` measures it, over the pairs ``(t, t + 1)``: the mean difference
(px) of the optical flow between consecutive decoded frames and that between the source's. ``D``
separates candidates by about 1 % where their tOF differs by tens of per cent (vtest r0:
``experiments/choice_profile.py``): ``(F + ε)^w`` weighs a relative change of ``F`` ``w`` times as
much as one of ``D``. The lowest score wins; a tie keeps the objective's choice (the first
candidate). The candidates' sizes are not weighed: at a point
budget they carry the same number of points, at a bit budget each fits it.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Tuple

import numpy as np
from omegaconf import DictConfig

from actdiff.codec.distortion import PSNR_CEILING, Distortion, luma, psnr
from actdiff.codec.keyframe_chain import KeyframeChain
from actdiff.codec.rd_segments import eval_frames, loop_header
from actdiff.codec.rd_settings import rd_distortion
from actdiff.decoders import build_decoder
from actdiff.metrics.temporal import tof
from actdiff.motion.temporal import upsample_tracks
from actdiff.selection.trajectories import Candidate
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks

log = logging.getLogger(__name__)

#: ``ε`` (px) of the flicker factor ``(F + ε)^w``: a static segment decoded still (``F = 0``) keeps a finite score.
FLOW_EPS = 0.01


def temporal_term(src: Tuple[np.ndarray, np.ndarray], rec: Tuple[np.ndarray, np.ndarray]) -> float:
    """``T ∈ [0, 1]``: ``1 − PSNR(Δ̂, Δ) / 50`` of the luma change between two frames, decoded
    ``rec`` against source ``src`` (each a pair of RGB ``uint8 (H, W, 3)``); 0 when they change alike."""
    d_src = luma(src[1]) - luma(src[0])
    d_rec = luma(rec[1]) - luma(rec[0])
    return 1.0 - psnr(d_src, d_rec) / PSNR_CEILING


class DecodedChoice:
    """Scores candidate trajectory sets by decoding them (module docstring).

    Args:
        frames: the source frames ``uint8 (T, Hc, Wc, 3)`` at the coded size (``Prepared.frames``).
        header: the stream's header fields the decoder reads (sizes, seed).
        coding: the stream's :class:`actdiff.codec.encoding.TrackCoding` (at its final stride).
        distortion: ``D``; frames: in-between frames scored per segment; temporal: ``τ``; flow: ``w``.
    """

    def __init__(self, frames: np.ndarray, header: StreamHeader, coding: Any, distortion: Distortion,
                 frames_per_segment: int = 8, temporal: float = 0.0, decoder: Any = "warp", flow: float = 0.0) -> None:
        self.frames, self.header, self.coding, self.distortion = frames, header, coding, distortion
        self.most, self.temporal, self.flow = int(frames_per_segment), float(temporal), float(flow)
        self.stride = int(coding.codec.trajectories.temporal_stride)
        self.decoder = build_decoder(decoder)

    def coded(self, cand: Candidate) -> Tracks:
        """``cand``'s trajectories as the stream would carry them (smoothed, strided, quantised)."""
        return self.coding(cand.tracks)

    def score(self, seg: Segment, keys: Tuple[np.ndarray, np.ndarray], coded: Tracks, bandwidth: float) -> float:
        """The score of coded tracks ``coded`` in segment ``seg`` between decoded keyframes ``keys``."""
        return self.score_decoded(DecodedSegment(seg, keys[0], keys[1], upsample_tracks(coded, seg.length, self.stride),
                                                 bandwidth))

    def score_decoded(self, dseg: DecodedSegment) -> float:
        """The score of a segment as the decoder gets it (its tracks at every frame)."""
        seg = dseg.segment
        ts = eval_frames(seg.length, 1, self.most)
        if len(ts) == 0:
            return 0.0
        pairs = self.temporal > 0 or self.flow > 0
        wanted = sorted(set(ts) | ({t + 1 for t in ts if t + 1 < seg.length - 1} if pairs else set()))
        rec = dict(zip(wanted, self.decoder.decode_frames(self.header, dseg, wanted)))
        rec[seg.length - 1] = dseg.key_end
        src = self.frames[seg.start:seg.end + 1]
        score = float(np.mean([self.distortion.frame(src[t], rec[t]) for t in ts]))
        if self.temporal > 0:
            tt = float(np.mean([temporal_term((src[t], src[t + 1]), (rec[t], rec[t + 1])) for t in ts]))
            score = (1.0 - self.temporal) * score + self.temporal * tt
        if self.flow > 0:
            f = float(np.mean([tof(src[t:t + 2], np.stack([rec[t], rec[t + 1]])) for t in ts]))
            score *= (f + FLOW_EPS) ** self.flow
        return score

    def score_candidate(self, seg: Segment, keys: Tuple[np.ndarray, np.ndarray], cand: Candidate) -> float:
        """The score of candidate ``cand`` coded as the stream would carry it."""
        return self.score(seg, keys, self.coded(cand), cand.bandwidth)


def choose_by_decoding(choice: DecodedChoice, chosen: List[tuple], pool: Any) -> Dict[str, Any]:
    """Replace, in place, each entry ``(segment, decoded keyframes, tracks, bandwidth, candidates)``
    of ``chosen`` (in stream order) by the candidate of least score (the first on a tie); returns the
    statistics for ``stats["decoded_choice"]``: per segment (coded-frame indices, as the bitstream's
    sections) the labels, scores and the kept label. ``pool.submit(fn, *args)`` runs the scoring
    (the encoder's workers: every score depends only on its candidate, so the choice is the same for
    any number of threads)."""
    chain, jobs = KeyframeChain(), []
    for i, (seg, decoded, _, _, cands) in enumerate(chosen):
        keys = chain.link(seg, decoded)
        if len(cands) >= 2 and seg.length > 2:
            jobs.append((i, [pool.submit(choice.score_candidate, seg, keys, c) for c in cands]))
    rows = []
    for i, futures in jobs:
        seg, decoded, _, _, cands = chosen[i]
        scores = [f.result() for f in futures]
        best = int(np.argmin(scores))
        rows.append({"start": seg.start, "end": seg.end, "labels": [c.label for c in cands],
                     "scores": [round(s, 6) for s in scores], "kept": cands[best].label})
        if best:
            log.info("segment %d-%d: the decoder keeps %s over the objective's %s (score %.4f < %.4f)",
                     seg.start, seg.end, cands[best].label, cands[0].label, scores[best], scores[0])
            chosen[i] = (seg, decoded, cands[best].tracks, cands[best].bandwidth, cands)
    return {"segments": rows, "changed": sum(r["kept"] != r["labels"][0] for r in rows)}


def decoded_choice_on(codec: DictConfig) -> bool:
    """Whether ``codec.trajectories.decoded_choice`` is set."""
    return bool(codec.trajectories.get("decoded_choice", False))


def for_stream(prep: Any, codec: DictConfig) -> DecodedChoice:
    """The :class:`DecodedChoice` of a prepared clip (:class:`actdiff.codec.encoding.Prepared`, its
    ``coding`` at the stream's stride) and ``codec`` section: ``codec.rd.distortion`` and the
    ``decoded_choice_*`` keys of ``codec.trajectories``."""
    t = codec.trajectories
    return DecodedChoice(prep.frames, loop_header(prep, int(codec.seed)), prep.coding, rd_distortion(codec),
                         int(t.get("decoded_choice_frames", 8)), float(t.get("decoded_choice_temporal", 0.0)),
                         flow=float(t.get("decoded_choice_flow", 0.0)))


__all__ = ["DecodedChoice", "choose_by_decoding", "decoded_choice_on", "for_stream", "temporal_term"]
