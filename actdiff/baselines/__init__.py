"""Classical baseline codecs (x264, x265, SVT-AV1) run through PyAV's libavcodec."""

from actdiff.baselines.pyav_codec import (
    BASELINES,
    BaselineResult,
    BaselineSpec,
    encode_decode,
    rate_points,
)

__all__ = ["BASELINES", "BaselineResult", "BaselineSpec", "encode_decode", "rate_points"]
