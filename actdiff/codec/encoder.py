"""The encoder: ``encode_video`` turns a clip into one self-contained ``.adv`` bitstream.

Fast mode (the default, ``codec.mode: fast``), per video: padding to the coded size → pairwise
flows (once) → segments/keyframes by the content-adaptive heuristic → per segment: dense motion
→ budgeted trajectory selection → temporal smoothing, subsampling, quantisation and entropy
coding → keyframe coding → bitstream (:mod:`actdiff.codec.encoding`). ``codec.mode: rd`` hands
the decisions to the rate–distortion-optimised search of :mod:`actdiff.codec.rdo`.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
from omegaconf import DictConfig

from actdiff.codec.encoding import (  # noqa: F401  (re-exported: the encoder's public pieces)
    Prepared,
    SegmentPlan,
    Stages,
    TrackCoding,
    _segment_tracks,
    check_size,
    codec_section,
    encode_stats,
    pairwise_flows,
    prepare,
    prepare_codec,
    stream_params,
    write_stream,
)
from actdiff.codec.keyframe_chain import carried_keyframes
from actdiff.codec.schema import check_codec_config
from actdiff.errors import ConfigError
from actdiff.progress import bar
from actdiff.registry import KEYFRAME_SELECTORS, TRAJECTORY_SELECTORS
from actdiff.types import EncodeResult, Segment, Video

#: Encoder modes (``codec.mode``).
MODES = ("fast", "rd")


def encode_video(
    video: Video, cfg: DictConfig, flows: Optional[Tuple[np.ndarray, np.ndarray]] = None
) -> EncodeResult:
    """Encode ``video`` (frames ``uint8 (T, H, W, 3)``) into one self-contained bitstream.

    Args:
        video: the clip at the size it is to be coded (resize beforehand if wanted).
        cfg: a composed config holding a ``codec`` section, or the section itself. With
            ``codec.mode: rd`` the rate–distortion-optimised encoder
            (:func:`actdiff.codec.rdo.encode_rd`) makes the decisions instead of the heuristics.
        flows: optional precomputed ``tracker.pairwise_flows`` of the padded frames (see
            :func:`pairwise_flows`), so that re-encoding the same clip with other rate settings
            (rate control) skips the flow analysis; computed here when ``None``.

    Returns:
        ``EncodeResult`` with the file's bytes, its statistics (``bpp`` counted at the display
        size) and, in ``debug``, the decoded segments exactly as ``decode_segments`` rebuilds them.
    """
    codec = check_codec_config(codec_section(cfg))   # one-line errors before any work
    mode = str(codec.get("mode") or "fast")
    if mode not in MODES:
        raise ConfigError(f"codec.mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "rd":
        from actdiff.codec.rdo import encode_rd

        return encode_rd(video, codec, flows=flows)
    prep = prepare(video, codec, flows)
    frames, stages = prep.frames, prep.stages
    coded_h, coded_w = prep.coded_size
    select_segments = KEYFRAME_SELECTORS.get(codec.keyframes.name)
    segments: List[Segment] = select_segments(frames, stages.tracker, codec.keyframes, flows=prep.flows)
    select_tracks = TRAJECTORY_SELECTORS.get(codec.trajectories.name)
    plans: List[SegmentPlan] = []
    with bar(len(segments), "encode segments", unit="seg", leave=False) as pbar:
        for i, seg in enumerate(segments):
            payloads = [stages.image_codec.encode(frames[f]) for f in carried_keyframes(i, seg)]
            keys = [stages.image_codec.decode(p, coded_h, coded_w) for p in payloads]
            tracks, bandwidth = _segment_tracks(frames, prep.flows, seg, codec, prep.coding, select_tracks)
            plans.append(SegmentPlan(seg, payloads, keys, prep.coding(tracks), bandwidth))
            pbar.update(1)
    return write_stream(prep, codec, plans)


__all__ = ["MODES", "encode_video", "pairwise_flows"]
