"""One validation of codec parameters: encode refuses (before any work, naming the key and the range)
exactly what decode refuses; override values are type-checked against the schema; header types are
strict; ``info`` fails wherever decode fails; no trailing bytes after a keyframe or trajectory payload."""

from __future__ import annotations

import io

import pytest
from _cli import one_error_line
from _streams import RawStream
from conftest import moving_texture
from PIL import Image

from actdiff.codec import decode_segments, encode_video
from actdiff.codec.encoder import prepare_codec
from actdiff.codec.params import STREAM_PARAMS, check_stream_params
from actdiff.codec.schema import check_codec_config
from actdiff.commands import decode, encode, info
from actdiff.config import compose
from actdiff.errors import BitstreamError, ConfigError
from actdiff.image_codecs import codec_from_params
from actdiff.io import write_video
from actdiff.types import Video


@pytest.fixture(scope="module")
def stream(codec_cfg):
    """A small valid stream (2 segments) and its raw fields."""
    cfg = compose(None, ["codec.keyframes.name=fixed", "codec.keyframes.fixed_gop=4"])
    data = encode_video(Video(moving_texture(6, 32, 48), 25.0), cfg).data
    return data, RawStream.parse(data)



@pytest.mark.parametrize("override,words", [
    ("codec.trajectories.temporal_stride=0", ["codec.trajectories.temporal_stride", "[1, 64]"]),
    ("codec.trajectories.budget_points=abc", ["codec.trajectories.budget_points", "'abc'", "integer"]),
    ("codec.pad_multiple=0", ["codec.pad_multiple", "[1, 256]"]),
    ("codec.trajectories.smooth_sigma=nan", ["codec.trajectories.smooth_sigma", "finite"]),
    ("codec.entropy.step=0", ["codec.entropy.step", "range"]),
    ("codec.keyframe_codec.scale=20", ["codec.keyframe_codec.scale", "[1, 16]"]),
    ("codec.keyframes.max_gop=5000", ["codec.keyframes.max_gop", "[2, 1024]"]),
    ("codec.keyframe_codec.quality=101", ["codec.keyframe_codec.quality", "[0, 100]"]),
    ("codec.trajectories.compare_grid=maybe", ["codec.trajectories.compare_grid", "true or false"]),
    ("+codec.tracker.fb_treshold=2", ["codec.tracker.fb_treshold", "not a key"]),
    ("codec.trajectories.compare_fractions=[0.5,1.5]", ["codec.trajectories.compare_fractions", "1.5", "[0, 1]"]),
    ("codec.tracker.appearance_tol=300", ["codec.tracker.appearance_tol", "[0, 255]"]),
    ("codec.trajectories.visibility_balance=1.5", ["codec.trajectories.visibility_balance", "[0, 1]"]),
    ("codec.trajectories.decoded_choice_temporal=2", ["codec.trajectories.decoded_choice_temporal", "[0, 1]"]),
    ("codec.trajectories.decoded_choice_frames=0", ["codec.trajectories.decoded_choice_frames", "[1, 1024]"]),
    ("codec.trajectories.decoded_choice_flow=-1", ["codec.trajectories.decoded_choice_flow", "[0, 4]"]),
    ("codec.decoder.steps=0", ["codec.decoder.steps", "[1, 10000]"]),
])
def test_encode_refuses_bad_settings_before_any_work(tmp_path, capsys, override, words):
    """The input does not even exist: the setting is refused before the input is looked at."""
    assert encode.main([str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.adv"), override]) == 2
    line = one_error_line(capsys)
    assert all(w in line for w in words), line
    assert "missing.mp4" not in line


def test_size_too_large_is_one_line(tmp_path, capsys):
    src = tmp_path / "c.mkv"
    write_video(src, moving_texture(2, 32, 48), 25.0)
    assert encode.main([str(src), "-o", str(tmp_path / "o.adv"), "--size", "100000x100000"]) == 2
    assert "16384" in one_error_line(capsys)


def _header_accepts(key: str, value) -> bool:
    params = {"kc": "avif", "kq": 20, "ks": 6, "tc": "adaptive", "qs": 0.5, "ts": 2, key: value}
    try:
        check_stream_params(params)
        codec_from_params(params)
        return True
    except BitstreamError:
        return False


def _config_accepts(override: str) -> bool:
    try:
        prepare_codec(compose(None, [override]))
        return True
    except ConfigError:
        return False


@pytest.mark.parametrize("header_key,override,values", [
    ("ts", "codec.trajectories.temporal_stride", [-1, 0, 1, 2, 63, 64, 65, 1000]),
    ("qs", "codec.entropy.step", [0.0, 0.001, 1 / 256, 0.5, 1024.0, 1025.0]),
    ("kr", "codec.keyframe_codec.scale", [0.5, 1.0, 2.5, 16.0, 16.5]),
    ("kq", "codec.keyframe_codec.quality", [-1, 0, 50, 100, 101]),
    ("ks", "+codec.keyframe_codec.speed", [-1, 0, 10, 11]),
])
def test_encode_refuses_exactly_what_decode_refuses(header_key, override, values):
    for v in values:
        hv = float(v) if STREAM_PARAMS[header_key].kind is float else int(v)
        assert _header_accepts(header_key, hv) == _config_accepts(f"{override}={v}"), (header_key, v)
    assert any(_header_accepts(header_key, float(v) if STREAM_PARAMS[header_key].kind is float else int(v))
               for v in values)


def test_config_check_converts_types_and_adds_nothing():
    cfg = compose(None, ["codec.trajectories.budget_points='12'", "codec.trajectories.compare_grid='false'"])
    checked = check_codec_config(cfg)
    assert checked.trajectories.budget_points == 12 and checked.trajectories.compare_grid is False
    assert "rate_control" not in checked and "speed" not in checked.keyframe_codec


@pytest.mark.parametrize("key,value", [("ts", 2.0), ("ts", "2"), ("ts", True), ("kq", 20.5), ("kq", "20"),
                                       ("qs", "0.5"), ("kr", 2), ("tc", 1), ("zz", 1), ("ts", 0), ("kc", "gif")])
def test_strict_header_types_decode_and_info(stream, tmp_path, capsys, key, value):
    raw = stream[1]
    raw.params = [(k, v) for k, v in raw.params if k != key] + [(key, value)]
    bad = tmp_path / "bad.adv"
    bad.write_bytes(raw.to_bytes())
    raw.params = RawStream.parse(stream[0]).params
    with pytest.raises(BitstreamError, match=key):
        decode_segments(bad.read_bytes())
    assert info.main([str(bad)]) == 2
    assert key in one_error_line(capsys)
    assert decode.main([str(bad), "-o", str(tmp_path / "o.y4m")]) == 2
    one_error_line(capsys)


def test_info_accepts_the_valid_stream(stream, tmp_path, capsys):
    good = tmp_path / "good.adv"
    good.write_bytes(stream[0])
    assert info.main([str(good)]) == 0


@pytest.mark.parametrize("where", ["keyframe", "trajectory"])
@pytest.mark.parametrize("junk", [b"\x00", b"\x01", b"junk", bytes(8)])
def test_trailing_bytes_after_a_payload(stream, tmp_path, capsys, where, junk):
    raw = RawStream.parse(stream[0])
    sec = raw.sections[1]
    if where == "keyframe":
        sec.keyframes[0] += junk
    else:
        sec.trajectories += junk
    data = raw.to_bytes()
    # junk after a range-coded payload may already change the decoded symbols (any clear error)
    with pytest.raises(BitstreamError, match="bytes" if where == "keyframe" else "bytes|corrupt trajectory payload"):
        decode_segments(data)
    bad = tmp_path / "bad.adv"
    bad.write_bytes(data)
    assert info.main([str(bad)]) == 2
    one_error_line(capsys)


@pytest.mark.parametrize("name", ["avif", "webp", "jpeg", "png"])
def test_keyframe_codecs_refuse_trailing_bytes(name):
    img = moving_texture(1, 24, 40)[0]
    codec = codec_from_params({"name": name, "quality": 40})
    payload = codec.encode(img)
    codec.decode(payload, 24, 40)
    for junk in (b"\x00", b"\xff\xd9", b"\x00\x00\x00\x00IEND\xaeB`\x82", bytes(16), payload):
        with pytest.raises(BitstreamError):
            codec.decode(payload + junk, 24, 40)


def test_full_avif_payload_refuses_trailing_bytes():
    buf = io.BytesIO()
    Image.fromarray(moving_texture(1, 24, 40)[0]).save(buf, "AVIF", quality=40)
    codec = codec_from_params({"name": "avif", "quality": 40})
    full = b"\x01" + buf.getvalue()  # the container kept whole
    assert codec.decode(full, 24, 40).shape == (24, 40, 3)
    with pytest.raises(BitstreamError):
        codec.decode(full + b"\x00\x00\x00\x08", 24, 40)


def test_segment_longer_than_the_format_allows_is_refused(stream):
    raw = RawStream.parse(stream[0])
    raw.frames = 2000
    raw.sections[-1].span = 2000 - 1 - sum(s.span for s in raw.sections[:-1])
    with pytest.raises(BitstreamError, match="segment 1 length"):
        decode_segments(raw.to_bytes())


def test_evaluate_checks_every_rate_point_before_any_work(tmp_path, capsys, monkeypatch):
    from actdiff.commands import evaluate
    from actdiff.evaluation import runner

    (tmp_path / "clips").mkdir()
    write_video(tmp_path / "clips" / "a.mkv", moving_texture(3, 32, 48), 25.0)
    monkeypatch.setattr(runner, "encode_point", lambda *a, **k: pytest.fail("encoded before checking"))
    argv = ["--data", str(tmp_path / "clips"), "-o", str(tmp_path / "r.json"), "codec.entropy.step=-1"]
    assert evaluate.main(argv) == 2
    assert "codec.entropy.step" in one_error_line(capsys)
