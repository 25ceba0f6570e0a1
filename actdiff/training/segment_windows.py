"""Training items for the segment-level video generators: whole segments cut into the generator's windows.

The records are those of the corpus pipeline (:mod:`actdiff.training.window_cache`: what the REAL
codec decoded for each cached window); this module only chooses the items differently from
:class:`~actdiff.training.window_datasets.WindowDataset`. A generator with a frame-count rule (the
paper model: ``T = 8k + 1 ≤ 49``, always 49 with CogVideoX-5B's learned positions) sees each segment
as the decoder sees it: :func:`actdiff.models.generator.plan_windows` cuts a segment of ``L`` frames
into windows, a short segment is padded by repeating frame ``L - 1`` (the end keyframe), and the
conditions are :func:`actdiff.conditioning.build_window_conditions` — the ONE function the decoder
uses — so the keyframes sit at the window's ends exactly as at decoding.

Items (layout ``full``, ``float32``): ``{"target": (T, 3, h, w) in [-1, 1], "cond": (T, 30, h, w),
"frames": int64 (T,) segment-relative indices, "length": int64 () L, "mask": (T,) 1 for a frame's first
occurrence}``; layout ``latent``: ``target`` and ``cond`` ``uint8``, ``cond`` the 7 channels a latent
generator reads (:data:`LAYOUTS`).
Every window is padded to the generator's LONGEST window (so items batch together; the decoder pads
to the shortest valid length, the same for CogVideoX-5B).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset

from actdiff.conditioning.segment import build_window_conditions
from actdiff.errors import ConfigError
from actdiff.models.generator import WindowSpec, plan_windows
from actdiff.models.latent_video import USED_GROUPS, compact_conditions, quantize_compact
from actdiff.training.datamodule import VideoClipDataModule
from actdiff.training.window_datasets import _crop_box, _target, _WindowItems

#: ``full``: float items with all 30 condition channels; ``latent``: ``uint8`` items with the 7 channels
#: a latent generator reads (:data:`actdiff.models.latent_video.LATENT_CHANNELS`) and ``uint8`` targets
#: ``(T, 3, h, w)`` — what the tracking-branch trainer loads (converted on the GPU).
LAYOUTS = ("full", "latent")


class SegmentWindowDataset(_WindowItems):
    """Args: those of :class:`~actdiff.training.window_datasets.WindowDataset` (no ``clip_frames``), plus
        spec: the generator's :class:`~actdiff.models.generator.WindowSpec`.
        overlap: frames shared by consecutive windows of a long segment (the decoder's ``overlap``).
        depth: a local ``transformers`` depth model folder for the tracking video (off: ``None``).
    """

    def __init__(self, folder: Path, entries: Sequence[dict[str, Any]], crop: Sequence[int] | None, train: bool,
                 spec: WindowSpec, overlap: int = 4, bidirectional: bool = True, depth: str | None = None,
                 layout: str = "full") -> None:
        super().__init__(folder, entries, crop, train, bidirectional)
        if layout not in LAYOUTS:
            raise ConfigError(f"unknown window layout {layout!r} (known: {', '.join(LAYOUTS)})")
        self.spec, self.depth_folder, self._depth, self.layout = spec, depth, None, layout
        self.windows: list[list[int]] = []
        longest = spec.longest()
        for e, entry in enumerate(self.entries):
            for s, (a, b) in enumerate(entry["spans"]):
                length = b - a + 1
                if length < 3:                 # nothing between the keyframes to learn
                    continue
                for frames in plan_windows(length, spec, overlap):
                    self.index.append((e, s, frames[0]))
                    self.windows.append(frames + [frames[-1]] * (longest - len(frames)))

    def _depth_map(self, seg: Any) -> np.ndarray | None:
        if not self.depth_folder:
            return None
        if self._depth is None:  # one model per DataLoader worker, on the CPU
            from actdiff.models.depth import DepthEstimator

            self._depth = DepthEstimator(self.depth_folder, device="cpu")
        return self._depth(seg.key_start)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rec, seg, _, valid = self._segment(i)
        frames = self.windows[i]
        latent = self.layout == "latent"
        cond = build_window_conditions(seg, frames, self.bidirectional, depth=self._depth_map(seg),
                                       groups=USED_GROUPS if latent else None)
        y, x, ch, cw = _crop_box(valid, self.crop, self.train)
        start = seg.segment.start
        first = [k == 0 or frames[k] != frames[k - 1] for k in range(len(frames))]
        cond = torch.from_numpy(np.ascontiguousarray(cond[:, :, y:y + ch, x:x + cw]))
        pixels = rec.frames[[start + t for t in frames]]
        if latent:
            cond = quantize_compact(compact_conditions(cond))
            target = torch.from_numpy(np.ascontiguousarray(pixels[:, y:y + ch, x:x + cw])).permute(0, 3, 1, 2)
        else:
            target = _target(pixels, y, x, ch, cw)
        return {"cond": cond, "target": target,
                "frames": torch.tensor(frames, dtype=torch.int64),
                "length": torch.tensor(seg.segment.length, dtype=torch.int64),
                "mask": torch.tensor(first, dtype=torch.float32)}


class SegmentWindowDataModule(VideoClipDataModule):
    """:class:`~actdiff.training.datamodule.VideoClipDataModule` (same clips, split, augmentation and
    cache of the real codec's output) serving :class:`SegmentWindowDataset` items for a generator.

    Args: those of the parent, plus ``spec`` (the generator's window rule). ``data.item`` must be
    ``windows``; ``data.window_overlap`` (default 4) and ``data.depth_model`` (default off) apply.
    """

    def __init__(self, data_cfg: DictConfig, codec_cfg: DictConfig, spec: WindowSpec, layout: str = "full",
                 **kwargs: Any) -> None:
        super().__init__(data_cfg, codec_cfg, **kwargs)
        if self.item != "windows":
            raise ConfigError(f"a video generator trains on window items: set data.item=windows (got {self.item!r})")
        self.generator_spec, self.layout = spec, layout

    def _dataset(self, entries: Sequence[dict], train: bool) -> Dataset:
        d = self.data_cfg
        return SegmentWindowDataset(self.cache, entries, d.get("crop"), train, self.generator_spec,
                                    int(d.get("window_overlap", 4)), bool(d.get("bidirectional", True)),
                                    d.get("depth_model"), self.layout)
