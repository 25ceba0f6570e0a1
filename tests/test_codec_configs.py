"""The shipped codec variants (ablations) compose and change what they claim to change."""

import pytest

from actdiff.config import compose


@pytest.mark.parametrize("variant,key,value", [
    ("fixed_gop", "codec.keyframes.name", "fixed"),
    ("uniform_grid", "codec.trajectories.name", "uniform"),
    ("highest_motion", "codec.trajectories.name", "motion"),
    ("no_weight_map", "codec.trajectories.weight_map", "none"),
])
def test_codec_variant(variant, key, value):
    from omegaconf import OmegaConf

    base = compose(None, [])
    cfg = compose(None, [f"codec={variant}"])
    assert OmegaConf.select(cfg, key) == value
    assert OmegaConf.select(base, key) != value
    # everything else is the default
    assert cfg.codec.entropy == base.codec.entropy and cfg.protocol == base.protocol


def test_rate_points_are_ordered_by_rate():
    from actdiff.evaluation.rates import load_rates, rates_file

    points = load_rates(rates_file(), None)
    quality = [
        int(next(o for o in p if o.startswith("keyframe_codec.quality=")).split("=")[1]) for p in points.values()
    ]
    assert quality == sorted(quality) and len(points) >= 4
