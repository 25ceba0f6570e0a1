"""The public Python API (``actdiff.encode`` / ``actdiff.decode``): the inputs it accepts, and bad
input as one exception of the library's own types (never a silent default)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import moving_texture

import actdiff
from actdiff.errors import ActDiffError, BitstreamError, ConfigError, InputError


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return moving_texture(8, 64, 96)


@pytest.fixture(scope="module")
def enc(clip):
    return actdiff.encode(clip, fps=25.0)


def test_encode_an_array_and_decode_bytes_result_or_path_alike(clip, enc, tmp_path):
    assert isinstance(enc, actdiff.EncodeResult) and enc.stats["frames"] == 8
    path = tmp_path / "c.adv"
    path.write_bytes(enc.data)
    frames = [actdiff.decode(x).frames for x in (enc, enc.data, path, str(path))]
    assert frames[0].shape == clip.shape and frames[0].dtype == np.uint8
    for f in frames[1:]:
        np.testing.assert_array_equal(f, frames[0])  # one stream, one decode, whatever the container


def test_float_array_in_unit_range_codes_as_its_uint8_twin(clip):
    a = actdiff.encode(clip, fps=25.0).data
    b = actdiff.encode(clip.astype(np.float32) / 255.0, fps=25.0).data
    assert a == b


def test_float_frames_outside_the_unit_range_are_refused_not_clipped(clip, monkeypatch):
    """Floats in [0, 255] (a common slip) were clipped to [0, 1]: an almost white clip, coded without a word."""
    import actdiff.api as api

    monkeypatch.setattr(api, "encode_with_rate_control", lambda *a, **k: pytest.fail("coded before the check"))
    for bad in (clip.astype(np.float32), clip / 255.0 - 0.2):
        with pytest.raises(InputError, match=r"float frames must lie in \[0, 1\]"):
            actdiff.encode(bad)


def test_half_precision_tensors_are_frames_too(clip):
    """A bfloat16/float16 ``(T, 3, H, W)`` tensor (a model's output) failed in NumPy with a TypeError."""
    import torch

    from actdiff.io.convert import as_video

    t = torch.from_numpy(clip / 255.0).permute(0, 3, 1, 2)
    for dtype in (torch.bfloat16, torch.float16):
        frames = as_video(t.to(dtype)).frames
        assert frames.dtype == np.uint8 and np.abs(frames.astype(int) - clip).max() <= 1


def test_pipeline_settings_and_describe_input_are_checked_up_front(enc):
    """An unknown pipeline setting failed only at the first encode; describe(bytes) was an AttributeError."""
    with pytest.raises(ConfigError, match="codec.no_such_key"):
        actdiff.ActDiffPipeline(no_such_key=1)
    with pytest.raises(InputError, match="describe needs the EncodeResult"):
        actdiff.describe(enc.data)
    assert "bpp" in actdiff.describe(enc)


@pytest.mark.parametrize("bad,error", [(b"junk", BitstreamError), ("nosuch.adv", InputError), (123, InputError)])
def test_decode_bad_input_raises_the_librarys_own_error(bad, error):
    with pytest.raises(error) as e:
        actdiff.decode(bad)
    assert isinstance(e.value, ActDiffError) and "\n" not in str(e.value)


def test_diffusion_options_with_the_warp_decoder_are_refused_not_ignored(enc):
    for kwargs in ({"weights": "w"}, {"steps": 4}, {"decoder": {"name": "warp"}, "strength": 0.5}):
        with pytest.raises(ConfigError, match="the warp decoder has none"):
            actdiff.decode(enc, **kwargs)
    assert actdiff.decode(enc, bidirectional=False).frames.shape[0] == 8  # its own options still apply


def test_encode_refuses_a_too_small_clip_in_one_line():
    with pytest.raises(ActDiffError) as e:
        actdiff.encode(np.zeros((3, 10, 10, 3), np.uint8))
    assert "\n" not in str(e.value)


def test_api_names_stay_the_api_after_their_subpackages_are_imported():
    """``actdiff.sweep`` is the function even after the sweep machinery was imported (a subpackage
    of the same name would replace it on the package, and a second call in a notebook would fail)."""
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(actdiff.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"actdiff.{mod.name}")
    for name in sorted(set(actdiff.__all__) - {"__version__"}):
        assert callable(getattr(actdiff, name)), name


@pytest.mark.parametrize("crf,words", [([35, 70], "must lie in 0..51"), ([40, 45, 40], "40 is given twice")])
def test_bench_checks_the_crfs_before_coding_anything(clip, monkeypatch, crf, words):
    """A bad CRF list is refused before the first encode (it failed at the bad point, after the others)."""
    import actdiff.evaluation.runner as runner

    monkeypatch.setattr(runner, "baseline_points", lambda *a, **k: pytest.fail("coded before the check"))
    with pytest.raises(ConfigError, match=words):
        actdiff.bench(clip, "x265", crf)
    with pytest.raises(ConfigError, match="unknown baseline .x266."):
        actdiff.bench(clip, "x266")
