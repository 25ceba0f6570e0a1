"""Protocol fields of the wrong type or out of range are a one-line ``ConfigError`` naming the key
(``protocol.start=abc`` was a ``TypeError``, ``protocol.height=nan`` a ``ValueError``), also through
``actdiff evaluate``, before any clip is read."""

from __future__ import annotations

import pytest
from conftest import moving_texture

from actdiff.commands import evaluate
from actdiff.data import Protocol, load_protocol
from actdiff.errors import ConfigError
from actdiff.io import write_video

BAD = [
    ("start", "abc"), ("start", -1), ("start", 1.5), ("start", True), ("start", None),
    ("width", "abc"), ("height", float("nan")), ("height", 0), ("height", 2.5), ("width", [1, 2]),
    ("max_frames", "abc"), ("max_frames", 0), ("max_frames", float("inf")),
    ("fit_multiple", "abc"), ("fit_multiple", 0), ("fit_multiple", None),
    ("name", 5), ("resize_mode", 3), ("fit", None),
]


@pytest.mark.parametrize("key, value", BAD)
def test_a_bad_field_is_one_line_naming_the_key(key, value):
    cfg = {"name": "cpu", "height": 64, "width": 96, "start": 0, "max_frames": 4, "resize_mode": "crop", "fit": "pad"}
    with pytest.raises(ConfigError) as e:
        load_protocol({**cfg, key: value})
    msg = str(e.value)
    assert key in msg and "\n" not in msg, msg


def test_valid_protocols_still_load():
    assert load_protocol("cpu").size == (256, 384)
    assert load_protocol("native").size is None
    assert Protocol(name="window", start=3, max_frames=2).read_kwargs()["start"] == 3
    assert load_protocol({"height": 64, "width": 96, "resize_mode": "resize", "max_frames": None}).max_frames is None


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.y4m"
    write_video(path, moving_texture(3, 48, 64), 25.0)
    return path


@pytest.mark.parametrize("override", ["protocol.start=abc", "protocol.width=abc", "protocol.height=nan",
                                      "protocol.start=-1", "+protocol.fit_multiple=abc"])
def test_evaluate_says_one_error_line(clip, tmp_path, capsys, override):
    out = tmp_path / "e.json"
    argv = [override, "--data", str(clip), "-o", str(out), "--frames", "2", "--metrics", "psnr", "--rates", "r0"]
    assert evaluate.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert override.lstrip("+").split("=")[0] in err[0], err
    assert not out.exists()
