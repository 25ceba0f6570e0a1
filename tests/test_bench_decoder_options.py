"""benchmarks/bench_decoder.py's ``--set KEY=VALUE`` options of the diffusion decoder."""

import pytest
from _eval_helpers import load_script

from actdiff.errors import ConfigError


def test_decoder_options_read_numbers_booleans_and_words():
    mod = load_script("benchmarks/bench_decoder.py")
    assert mod.decoder_option("residual_scale=0.25") == ("residual_scale", 0.25)
    assert mod.decoder_option("coarse_lock=false") == ("coarse_lock", False)
    assert mod.decoder_option("residual_from=keyframes") == ("residual_from", "keyframes")
    for bad in ("residual_from", "=3"):
        with pytest.raises(ConfigError, match="KEY=VALUE"):
            mod.decoder_option(bad)
