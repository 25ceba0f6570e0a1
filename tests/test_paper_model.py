"""The paper decoder (CogVideoX I2V + DaS tracking branch) at toy size, random weights, CPU, seconds."""

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from actdiff.conditioning import NUM_VIDEO_CHANNELS
from actdiff.config import load_group
from actdiff.decoders import build_decoder
from actdiff.decoders.video import VideoDiffusionDecoder
from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.models import build_model
from actdiff.models.generator import load_generator
from actdiff.models.paper_generator import PaperVideoGenerator, rotary_embedding
from actdiff.models.tracking_branch import DAS_CLASS, TrackingBranch, tracked_forward
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import StreamHeader


def tiny(**over) -> PaperVideoGenerator:
    return build_model(OmegaConf.merge(load_group("model", "paper_tiny"), over))


def window(t=9, h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    cond = torch.rand(t, NUM_VIDEO_CHANNELS, h, w, generator=g) * 2 - 1
    cond[:, 23] = 0
    cond[0, 23] = cond[-1, 23] = 1
    return cond


def perturb_branch(model, scale=0.2):
    with torch.no_grad():
        for lin in [model.branch.initial_combine_linear, *model.branch.combine_linears]:
            lin.weight.add_(scale * torch.randn_like(lin.weight))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = tiny()
    perturb_branch(m)  # a branch that has learned something: the tracking video matters
    return m


@pytest.fixture(scope="module")
def folder(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper_tiny")
    model.save_pretrained(str(out))
    return out


def _inputs(m, t=9, h=32, w=48):
    cond = window(t, h, w)
    image, tracking = m.condition_latents(cond)
    g = torch.Generator().manual_seed(1)
    lat = torch.randn((1, *image.shape), generator=g)
    return lat, image[None], tracking[None], m.prompt_embeds[1:2]


def test_every_part_builds_from_the_tiny_config():
    m = tiny()
    assert isinstance(m, PaperVideoGenerator) and isinstance(m.branch, TrackingBranch)
    assert len(m.transformer.transformer_blocks) == 3 and len(m.branch.transformer_blocks_copy) == 2
    spec = m.window_spec()
    assert (spec.max_frames, spec.frame_multiple, spec.frame_remainder) == (9, 8, 1)
    assert [n for n in range(1, 10) if spec.is_valid(n)] == [1, 9]      # odd latent lengths: 1 and 3
    assert "tracking branch 2" in m.describe()


def test_at_initialisation_the_branch_leaves_the_base_prediction_unchanged():
    m = tiny()
    lat, image, tracking, prompt = _inputs(m)
    t = torch.tensor([700])
    rotary = rotary_embedding(m.transformer, 8, 12, 3, "cpu")
    with torch.no_grad():
        ours = m.predict(lat, t, image, tracking, prompt)
        base = m.transformer(hidden_states=torch.cat([lat, image], 2), encoder_hidden_states=prompt, timestep=t,
                             image_rotary_emb=rotary,
                             return_dict=False)[0]
        no_branch = tracked_forward(m.transformer, None, torch.cat([lat, image], 2), prompt, t, tracking,
                                    rotary)
    assert ours.shape == (1, 3, 4, 8, 12)
    torch.testing.assert_close(ours, base, rtol=0, atol=1e-6)   # our forward == diffusers' forward
    torch.testing.assert_close(ours, no_branch, rtol=0, atol=0)
    perturb_branch(m)                                           # a trained branch does change it
    with torch.no_grad():
        assert (m.predict(lat, t, image, tracking, prompt) - base).abs().max() > 1e-3
        other = m.predict(lat, t, image, tracking.flip(0) * 0.5, prompt)
    assert (other - m.predict(lat, t, image, tracking, prompt)).abs().max() > 1e-4


def test_a_denoising_step_on_a_9_frame_window_and_a_2_step_sampling_loop(model):
    lat, image, tracking, prompt = _inputs(model)
    with torch.no_grad():
        out = model.predict(lat, torch.tensor([500]), image, tracking, prompt)
    assert out.shape == lat.shape and torch.isfinite(out).all()
    frames = model.generate(window(), seed=5, frame_ids=list(range(9)), steps=2)
    assert frames.shape == (9, 3, 32, 48) and frames.abs().max() <= 1
    assert model.latent_cache.hits == 0


def test_two_decodes_are_identical_and_the_seed_matters(model):
    cond = window()
    a = model.generate(cond, seed=5, frame_ids=list(range(9)), steps=2)
    b = model.generate(cond, seed=5, frame_ids=list(range(9)), steps=2)
    c = model.generate(cond, seed=6, frame_ids=list(range(9)), steps=2)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3


def test_options_guidance_ddim_and_cached_latents(model):
    cond = window()
    ref = model.generate(cond, 5, list(range(9)), steps=2)
    cached = model.generate(cond, 5, list(range(9)), steps=2, cache_latents=True)
    again = model.generate(cond, 5, list(range(9)), steps=2, cache_latents=True)
    torch.testing.assert_close(ref, cached, rtol=0, atol=0)
    torch.testing.assert_close(ref, again, rtol=0, atol=0)
    assert model.latent_cache.hits >= 4                       # K0, K1 and both tracking images reused
    assert (model.generate(cond, 5, list(range(9)), steps=2, guidance_scale=1.0) - ref).abs().max() > 1e-4
    assert model.generate(cond, 5, list(range(9)), steps=2, sampler="ddim").shape == ref.shape
    with pytest.raises(ConfigError, match="unknown sampling option"):
        model.generate(cond, 5, list(range(9)), strength=0.5)
    with pytest.raises(ValueError, match="not a valid window"):
        model.generate(window(t=5), 5, list(range(5)))                 # 2 latent frames decode to 8


def test_loading_a_saved_folder_gives_identical_outputs(model, folder):
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["_class_name"] == "PaperVideoGenerator" and cfg["parts"]["branch"] == "branch"
    loaded = load_generator(str(folder))
    cond = window()
    torch.testing.assert_close(loaded.generate(cond, 5, list(range(9))), model.generate(cond, 5, list(range(9))),
                               rtol=0, atol=0)


def test_missing_weights_are_one_line_errors(tmp_path, folder):
    with pytest.raises(MissingWeightsError, match="paper decoder weights not found") as e:
        PaperVideoGenerator.from_pretrained(str(tmp_path / "nowhere"))
    assert "\n" not in str(e.value)
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    shutil.rmtree(broken / "branch")
    with pytest.raises(MissingWeightsError, match="no tracking branch") as e:
        load_generator(str(broken))
    assert "\n" not in str(e.value)
    with pytest.raises(MissingWeightsError, match="CogVideoX-5b-I2V|not found"):
        build_model(OmegaConf.merge(load_group("model", "paper"), {"pretrained": str(tmp_path / "absent")}))


def test_a_diffusion_as_shader_checkpoint_converts(model, tmp_path):
    """DaS stores base and branch in one transformer folder: both load from it, bit-exactly."""
    from diffusers import CogVideoXTransformer3DModel
    from safetensors.torch import save_file

    das = tmp_path / "das_transformer"
    das.mkdir()
    cfg = {**{k: v for k, v in dict(model.transformer.config).items() if not k.startswith("_")},
           "_class_name": DAS_CLASS, "num_tracking_blocks": 2}
    (das / "config.json").write_text(json.dumps(cfg))
    state = {**model.transformer.state_dict(), **model.branch.state_dict()}
    half = len(state) // 2
    names = sorted(state)
    shards = {"a.safetensors": names[:half], "b.safetensors": names[half:]}
    for f, keys in shards.items():
        save_file({k: state[k].contiguous() for k in keys}, str(das / f))
    (das / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": sum(v.numel() * 4 for v in state.values())},
                    "weight_map": {k: f for f, keys in shards.items() for k in keys}}))
    branch = TrackingBranch.from_pretrained(str(das))
    for k, v in model.branch.state_dict().items():
        torch.testing.assert_close(branch.state_dict()[k], v, rtol=0, atol=0)
    base = CogVideoXTransformer3DModel.from_pretrained(str(das), low_cpu_mem_usage=False)
    for k, v in model.transformer.state_dict().items():
        torch.testing.assert_close(base.state_dict()[k], v, rtol=0, atol=0)


