"""The smaller sibling (Wan2.1 control model, preset paper-wan) and the depth option of the tracking video."""

import numpy as np
import pytest
import torch

from actdiff.config import load_group
from actdiff.decoders import build_decoder
from actdiff.decoders.video import VideoDiffusionDecoder
from actdiff.errors import MissingWeightsError
from actdiff.models import build_model
from actdiff.models.generator import load_generator
from actdiff.models.wan_generator import WanControlGenerator
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import StreamHeader


def window(t=9, h=32, w=48):
    g = torch.Generator().manual_seed(0)
    cond = torch.rand(t, 30, h, w, generator=g) * 2 - 1
    cond[:, 23] = 0
    cond[0, 23] = cond[-1, 23] = 1
    return cond


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(0)
    m = build_model(load_group("model", "paper_wan_tiny"))
    out = tmp_path_factory.mktemp("paper_wan_tiny")
    m.save_pretrained(str(out))
    return out


def header(n=12):
    return StreamHeader(height=32, width=48, coded_height=32, coded_width=48, num_frames=n, fps=25.0, seed=3)


def test_the_wan_sibling_builds_samples_and_reloads_identically(folder):
    m = build_model(load_group("model", "paper_wan_tiny"))
    assert isinstance(m, WanControlGenerator) and m.branch is None
    assert m.transformer.config.in_channels == 3 * m.vae.config.z_dim       # noise | control | keyframes
    spec = m.window_spec()
    assert (spec.max_frames, spec.frame_multiple, spec.frame_remainder) == (9, 4, 1)
    image, control = m.condition_latents(window())
    assert image.shape == control.shape == (3, 4, 8, 12)
    assert image[1].abs().max() == 0 and image[0].abs().max() > 0 and image[2].abs().max() > 0
    loaded = load_generator(str(folder))
    a = loaded.generate(window(), 4, list(range(9)))
    b = load_generator(str(folder)).generate(window(), 4, list(range(9)))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.shape == (9, 3, 32, 48) and a.abs().max() <= 1
    assert (loaded.generate(window(), 4, list(range(9)), sampler="euler") - a).abs().max() > 1e-4


def test_the_video_decoder_runs_the_wan_sibling(folder, tmp_path):
    frames = moving_texture(12, 32, 48, seed=2)
    seg = segment_from_frames(frames, 0, 11, num_points=20, seed=2)
    dec = build_decoder("diffusion", weights=str(folder))
    assert isinstance(dec, VideoDiffusionDecoder) and "WanControlGenerator" in dec.settings()["model"]
    out = dec.decode_segment(header(), seg)
    np.testing.assert_array_equal(out, build_decoder("diffusion", weights=str(folder)).decode_segment(header(), seg))
    np.testing.assert_array_equal(out[0], seg.key_start)
    with pytest.raises(MissingWeightsError, match="paper-wan weights not found"):
        WanControlGenerator.from_pretrained(str(tmp_path / "none"))


def _tiny_depth_model(folder):
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(0)
    backbone = Dinov2Config(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
                            patch_size=14, image_size=56, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, neck_hidden_sizes=[8, 16, 16, 16], fusion_hidden_size=16,
                              head_hidden_size=8, reassemble_hidden_size=16, patch_size=14)
    DepthAnythingForDepthEstimation(cfg).save_pretrained(str(folder))
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=False).save_pretrained(str(folder))


def test_depth_from_a_local_model_colours_the_tracking_video(folder, tmp_path):
    from actdiff.models.depth import DepthEstimator

    with pytest.raises(MissingWeightsError, match="depth model not found"):
        DepthEstimator(tmp_path / "nowhere")
    _tiny_depth_model(tmp_path / "depth")
    est = DepthEstimator(tmp_path / "depth", device="cpu")
    frames = moving_texture(12, 32, 48, seed=2)
    d = est(frames[0])
    assert d.shape == (32, 48) and d.dtype == np.float32 and 0 <= d.min() and d.max() <= 1 and d.std() > 0
    seg = segment_from_frames(frames, 0, 11, num_points=20, seed=2)
    plain = build_decoder("diffusion", weights=str(folder))
    deep = build_decoder("diffusion", weights=str(folder), depth=str(tmp_path / "depth"))
    assert deep.settings()["depth"] == str(tmp_path / "depth") and plain.settings()["depth"] is None
    assert np.abs(deep.decode_segment(header(), seg).astype(int) - plain.decode_segment(header(), seg)).max() > 0
