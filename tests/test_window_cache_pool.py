"""The training cache's encoder processes use one core each (``build_cache`` with workers > 1),
and the windows they make are those of the in-process build (the encoder's threads do not change
the stream)."""

import cv2
import numpy as np
import pytest
from conftest import moving_texture

from actdiff.config import compose
from actdiff.training.augment import WindowSpec
from actdiff.training.corpus import Clip
from actdiff.training.datamodule import codec_segment_source
from actdiff.training.window_cache import WindowTask, build_cache, load_record
from actdiff.types import Video


def one_core_source(video, cfg):
    """A picklable segment source (the real codec) that fails unless it runs on one core."""
    if cfg.threads != 1 or cv2.getNumThreads() != 1:
        raise AssertionError(f"an encoder process with codec.threads={cfg.threads} and "
                             f"{cv2.getNumThreads()} OpenCV threads")
    return codec_segment_source(video, cfg)


def configured_source(video, cfg):
    """The same in this process: the config's encoder threads."""
    if cfg.threads != 2:
        raise AssertionError(f"codec.threads={cfg.threads} in the building process (config: 2)")
    return codec_segment_source(video, cfg)


@pytest.mark.serial
def test_cache_processes_encode_on_one_core_each(tmp_path):
    cfg = compose(None, ["codec.threads=2"])
    clip = Clip("moving", video=Video(moving_texture(16), 25.0, "moving"))
    tasks = [WindowTask(clip, "train", i, 2) for i in range(2)]
    spec = WindowSpec(size=None, window_frames=12, quality_range=(20, 20), seed=3)
    pooled = build_cache(tasks, spec, cfg.codec, tmp_path / "pool", source=one_core_source, workers=2)
    alone = build_cache(tasks, spec, cfg.codec, tmp_path / "one", source=configured_source, workers=1)
    assert [e["spans"] for e in pooled] == [e["spans"] for e in alone]
    for t in tasks:
        a, b = load_record(tmp_path / "pool", t.name), load_record(tmp_path / "one", t.name)
        np.testing.assert_array_equal(a.frames, b.frames)
        for sa, sb in zip(a.segments, b.segments):
            np.testing.assert_array_equal(sa.key_start, sb.key_start)
            np.testing.assert_array_equal(sa.tracks.positions, sb.tracks.positions)
