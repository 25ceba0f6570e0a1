"""Datasets, evaluation protocols and the bundled sample clip.

Public API::

    load_dataset(cfg_or_path, *, root=None, sequences=None, check=True) -> Dataset
    load_protocol(name_or_cfg) -> Protocol
    sample_clip_path() -> Path
    load_sample_clip(max_frames=None) -> Video

(Lightning datamodules for training live in ``actdiff.training``.)
"""

from actdiff.data.datasets import Dataset, Sequence, folder_dataset, load_dataset
from actdiff.data.protocols import Protocol, load_protocol
from actdiff.data.sample import load_sample_clip, sample_clip_path

__all__ = [
           "Dataset",
           "Protocol",
           "Sequence",
           "folder_dataset",
           "load_dataset",
           "load_protocol",
           "load_sample_clip",
           "sample_clip_path",
]
