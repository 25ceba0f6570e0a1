"""What a weights folder holds, read from its ``config.json`` and safetensors headers only.

Nothing is built or unpickled: the config is JSON, a safetensors header lists each tensor's shape
and dtype. Used by ``actdiff info WEIGHTS_DIR``, which refuses in one line a ``config.json`` that
fails :func:`actdiff.models.loading.read_weights_config` (the check the decoders run too): its
``_class_name`` must be one of the project's models (:func:`model_classes`), its sections JSON
objects, its noise schedule sane.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from actdiff.errors import InputError
from actdiff.models.loading import read_weights_config

#: Decoding behaviour recorded in a frame model's config (``ControlledDenoiser``).
_SUMMARY_KEYS = ("conditioning_channels", "residual_over_warp", "residual_base", "prediction_type",
                 "latent", "latent_factor", "default_sampler")


def model_classes() -> frozenset[str]:
    """The ``_class_name`` values of the project's models that a weights folder may hold: the frame
    model, the video generators (:data:`actdiff.models.generator.GENERATOR_CLASSES`), the tracking
    branch (and Diffusion-as-Shader checkpoints holding one) and the learned selectors."""
    from actdiff.models.denoiser import ControlledDenoiser
    from actdiff.models.generator import GENERATOR_CLASSES
    from actdiff.models.tracking_branch import DAS_CLASS, TrackingBranch
    from actdiff.selection.learned.nets import ImportanceNet, KeyframeNet

    named = (ControlledDenoiser, TrackingBranch, KeyframeNet, ImportanceNet)
    return frozenset({c.__name__ for c in named} | set(GENERATOR_CLASSES) | {DAS_CLASS})


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
    ``save_pretrained`` folder; a one-line ``InputError`` when its config.json is unreadable or fails
    :func:`read_weights_config`."""
    folder = Path(folder).expanduser()
    cfg = read_weights_config(folder, model_classes())
    files = sorted(folder.rglob("*.safetensors"))
    try:
        tensors = _tensors(files)
    except Exception as e:  # a damaged header: say so in one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputError(f"{folder}: unreadable safetensors file ({first})") from None
    summary = {k: cfg[k] for k in _SUMMARY_KEYS if k in cfg}
    if cfg.get("unet_config") is not None:
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
