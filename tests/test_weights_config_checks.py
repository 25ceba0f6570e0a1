"""A weights folder's ``config.json`` comes from anywhere: ``actdiff info DIR`` and ``actdiff decode
--weights DIR`` refuse a damaged one in one ``error:`` line, exit 2 (a section that is not an object,
a bad noise schedule, a ``_class_name`` that is not one of the project's models), before any model is
built or frame decoded; nothing in it runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _cli import one_error_line

from actdiff.commands.decode import main as decode_main
from actdiff.commands.info import main as info_main

ASSETS = Path(__file__).resolve().parent.parent / "actdiff" / "assets" / "weights"



@pytest.fixture(scope="module")
def stream(small_adv_file):
    return small_adv_file


def _edited(micro_weights: Path, folder: Path, edit) -> Path:
    """A copy of the micro weights with ``edit(cfg)`` applied to its config.json (the new config
    returned by ``edit``, or ``cfg`` changed in place)."""
    shutil.copytree(micro_weights, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg = edit(cfg) or cfg
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def _set(path: str, value):
    """An edit setting the config key ``path`` (``a.b``: key ``b`` of section ``a``) to ``value``."""
    def edit(cfg):
        *parents, key = path.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[key] = value
    return edit


#: Damaged configs both commands refuse: (edit, words of the error line).
DAMAGED = {
    "unet_config": (_set("unet_config", "abc"), ["unet_config", "'abc'", "JSON object"]),
    "default_sampler": (_set("default_sampler", "abc"), ["default_sampler", "'abc'", "JSON object"]),
    "noise_schedule": (_set("noise_schedule", [1, 2]), ["noise_schedule", "JSON object"]),
    "negative_timesteps": (_set("noise_schedule.num_train_timesteps", -5),
                           ["noise_schedule.num_train_timesteps", "-5", "whole number"]),
    "zero_timesteps": (_set("noise_schedule.num_train_timesteps", 0), ["num_train_timesteps", "whole number"]),
    "text_timesteps": (_set("noise_schedule.num_train_timesteps", "abc"), ["num_train_timesteps", "'abc'"]),
    "huge_timesteps": (_set("noise_schedule.num_train_timesteps", 10 ** 12), ["num_train_timesteps", "[1, "]),
    "sampler_strength": (_set("default_sampler.strength", "abc"), ["default_sampler.strength", "number"]),
    "sampler_blend": (_set("default_sampler.temporal_blend", None), ["default_sampler.temporal_blend", "number"]),
    "foreign_class": (_set("_class_name", "os.system"), ["_class_name", "'os.system'", "ControlledDenoiser"]),
    "class_not_text": (_set("_class_name", ["os", "system"]), ["_class_name", "ControlledDenoiser"]),
    "not_an_object": (lambda cfg: [cfg], ["config.json", "not a JSON object"]),
}
#: Refused by ``actdiff info`` already (the check it had): tested for decode only.
INFO_REFUSED_BEFORE = {"not_an_object"}


@pytest.mark.parametrize("name", sorted(set(DAMAGED) - INFO_REFUSED_BEFORE))
def test_info_refuses_a_damaged_config_in_one_line(micro_weights, tmp_path, capsys, name):
    edit, words = DAMAGED[name]
    folder = _edited(micro_weights, tmp_path / "w", edit)
    assert info_main([str(folder)]) == 2
    line = one_error_line(capsys)
    assert all(w in line for w in words), line
    assert capsys.readouterr().out == ""   # nothing presented as the model


def _decode_refused(stream, folder, out, capsys, words) -> None:
    """``actdiff decode --weights folder`` exits 2 with one line holding ``words`` and writes nothing."""
    assert decode_main([str(stream), "-o", str(out), "--decoder", "diffusion", "--weights", str(folder)]) == 2
    line = one_error_line(capsys)
    assert all(w in line for w in words), line
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_decode_refuses_a_damaged_config_before_building_the_model(micro_weights, stream, tmp_path, capsys,
                                                                  monkeypatch, name):
    from actdiff.models.denoiser import ControlledDenoiser

    def refuse(*args, **kwargs):
        raise AssertionError("the model was built from a damaged config")

    monkeypatch.setattr(ControlledDenoiser, "from_pretrained", refuse)
    edit, words = DAMAGED[name]
    _decode_refused(stream, _edited(micro_weights, tmp_path / "w", edit), tmp_path / "o.y4m", capsys, words)


@pytest.mark.parametrize("edit,words", [
    (_set("noise_schedule.beta_schedule", "abc"), ["noise schedule", "dpmsolver++", "abc"]),
    (_set("noise_schedule.foo", 1), ["noise schedule", "dpmsolver++", "foo"]),
    (_set("noise_schedule.num_train_timesteps", 2), ["sampling steps 3 exceed the 2 training timesteps"]),
    (_set("_class_name", "KeyframeNet"), ["_class_name", "'KeyframeNet'"]),  # a model, not a decoder's
])
def test_decode_refuses_a_schedule_its_sampler_cannot_run(micro_weights, stream, tmp_path, capsys, monkeypatch,
                                                          edit, words):
    """What only the sampler can judge (the beta schedule, the schedule's keys, the steps it allows) is
    refused when the decoder is built, before any frame is sampled."""
    from actdiff.decoders import diffusion

    def refuse(*args, **kwargs):
        raise AssertionError("sampling started")

    monkeypatch.setattr(diffusion, "sample", refuse)
    _decode_refused(stream, _edited(micro_weights, tmp_path / "w", edit), tmp_path / "o.y4m", capsys, words)


def test_info_describes_the_projects_other_weights(micro_weights, tmp_path, capsys):
    """The class check knows every model of the project: the shipped selectors' weights are described,
    and a frame model whose optional sections are null too (it used to fail on ``unet_config: null``)."""
    for folder in (ASSETS / "selectors" / "keyframe", ASSETS / "selectors" / "trajectory"):
        if (folder / "config.json").is_file():
            assert info_main([str(folder), "--json"]) == 0
            assert json.loads(capsys.readouterr().out)["class"] in ("KeyframeNet", "ImportanceNet")
    folder = _edited(micro_weights, tmp_path / "w", _set("unet_config", None))
    assert info_main([str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["class"] == "ControlledDenoiser"
