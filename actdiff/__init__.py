"""ActDiff: generative video compression at ultra-low bitrates.

The public API (imported on first use, so ``import actdiff`` and ``actdiff --help`` stay fast)::

    from actdiff import encode, decode, evaluate, load_results, ActDiffPipeline

    enc = encode("clip.mp4", target_bpp=0.01)       # bytes + stats (EncodeResult)
    video = decode(enc, decoder="diffusion")        # Video: frames uint8 (T, H, W, 3)
    res = evaluate("clip.mp4", rates=["r1", "r3"])  # Results (a dict) → res.to_dataframe()

See :mod:`actdiff.api`. Lower levels: :mod:`actdiff.codec` (encode_video, decode_video),
:mod:`actdiff.decoders`, :mod:`actdiff.evaluation`, :mod:`actdiff.training`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name → module that defines it.
_API = {
    **dict.fromkeys(["encode", "decode", "decode_segments", "describe", "evaluate", "bench", "score", "sweep",
                     "load_results", "sample_clip", "contact_sheet", "ActDiffPipeline", "PipelineOutput", "Results"],
                    "actdiff.api"),
    **dict.fromkeys(["EncodeResult", "Video", "DecodedSegment", "StreamHeader"], "actdiff.types"),
    **dict.fromkeys(["ActDiffError", "ConfigError", "InputError", "MissingWeightsError"], "actdiff.errors"),
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'actdiff' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API and the module's dunders (not its own imports: tab completion shows the API)."""
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})