def test_the_video_decoder_runs_the_paper_model_deterministically(folder):
    frames = moving_texture(12, 32, 48, seed=2)
    seg = segment_from_frames(frames, 0, 11, num_points=20, seed=2)
    header = StreamHeader(height=32, width=48, coded_height=32, coded_width=48, num_frames=12, fps=25.0, seed=3)
    dec = build_decoder("diffusion", weights=str(folder), steps=2)
    assert isinstance(dec, VideoDiffusionDecoder) and "PaperVideoGenerator paper-tiny" in dec.settings()["model"]
    a = dec.decode_segment(header, seg)                 # 12 frames: two overlapping 9-frame windows
    b = build_decoder("diffusion", weights=str(folder), steps=2).decode_segment(header, seg)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], seg.key_start)
    np.testing.assert_array_equal(a[-1], seg.key_end)


def test_learned_positions_pin_the_resolution_and_the_window_length():
    """CogVideoX-5B-I2V's learned positional embeddings exist for 49 frames at 480x720 only: every
    window is padded to the full clip and resized to the model's resolution and back."""
    over = {"resolution": [32, 48], "random_parts": {"transformer": {"use_learned_positional_embeddings": True}}}
    m = tiny(**over)
    spec = m.window_spec()
    assert spec.min_frames == spec.max_frames == 9 and spec.size_multiple == 1
    out = m.generate(window(h=20, w=36), 1, list(range(9)), steps=1)   # any size: resized and back
    assert out.shape == (9, 3, 20, 36)


def test_the_decoder_builds_only_the_condition_groups_the_model_reads(folder, monkeypatch):
    from actdiff.conditioning import segment

    seen = []
    real = segment.build_window_conditions

    def spy(*a, **k):
        seen.append(k.get("groups"))
        return real(*a, **k)

    monkeypatch.setattr(segment, "build_window_conditions", spy)
    frames = moving_texture(9, 32, 48, seed=2)
    seg = segment_from_frames(frames, 0, 8, num_points=20, seed=2)
    header = StreamHeader(height=32, width=48, coded_height=32, coded_width=48, num_frames=9, fps=25.0, seed=3)
    build_decoder("diffusion", weights=str(folder), steps=1).decode_segment(header, seg)
    build_decoder("diffusion", weights=str(folder), steps=1, temporal_blend=0.5).decode_segment(header, seg)
    build_decoder("diffusion", weights=str(folder), steps=1, base="detail").decode_segment(header, seg)
    assert seen == [("key", "key_mask", "track"), ("key", "key_mask", "track", "pred"),
                    ("key", "key_mask", "track", "pred", "frame")]  # the detail base needs the two warps' blend
