"""Lightning training of the diffusion decoder."""

from actdiff.training.datamodule import VideoClipDataModule, codec_segment_source
from actdiff.training.module import ConditionalDenoiser

__all__ = ["ConditionalDenoiser", "VideoClipDataModule", "codec_segment_source"]
