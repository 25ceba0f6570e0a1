"""Generative decoder models (registry: ``actdiff.registry.MODELS``)."""

from actdiff.models.denoiser import ControlledDenoiser
from actdiff.models.presets import build_model
from actdiff.models.sampling import (
           make_sampler,
           make_train_scheduler,
           sample,
           segment_noise,
)

__all__ = ["ControlledDenoiser", "build_model", "make_sampler", "make_train_scheduler", "sample",
           "segment_noise"]
