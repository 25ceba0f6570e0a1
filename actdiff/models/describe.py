"""What a weights folder holds, read from its ``config.json`` and safetensors headers only.

Nothing is built or unpickled: the config is JSON, a safetensors header lists each tensor's shape
and dtype. Used by ``actdiff info WEIGHTS_DIR``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from actdiff.errors import InputError

#: Decoding behaviour recorded in a frame model's config (``ControlledDenoiser``).
_SUMMARY_KEYS = ("conditioning_channels", "residual_over_warp", "residual_base", "prediction_type",
                 "latent", "latent_factor", "default_sampler")


def _tensors(files: list[Path]) -> dict[str, Any]:
    """Parameter count and dtypes over the safetensors ``files`` (headers only)."""
    from safetensors import safe_open

    count, dtypes, size = 0, set(), 0
    for f in files:
        size += f.stat().st_size
        with safe_open(str(f), framework="np") as st:
            for key in st.keys():
                sl = st.get_slice(key)
                count += math.prod(sl.get_shape())
                dtypes.add(str(sl.get_dtype()))
    return {"parameters": count, "dtypes": sorted(dtypes), "bytes": size}


def describe_weights(folder: str | Path) -> dict[str, Any]:
    """``{"folder", "class", "config": {...}, "parameters", "dtypes", "bytes", "files"}`` of a
    ``save_pretrained`` folder; a one-line ``InputError`` when it has no readable config.json."""
    folder = Path(folder).expanduser()
    cfg_path = folder / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{folder} is not a weights folder (no readable config.json: {type(e).__name__})") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{cfg_path} is not a JSON object")
    files = sorted(folder.rglob("*.safetensors"))
    try:
        tensors = _tensors(files)
    except Exception as e:  # a damaged header: say so in one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputError(f"{folder}: unreadable safetensors file ({first})") from None
    summary = {k: cfg[k] for k in _SUMMARY_KEYS if k in cfg}
    if "unet_config" in cfg:
        summary["block_out_channels"] = cfg["unet_config"].get("block_out_channels")
    return {"folder": str(folder), "class": cfg.get("_class_name"), "config": summary, **tensors,
            "files": [str(f.relative_to(folder)) for f in files]}


def format_weights(info: dict[str, Any]) -> str:
    """Readable text of :func:`describe_weights`."""
    lines = [f"{info['folder']}: {info['class'] or 'unknown model class'}",
             f"  parameters: {info['parameters'] / 1e6:.2f} M ({', '.join(info['dtypes']) or 'no tensors'}, "
             f"{info['bytes'] / 1e6:.1f} MB in {len(info['files'])} safetensors file(s))"]
    cfg = dict(info["config"])
    if cfg.get("residual_over_warp"):
        pred = cfg.get("residual_base", "blend") == "pred"
        lines.append("  residual over: " + ("the warp decoder's frame (pred channels)" if pred
                                            else "the blend of the two warped keyframes"))
    lines += [f"  {k}: {v}" for k, v in cfg.items()]
    return "\n".join(lines) + "\n"
