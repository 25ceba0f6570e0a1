"""One ``codec.decoder`` section serves every decoder: each takes its own options and leaves the
others', and a key that no decoder takes (a typo) is refused by all of them."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from actdiff.codec.schema import DecoderSchema
from actdiff.decoders import build_decoder
from actdiff.decoders.base import SECTION_OPTIONS
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.decoders.video import VideoDiffusionDecoder
from actdiff.errors import ConfigError


def _params(cls: type) -> set[str]:
    return {n for n, p in inspect.signature(cls.__init__).parameters.items()
            if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def test_the_section_options_are_the_schemas_and_every_decoders():
    schema = {f.name for f in dataclasses.fields(DecoderSchema)} - {"name"}
    decoders = _params(DiffusionDecoder) | _params(VideoDiffusionDecoder) | {"bidirectional", "prediction",
                                                                             "prediction_params"}
    assert schema <= SECTION_OPTIONS and decoders <= SECTION_OPTIONS
    assert SECTION_OPTIONS == schema | decoders  # nothing listed that no decoder takes


def test_the_warp_decoder_refuses_a_typo_and_leaves_the_diffusion_options():
    with pytest.raises(ConfigError, match="unknown decoder option.* prediction_param for the warp decoder"):
        build_decoder("warp", prediction_param={"sprites": True})
    with pytest.raises(ConfigError, match="stepz"):
        build_decoder({"name": "warp", "stepz": 4})
    assert build_decoder({"name": "warp", "steps": 4, "temporal_blend": 0.5}).name == "warp"  # a shared section


def test_options_with_an_already_built_decoder_are_refused():
    """``decode(data, built, steps=4)`` and ``decode_video(data, built, bidirectional=False)`` ignored them."""
    import numpy as np

    import actdiff
    from actdiff.codec import decode_video

    clip = np.random.default_rng(0).integers(0, 256, (4, 48, 64, 3), dtype=np.uint8)
    enc = actdiff.encode(clip)
    built = build_decoder("warp")
    with pytest.raises(ConfigError, match="steps given with an already built warp decoder"):
        actdiff.decode(enc, built, steps=4)
    with pytest.raises(ConfigError, match="bidirectional given with an already built"):
        decode_video(enc.data, built, bidirectional=False)
    assert build_decoder(built, weights=None) is built  # None: an option not given
    assert decode_video(enc.data, built).frames.shape == clip.shape
