"""The codec parameters a bitstream header carries: one table of their types and ranges, one check.

The same check runs on every header the decoder (and ``actdiff info``) reads, and on the header
the encoder is about to write (before any work, naming the config key it comes from), so encode
refuses exactly what decode would refuse. Keys (see :meth:`actdiff.image_codecs.base.ImageCodec.header_params`):

====  ========  =====================================  ======================================
key   type      config key                             range
====  ========  =====================================  ======================================
kc    str       ``keyframe_codec.name``                a registered keyframe codec
kq    int       ``keyframe_codec.quality``             the codec's own (checked when built)
ks    int       ``keyframe_codec.speed``               the codec's own
kp    str       ``keyframe_codec.checkpoint``          a weights file (see :mod:`.factory`)
ka    str       ``keyframe_codec.arch``                the codec's own
kr    float     ``keyframe_codec.scale``               1–16 (absent: 1)
tc    str       ``entropy.name``                       a registered trajectory coder
qs    float     ``entropy.step``                       1/256–1024 pixels
ts    int       ``trajectories.temporal_stride``       1–64 (absent: 1)
ki    bool      ``keyframe_inter``                     true (absent: no inter keyframes; format 2)
dm    bool      ``send_detail_mix``                    true (absent: no detail-mix bytes; format 3)
fr    bool      ``repeat_psnr``                        true (absent: no repeated frames; format 4)
====  ========  =====================================  ======================================

``kc.ARG`` keys carry other keyframe-codec arguments (int, float, str or bool), checked by the
codec's constructor. Types are strict: a float or string where an int belongs is an error, as is
an unknown key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from actdiff.errors import BitstreamError, ConfigError
from actdiff.image_codecs.base import PARAM_PREFIX
from actdiff.image_codecs.scaled import MAX_SCALE
from actdiff.registry import IMAGE_CODECS, TRAJECTORY_CODERS


@dataclass(frozen=True)
class Param:
    """One header parameter: exact type, config key, inclusive range (``None``: unbounded)."""

    kind: type
    config: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    required: bool = False

    @property
    def range_text(self) -> str:
        lo, hi = ("" if v is None else f"{v:g}" for v in (self.lo, self.hi))
        return f"{lo}..{hi}"

    def problem(self, value: Any) -> Optional[str]:
        """Why ``value`` does not fit (exact type; finite; in range), else ``None``."""
        if type(value) is not self.kind:
            kind = {int: "an integer", float: "a float", str: "a string", bool: "true or false"}[self.kind]
            return f"must be {kind}, not {type(value).__name__}"
        if self.kind is float and not math.isfinite(value):
            return "must be finite"
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            return f"is out of range {self.range_text}"
        return None


#: Range of the trajectory quantiser step: any frame side up to the format's 16384 then stays
#: within the trajectory coder's grid (``entropy.trajectory.MAX_GRID`` cells per side).
STEP_RANGE = (1 / 256, 1024.0)
STRIDE_RANGE = (1, 64)

STREAM_PARAMS: Dict[str, Param] = {
    "kc": Param(str, "keyframe_codec.name", required=True),
    "kq": Param(int, "keyframe_codec.quality"),
    "ks": Param(int, "keyframe_codec.speed"),
    "kp": Param(str, "keyframe_codec.checkpoint"),
    "ka": Param(str, "keyframe_codec.arch"),
    "kr": Param(float, "keyframe_codec.scale", 1.0, MAX_SCALE),
    "tc": Param(str, "entropy.name", required=True),
    "qs": Param(float, "entropy.step", *STEP_RANGE, required=True),
    "ts": Param(int, "trajectories.temporal_stride", *STRIDE_RANGE),
    "ki": Param(bool, "keyframe_inter"),
    "dm": Param(bool, "send_detail_mix"),
    "fr": Param(bool, "repeat_psnr"),
}


def check_stream_params(params: Dict[str, Any], from_file: bool = True) -> Tuple[str, float, int]:
    """Check header ``params`` against :data:`STREAM_PARAMS`; returns ``(coder, step, stride)``.

    ``from_file``: errors are ``BitstreamError`` naming the header key (a decoder reading a file);
    otherwise ``ConfigError`` naming the config key (an encoder about to write them).
    """

    def fail(key: str, why: str) -> None:
        spec = STREAM_PARAMS.get(key)
        value = "" if key not in params else f" = {params[key]!r}"
        if from_file:
            name = f"{key} ({spec.config})" if spec else key
            raise BitstreamError(f"bad bitstream header: param {name}{value} {why}")
        name = f"codec.{spec.config}" if spec else f"bitstream param {key}"
        raise ConfigError(f"{name}{value} {why} (the decoder's limit)")

    for key, value in params.items():
        spec = STREAM_PARAMS.get(key)
        if spec is None:
            if not key.startswith(PARAM_PREFIX):
                fail(key, "is not a parameter of this format")
            if type(value) not in (int, float, str, bool):
                fail(key, "must be an int, float, string or bool")
            continue
        if spec.kind is float and type(value) is int and not from_file:
            value = float(value)
        why = spec.problem(value)
        if why:
            fail(key, why)
    for key, spec in STREAM_PARAMS.items():
        if spec.required and key not in params:
            fail(key, "is missing")
    if params["kc"] not in IMAGE_CODECS:
        fail("kc", f"names no keyframe codec (known: {', '.join(IMAGE_CODECS.names())})")
    if params["tc"] not in TRAJECTORY_CODERS:
        fail("tc", f"names no trajectory coder (known: {', '.join(TRAJECTORY_CODERS.names())})")
    return params["tc"], float(params["qs"]), int(params.get("ts", 1))
