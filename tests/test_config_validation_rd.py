"""``codec.rd`` is checked up front in every mode: a wrongly typed or out-of-range value (the nested
``distortion``, ``search`` and ``selection`` sections included) is a one-line ``ConfigError`` naming the key,
never a traceback mid-encode; other schema messages print human type names."""

from __future__ import annotations

import pytest
from conftest import moving_texture

from actdiff.codec.rd_settings import RDSettings
from actdiff.codec.schema import check_codec_config
from actdiff.commands import encode
from actdiff.config import compose
from actdiff.errors import ConfigError
from actdiff.io import write_video

BAD_RD = [
    ("codec.rd.lambda=abc", "codec.rd.lambda"),
    ("codec.rd.lambda=null", "codec.rd.lambda"),
    ("codec.rd.lambda=[1,2]", "codec.rd.lambda"),
    ("codec.rd.lambda=nan", "codec.rd.lambda"),
    ("codec.rd.min_gop=abc", "codec.rd.min_gop"),
    ("codec.rd.max_gop=abc", "codec.rd.max_gop"),
    ("codec.rd.min_gop=100", "codec.rd.min_gop"),
    ("codec.rd.eval_stride=abc", "codec.rd.eval_stride"),
    ("codec.rd.eval_frames=0", "codec.rd.eval_frames"),
    ("codec.rd.scale_margin=abc", "codec.rd.scale_margin"),
    ("codec.rd.propagation=abc", "codec.rd.propagation"),
    ("codec.rd.propagation=2", "codec.rd.propagation"),
    ("codec.rd.slack=abc", "codec.rd.slack"),
    ("codec.rd.qualities=abc", "codec.rd.qualities"),
    ("codec.rd.qualities=[1,abc]", "codec.rd.qualities"),
    ("codec.rd.qualities=[]", "codec.rd.qualities"),
    ("codec.rd.budgets=[0]", "codec.rd.budgets"),
    ("codec.rd.scales=[0.5]", "codec.rd.scales"),
    ("codec.rd.search_speed=abc", "codec.rd.search_speed"),
    ("codec.rd.refine=abc", "codec.rd.refine"),
    ("codec.rd.inherit_quality=1", "codec.rd.inherit_quality"),
    ("codec.rd.decoder=nosuch", "codec.rd.decoder"),
    ("codec.rd.decoder={name: diffusion, steps: abc}", "codec.rd.decoder.steps"),
    ("codec.rd.distortion.scale_weights=abc", "codec.rd.distortion.scale_weights"),
    ("codec.rd.distortion.scale_weights=[0,0]", "codec.rd.distortion.scale_weights"),
    ("codec.rd.distortion.psnr_weight=abc", "codec.rd.distortion.psnr_weight"),
    ("codec.rd.distortion.vif_weight=2", "codec.rd.distortion.vif_weight"),
    ("codec.rd.distortion=3", "codec.rd.distortion"),
    ("codec.rd.search.points_per_step=abc", "codec.rd.search.points_per_step"),
    ("codec.rd.search.points_per_step=0", "codec.rd.search.points_per_step"),
    ("codec.rd.search.compare_grid=null", "codec.rd.search.compare_grid"),
    ("codec.rd.selection.compare_fractions=[2]", "codec.rd.selection.compare_fractions"),
    ("codec.rd.selection.decoded_choice=abc", "codec.rd.selection.decoded_choice"),
    ("+codec.rd.lamda=3", "codec.rd.lamda"),
]


def _checked(*overrides: str):
    return check_codec_config(compose(None, list(overrides)))


@pytest.mark.parametrize("mode", ["fast", "rd"])
@pytest.mark.parametrize("override, key", BAD_RD)
def test_a_bad_rd_value_is_one_line_naming_the_key_in_every_mode(override, key, mode):
    with pytest.raises(ConfigError) as e:
        _checked(f"codec.mode={mode}", override)
    msg = str(e.value)
    assert key in msg and "\n" not in msg, msg
    for internal in ("not supported between", "typing.", "Traceback", "instances of"):
        assert internal not in msg, msg


@pytest.mark.parametrize("override, key", [("codec.rd.lambda=abc", "codec.rd.lambda"),
                                           ("codec.rd.min_gop=abc", "codec.rd.min_gop"),
                                           ("codec.rd.distortion.scale_weights=abc", "codec.rd.distortion")])
def test_rd_settings_check_the_section_themselves(override, key):
    """``RDSettings.from_config`` (``--lambda``, RD rate control) checks what it is given, checked or not."""
    with pytest.raises(ConfigError, match=key):
        RDSettings.from_config(compose(None, ["codec.mode=rd", override]).codec)


def test_valid_rd_sections_keep_their_values():
    codec = _checked("codec.mode=rd", "codec.rd.lambda=2", "codec.rd.search.points_per_step=16",
                     "codec.rd.decoder={name: diffusion, steps: 2}")
    assert codec.rd["lambda"] == 2.0 and codec.rd.search.points_per_step == 16
    assert dict(codec.rd.decoder) == {"name": "diffusion", "steps": 2}
    settings = RDSettings.from_config(codec)
    assert settings.lam == 2.0 and settings.search["points_per_step"] == 16
    default = RDSettings.from_config(compose(None, ["codec.mode=rd"]).codec)
    assert (default.lam, default.min_gop, default.max_gop, default.eval_stride) == (4.0, 2, 96, 3)
    assert "decoder" not in _checked("~codec.rd.decoder").rd   # nothing added


@pytest.mark.parametrize("override, expected", [
    ("codec.keyframes=5", "codec.keyframes = 5 must be a section (a mapping of its keys)"),
    ("codec.trajectories.compare_fractions=abc", "must be a list of numbers in [0, 1] or null"),
    ("codec.rd.qualities=abc", "must be a list of integers in [0, 100]"),
    ("codec.rd.keyflow=abc", "must be true, false or null"),
])
def test_messages_name_types_as_words(override, expected):
    with pytest.raises(ConfigError) as e:
        _checked(override)
    assert expected in str(e.value)
    assert "typing" not in str(e.value) and "Merge error" not in str(e.value)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.y4m"
    write_video(path, moving_texture(4, 48, 64), 25.0)
    return path


@pytest.mark.parametrize("mode", ["fast", "rd"])
@pytest.mark.parametrize("override", ["codec.rd.lambda=abc", "codec.rd.lambda=null", "codec.rd.min_gop=abc",
                                      "codec.rd.search.points_per_step=abc", "codec.rd.distortion.psnr_weight=abc",
                                      "codec.keyframes=5"])
def test_encode_cli_says_one_error_line(clip, tmp_path, capsys, override, mode):
    out = tmp_path / "o.adv"
    assert encode.main([str(clip), "-o", str(out), f"codec.mode={mode}", override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert override.split("=")[0] in err[0], err
    assert not out.exists()


def test_encode_cli_lambda_flag_checks_the_section(clip, tmp_path, capsys):
    assert encode.main([str(clip), "-o", str(tmp_path / "o.adv"), "--lambda", "2", "codec.rd.eval_stride=abc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "codec.rd.eval_stride" in err[0], err
