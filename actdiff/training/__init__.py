"""Lightning training of the diffusion decoder (data pipeline: :mod:`actdiff.training.datamodule`)."""

from actdiff.training.datamodule import VideoClipDataModule, codec_segment_source
from actdiff.training.module import ConditionalDenoiser
from actdiff.training.window_datasets import PairDataset, WindowDataset

__all__ = ["ConditionalDenoiser", "PairDataset", "VideoClipDataModule", "WindowDataset", "codec_segment_source"]
