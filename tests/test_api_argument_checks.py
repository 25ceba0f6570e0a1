"""Bad arguments of the public API (``encode``, ``decode``, ``evaluate``, ``bench``, ``score``,
``describe``, :class:`~actdiff.types.Video`) fail with one line of the library's own errors, before
any encoding or decoding, never with a raw TypeError/ValueError/KeyError from deep inside; list
arguments take a single string as a one-element list and ``None`` as their default."""

from __future__ import annotations

import numpy as np
import pytest

import actdiff
import actdiff.api as api
from actdiff.errors import ConfigError, InputError
from actdiff.evaluation import runner
from actdiff.types import EncodeResult, Video


class Reached(Exception):
    """Raised by a stand-in for the encoder: the arguments got through every check."""


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (4, 64, 96, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def stream(clip) -> bytes:
    return actdiff.encode(clip).data


@pytest.fixture
def no_coding(monkeypatch):
    """Every encoder and decoder entry point of the API fails the test if reached."""
    def fail(*a, **k):
        pytest.fail("encoded or decoded before the argument check")

    for module, name in ((api, "encode_with_rate_control"), (api, "decode_video"), (runner, "encode_point"),
                         (runner, "encode_decode"), (runner, "decode_video")):
        monkeypatch.setattr(module, name, fail)


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


@pytest.mark.parametrize("kwargs, error, words", [
    ({"fps": "abc"}, InputError, "fps must be a finite number > 0"),
    ({"fps": [25]}, InputError, "fps must be a finite number > 0"),
    ({"fps": 0}, InputError, "got 0"),
    ({"fps": -1.0}, InputError, "fps must be"),
    ({"fps": float("nan")}, InputError, "got nan"),
    ({"fps": True}, InputError, "fps must be"),
    ({"target_bpp": "abc"}, ConfigError, "target_bpp must be a finite number > 0, got 'abc'"),
    ({"target_bpp": [0.1]}, ConfigError, "target_bpp must be"),
    ({"target_bpp": 0}, ConfigError, "target_bpp must be"),
    ({"target_bpp": float("inf")}, ConfigError, "target_bpp must be"),
    ({"config": 5}, ConfigError, "config must be a path"),
    ({"overrides": 5}, ConfigError, "overrides must be a str"),
    ({"overrides": [1]}, ConfigError, "overrides must hold str values"),
    ({"overrides": "codec.nope=1"}, ConfigError, "codec.nope"),   # one override, not c, o, d, …
])
def test_encode_arguments(clip, no_coding, kwargs, error, words):
    with pytest.raises(error) as e:
        actdiff.encode(clip, **kwargs)
    assert words in _one_line(e)


@pytest.mark.parametrize("decoder", [None, 123, ["warp"], 1.5])
def test_decode_decoder_must_be_a_name_a_section_or_a_decoder(stream, no_coding, decoder):
    with pytest.raises(ConfigError) as e:
        actdiff.decode(stream, decoder=decoder)
    assert "registry name" in _one_line(e) and "section mapping" in str(e.value) and "built Decoder" in str(e.value)


@pytest.mark.parametrize("weights, words", [(5, "keyframe_weights must be a str or Path"),
                                            ([None], "keyframe_weights must hold str or Path values")])
def test_decode_keyframe_weights_checked(stream, no_coding, weights, words):
    with pytest.raises(ConfigError) as e:
        actdiff.decode(stream, keyframe_weights=weights)
    assert words in _one_line(e)


def test_decode_keyframe_weights_one_folder_is_one_folder(stream, monkeypatch, tmp_path):
    seen = {}

    def fake_decode(data, dec, **kw):
        seen.update(kw)
        raise Reached

    monkeypatch.setattr(api, "decode_video", fake_decode)
    for given in ("abc", tmp_path):
        with pytest.raises(Reached):
            actdiff.decode(stream, keyframe_weights=given)
        assert seen["weights_dirs"] == [str(given)]


def test_decode_binary_str_is_echoed_short(stream, no_coding):
    with pytest.raises(InputError) as e:
        actdiff.decode(stream.decode("latin-1"))
    msg = _one_line(e)
    assert "no such file" in msg and len(msg) < 200 and "\x00" not in msg


@pytest.mark.parametrize("kwargs, words", [
    ({"decoder": None}, "decoder must be a registry name"),
    ({"decoder": 123}, "decoder must be a registry name"),
    ({"metrics": [None]}, "metrics must hold str values"),
    ({"metrics": 5}, "metrics must be a str"),
    ({"metrics": []}, "metrics is an empty list"),
    ({"rates": []}, "rates is an empty list"),
    ({"rates": [0.01]}, "rates must hold str values"),
    ({"rates": "rx"}, "unknown rate point(s) rx "),
    ({"metrics": "psnrx"}, "unknown metric(s) psnrx "),
    ({"overrides": "codec.x=1"}, "codec.x"),
    ({"sequences": []}, "sequences is an empty list"),
    ({"log": 5}, "log must be a callable"),
    ({"fps": "abc"}, "fps must be a finite number > 0"),
    ({"config": 5}, "config must be a path"),
    ({"frames_dir": 5}, "frames_dir must be a path"),
    ({"sequences": ["x"]}, "sequences= selects sequences of a dataset"),   # ignored for one clip before
])
def test_evaluate_arguments(clip, no_coding, kwargs, words):
    kwargs = {"rates": ["r1"], "metrics": ["psnr"], **kwargs}
    with pytest.raises((ConfigError, InputError)) as e:
        actdiff.evaluate(clip, **kwargs)
    assert words in _one_line(e)


def test_evaluate_single_strings_are_one_element_lists(clip, monkeypatch):
    seen = {}
    real = api.point_configs

    def spy(rates, *a, **k):
        seen["rates"] = list(rates)
        return real(rates, *a, **k)

    monkeypatch.setattr(api, "point_configs", spy)
    monkeypatch.setattr(runner, "encode_point", lambda *a, **k: (_ for _ in ()).throw(Reached()))
    with pytest.raises(Reached):
        actdiff.evaluate(clip, rates="r1", metrics="psnr", overrides="codec.seed=3")
    assert seen["rates"] == ["r1"]


@pytest.mark.parametrize("call", ["evaluate", "bench", "score"])
def test_metrics_none_is_the_default(clip, monkeypatch, call):
    seen = []

    def spy(names, *a):
        seen.append(names)
        raise Reached

    monkeypatch.setattr(api, "check_metrics", spy)
    with pytest.raises(Reached):
        if call == "evaluate":
            actdiff.evaluate(clip, rates=["r1"], metrics=None)
        elif call == "bench":
            actdiff.bench(clip, "x265", [40], metrics=None)
        else:
            actdiff.score(clip, clip, None)
    assert seen == [list(actdiff.metrics.DEFAULT_METRICS)]


@pytest.mark.parametrize("kwargs, words", [
    ({"crf": []}, "crf is an empty list"),
    ({"crf": ["30"]}, "crf must hold int values"),
    ({"crf": 99}, "CRF values must lie in"),         # a single CRF is a one-element list
    ({"codec": ["x265"]}, "codec must be a baseline name"),
    ({"metrics": None, "log": "print"}, "log must be a callable"),
])
def test_bench_arguments(clip, no_coding, kwargs, words):
    kwargs = {"codec": "x265", "metrics": ["psnr"], **kwargs}
    with pytest.raises(ConfigError) as e:
        actdiff.bench(clip, **kwargs)
    assert words in _one_line(e)


def test_score_takes_one_metric_name(clip):
    assert set(actdiff.score(clip, clip, "psnr")) == {"psnr"}
    with pytest.raises(ConfigError) as e:
        actdiff.score(clip, clip, [None])
    assert "metrics must hold str values" in _one_line(e)


def test_describe_a_hand_built_result_from_its_stream(stream):
    text = actdiff.describe(EncodeResult(data=stream, stats={}))
    assert "bits per pixel" in text and "4 frames, 96x64" in text
    with pytest.raises(InputError) as e:
        actdiff.describe(EncodeResult(data=b"not a stream", stats={}))
    assert "no ActDiff stream" in _one_line(e)


@pytest.mark.parametrize("frames, fps, words", [
    (np.zeros((4, 64, 96, 3), np.uint8).tolist(), 25.0, "got list"),
    (np.zeros((4, 64, 96, 3), np.float32), 25.0, "got float32 (4, 64, 96, 3)"),
    (np.zeros((4, 64, 96), np.uint8), 25.0, "got uint8 (4, 64, 96)"),
    (np.zeros((0, 64, 96, 3), np.uint8), 25.0, "got uint8 (0, 64, 96, 3)"),
    (np.zeros((4, 64, 96, 4), np.uint8), 25.0, "got uint8 (4, 64, 96, 4)"),
    (np.zeros((4, 64, 96, 3), np.uint8), None, "Video fps must be a finite number > 0"),
    (np.zeros((4, 64, 96, 3), np.uint8), 0, "Video fps must be"),
    (np.zeros((4, 64, 96, 3), np.uint8), "25", "Video fps must be"),
])
def test_video_is_checked_when_built(frames, fps, words):
    with pytest.raises(InputError) as e:
        Video(frames=frames, fps=fps)
    assert words in _one_line(e)


def test_a_bad_video_never_reaches_the_encoder(no_coding):
    with pytest.raises(InputError):
        actdiff.encode(Video(np.zeros((4, 64, 96), np.uint8)))


def test_a_good_video_keeps_its_frames_and_a_float_fps():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    v = Video(frames, np.float32(30))
    assert v.frames is frames and v.fps == 30.0 and type(v.fps) is float
