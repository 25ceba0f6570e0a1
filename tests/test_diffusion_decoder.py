"""DiffusionDecoder: weights loading, determinism, exact keyframes, registry."""

import numpy as np
import pytest
import torch

from actdiff.config import config_root, load_composed
from actdiff.decoders.diffusion import DEFAULT_WEIGHTS, DiffusionDecoder, load_denoiser
from actdiff.errors import MissingWeightsError
from actdiff.models import build_model
from actdiff.registry import DECODERS
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import StreamHeader


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("w")
    model = build_model(load_composed(config_root() / "model" / "micro.yaml"))
    with torch.no_grad():  # make the control branch matter
        for p in [*model.controlnet.controlnet_down_blocks.parameters(),
                  *model.controlnet.controlnet_cond_embedding.conv_out.parameters()]:
            p.normal_(0, 0.5)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


def _segment(h=36, w=50, length=6):
    frames = moving_texture(10 + length, h, w, seed=3)
    seg = segment_from_frames(frames, 10, 10 + length - 1)
    header = StreamHeader(height=h, width=w, coded_height=h, coded_width=w, num_frames=40, fps=25.0, seed=5)
    return header, seg


def test_missing_weights_one_line(tmp_path):
    with pytest.raises(MissingWeightsError) as e:
        load_denoiser(tmp_path / "nope")
    msg = str(e.value)
    assert "\n" not in msg and "nope" in msg and "--weights" in msg and "train_default_cpu" in msg
    if not (DEFAULT_WEIGHTS / "config.json").is_file():
        with pytest.raises(MissingWeightsError):
            DiffusionDecoder()


def test_decode_deterministic_keyframes_exact(weights):
    header, seg = _segment()
    dec = DECODERS.build("diffusion", weights=str(weights), steps=2, batch_size=3)
    assert isinstance(dec, DiffusionDecoder)
    a = dec.decode_segment(header, seg)
    b = DiffusionDecoder(weights=str(weights), steps=2, batch_size=2).decode_segment(header, seg)
    assert a.shape == (6, 36, 50, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)  # same seed, different batching → identical
    np.testing.assert_array_equal(a[0], seg.key_start)
    np.testing.assert_array_equal(a[-1], seg.key_end)
    header.seed = 6
    c = dec.decode_segment(header, seg)
    assert not np.array_equal(a[1:-1], c[1:-1])


def test_bidirectional_switch_changes_output(weights):
    header, seg = _segment()
    on = DiffusionDecoder(weights=str(weights), steps=2, bidirectional=True).decode_segment(header, seg)
    off = DiffusionDecoder(weights=str(weights), steps=2, bidirectional=False).decode_segment(header, seg)
    assert not np.array_equal(on[1:-1], off[1:-1])


def test_short_segments(weights):
    header, seg = _segment(length=2)
    out = DiffusionDecoder(weights=str(weights), steps=1).decode_segment(header, seg)
    np.testing.assert_array_equal(out, np.stack([seg.key_start, seg.key_end]))


def test_sampler_defaults_come_with_the_weights(weights):
    dec = DiffusionDecoder(weights=str(weights))
    assert (dec.sampler, dec.steps, dec.noise_mode) == ("dpmsolver++", 3, "shared")  # configs/model/micro.yaml
    dec = DiffusionDecoder(weights=str(weights), sampler="unipc", steps=1, noise_mode="per_frame")
    assert (dec.sampler, dec.steps, dec.noise_mode) == ("unipc", 1, "per_frame")
    header, seg = _segment()
    assert dec.decode_segment(header, seg).shape == (6, 36, 50, 3)
