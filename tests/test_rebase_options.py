"""The one place both diffusion decoders resolve where their residual goes (actdiff.decoders.rebase)."""

import pytest

from actdiff.decoders.rebase import RebaseOptions, resolve_options
from actdiff.errors import ConfigError

STORED = {"base": "detail", "detail_mix": 0.5, "residual_band": "fine", "residual_scale": 0.75}


def test_given_values_win_over_stored_ones_which_win_over_the_defaults():
    assert resolve_options({}, own_base="blend") == RebaseOptions("blend", 1.0, True, "all", 1.0)
    assert resolve_options({}) == RebaseOptions(None, 1.0, True, "all", 1.0)  # None: the model's own base
    assert resolve_options(STORED, own_base="blend") == RebaseOptions("detail", 0.5, True, "fine", 0.75)
    given = resolve_options(STORED, "detail", 0.25, "all", 0.0, own_base="blend")
    assert given == RebaseOptions("detail", 0.25, False, "all", 0.0)  # a given mix beats the stream's
    assert resolve_options(STORED, "prediction", None, "all", 0.0) == RebaseOptions("prediction", 0.5, True, "all", 0.0)


def test_a_mix_given_for_another_base_is_refused_not_ignored():
    for base, stored in (("prediction", STORED), ("blend", {}), (None, {})):
        with pytest.raises(ConfigError, match="detail_mix acts on the 'detail' base only"):
            resolve_options(stored, base, 0.25)


@pytest.mark.parametrize("kwargs, word", [({"base": "pred"}, "base"), ({"detail_mix": 1.5}, "detail_mix"),
                                          ({"residual_band": "coarse"}, "residual_band"),
                                          ({"residual_scale": -0.1}, "residual_scale")])
def test_bad_values_given_or_stored_fail_in_one_line(kwargs, word):
    for options in (lambda: resolve_options({}, **kwargs), lambda: resolve_options(kwargs)):
        with pytest.raises(ConfigError, match=word) as err:
            options()
        assert "\n" not in str(err.value)
