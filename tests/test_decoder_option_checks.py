"""The diffusion decoders' options are checked when the decoder is built, before any decoding: a bad
device, batch size, number of steps or codec key is one ``error:`` line and exit 2 of ``actdiff
decode`` (never a traceback, never a silent clamp), and the valid ones still decode."""

from __future__ import annotations

import pytest
import torch
from _cli import one_error_line
from omegaconf import OmegaConf

from actdiff.commands.decode import main as decode_main
from actdiff.config import load_group
from actdiff.decoders import build_decoder
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.decoders.video import VideoDiffusionDecoder
from actdiff.errors import ConfigError
from actdiff.models import build_model


@pytest.fixture(scope="module")
def stream(small_adv_file):
    return small_adv_file


@pytest.fixture
def no_loading(monkeypatch):
    """The weights must not be loaded: loading them fails the test."""
    from actdiff.decoders import diffusion

    def refuse(*args, **kwargs):
        raise AssertionError("the weights were loaded before the bad option was refused")

    monkeypatch.setattr(diffusion, "load_denoiser", refuse)


def _decode(stream, out, *extra: str, weights=None) -> int:
    args = [str(stream), "-o", str(out), "--decoder", "diffusion", *extra]
    return decode_main(args + (["--weights", str(weights)] if weights else []))


@pytest.mark.parametrize("device,words", [
    ("bogus", ["'bogus'", "cpu, cuda, mps"]),
    ("meta", ["'meta'", "cpu, cuda, mps"]),
    ("xla", ["'xla'", "cpu, cuda, mps"]),
    ("cuda:x", ["'cuda:x'"]),
])
def test_a_device_the_decoders_do_not_run_on_is_one_line(stream, tmp_path, capsys, no_loading, device, words):
    assert _decode(stream, tmp_path / "o.y4m", "--device", device) == 2
    line = one_error_line(capsys)
    assert all(w in line for w in words), line
    assert not (tmp_path / "o.y4m").exists()


def test_cuda_or_mps_without_one_is_one_line(stream, tmp_path, capsys, no_loading, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for device, words in (("cuda", "no CUDA GPU"), ("cuda:0", "no CUDA GPU"), ("mps", "MPS is not available")):
        assert _decode(stream, tmp_path / "o.y4m", "--device", device) == 2
        assert words in one_error_line(capsys)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert _decode(stream, tmp_path / "o.y4m", "--device", "cuda:3") == 2
    assert "1 CUDA GPU(s)" in one_error_line(capsys)
    assert not (tmp_path / "o.y4m").exists()


@pytest.mark.parametrize("override,words", [
    ("codec.decoder.batch_size=abc", ["codec.decoder.batch_size", "'abc'", "[1, 65536]"]),
    ("codec.decoder.batch_size=0", ["codec.decoder.batch_size", "out of range [1, 65536]"]),
    ("codec.decoder.batch_size=70000", ["codec.decoder.batch_size", "out of range [1, 65536]"]),
    ("codec.seed=abc", ["codec.seed", "'abc'", "integer"]),
    ("codec.seed=-1", ["codec.seed", "out of range"]),
    ("codec.decoder.device=5", ["'5'", "cpu, cuda, mps"]),
])
def test_bad_codec_keys_are_refused_as_encode_refuses_them(stream, tmp_path, capsys, no_loading, override, words):
    assert _decode(stream, tmp_path / "o.y4m", override) == 2
    line = one_error_line(capsys)
    assert all(w in line for w in words), line
    assert not (tmp_path / "o.y4m").exists()


def test_steps_beyond_the_noise_schedule_are_one_line(stream, tmp_path, capsys, micro_weights, monkeypatch):
    """A sampler cannot take more steps than the schedule has training timesteps (1000 here): refused
    when the decoder is built, before any frame is sampled (100000 steps ran for ever). Valid options
    still decode."""
    from actdiff.decoders import diffusion

    assert _decode(stream, tmp_path / "ok.y4m", "--device", "cpu", "--steps", "2", "codec.decoder.batch_size=2",
                   "codec.seed=3", weights=micro_weights) == 0
    assert (tmp_path / "ok.y4m").is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("sampling started")

    monkeypatch.setattr(diffusion, "sample", refuse)
    for steps in ("100000", "1001"):
        assert _decode(stream, tmp_path / "o.y4m", "--steps", steps, weights=micro_weights) == 2
        line = one_error_line(capsys)
        assert f"sampling steps {steps} exceed the 1000 training timesteps" in line, line
    assert not (tmp_path / "o.y4m").exists()


def test_the_python_api_checks_the_same_options():
    from actdiff.decoders.base import check_batch_size, check_device

    model = build_model(load_group("model", "micro"))
    for bad in ({"batch_size": 0}, {"batch_size": "abc"}, {"batch_size": 2.5}, {"batch_size": True},
                {"device": "bogus"}, {"device": "meta"}, {"steps": 1001}):
        with pytest.raises(ConfigError) as e:
            build_decoder({"name": "diffusion", "model": model, **bad})
        assert "\n" not in str(e.value)
    dec = DiffusionDecoder(model=model, batch_size="3", device="cpu", steps=1000)
    assert dec.batch_size == 3 and dec.device == "cpu" and dec.steps == 1000
    assert check_batch_size(65536) == 65536 and check_device(torch.device("cpu")) == "cpu"


def test_the_video_decoder_checks_its_device_and_steps():
    model = build_model(load_group("model", "micro_video")).eval()
    for bad in ({"device": "meta"}, {"steps": 5000}):
        with pytest.raises(ConfigError) as e:
            VideoDiffusionDecoder(model=model, **bad)
        assert "\n" not in str(e.value)
    assert VideoDiffusionDecoder(model=model, device="cpu", steps=1000).sampling["steps"] == 1000


def test_encode_refuses_a_decoder_device_by_its_name_only():
    """The encoder checks ``codec.decoder.device``'s name (the decoding machine may have a GPU this one lacks)."""
    from actdiff.codec.schema import check_codec_config

    base = load_group("codec", "default")
    with pytest.raises(ConfigError, match="device 'bogus' is not one the diffusion decoders run on"):
        check_codec_config(OmegaConf.merge(base, {"decoder": {"device": "bogus"}}))
    assert check_codec_config(OmegaConf.merge(base, {"decoder": {"device": "cuda:1"}})).decoder.device == "cuda:1"
