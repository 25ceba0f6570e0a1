"""The Lightning strategy of a fit, from ``trainer.strategy`` (a name, or a mapping with ``name`` + options).

* ``auto`` | ``ddp_spawn`` — Lightning's own, by name;
* ``ddp`` — ``DDPStrategy`` (gloo on CPU); options: any ``DDPStrategy`` keyword
  (``find_unused_parameters``, ``static_graph`` …);
* ``fsdp`` — ``FSDPStrategy`` (GPUs only); options: ``auto_wrap`` and ``activation_checkpointing``
  (dotted class paths, e.g. ``diffusers.models.transformers.cogvideox_transformer_3d.CogVideoXBlock``:
  each block its own FSDP unit / recomputed in the backward pass), ``sharding_strategy``
  (``FULL_SHARD`` | ``SHARD_GRAD_OP`` | ``HYBRID_SHARD`` — shard inside a node, replicate across
  nodes | ``NO_SHARD``), ``cpu_offload``, ``state_dict_type`` (``full`` | ``sharded``), and other
  ``FSDPStrategy`` keywords. ``use_orig_params`` defaults to true (frozen and trained parameters
  share FSDP units when only a branch trains);
* ``deepspeed`` — ``DeepSpeedStrategy`` (GPUs only, needs the ``deepspeed`` package); options: its
  keywords (``stage``, ``offload_optimizer``, ``offload_parameters`` …).

Examples: ``configs/trainer/gpu_fsdp.yaml``, ``gpu_deepspeed.yaml``, ``multinode_fsdp.yaml``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from omegaconf import DictConfig, OmegaConf

from actdiff.errors import ConfigError

STRATEGIES = ("auto", "ddp", "ddp_spawn", "fsdp", "deepspeed")
SHARDING = ("FULL_SHARD", "SHARD_GRAD_OP", "HYBRID_SHARD", "_HYBRID_SHARD_ZERO2", "NO_SHARD")


def _resolve_class(path: str) -> type:
    module, _, name = str(path).rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"trainer.strategy: cannot import the class {path!r} (give a dotted path)") from None


def strategy_spec(trainer_cfg: Any) -> tuple[str, dict[str, Any]]:
    """``(name, options)`` of ``trainer.strategy``."""
    spec = trainer_cfg.get("strategy", "auto") if trainer_cfg is not None else "auto"
    if isinstance(spec, DictConfig):
        spec = OmegaConf.to_container(spec, resolve=True)
    if isinstance(spec, dict):
        opts = dict(spec)
        if "name" not in opts:
            raise ConfigError("trainer.strategy as a mapping needs a name (auto | ddp | ddp_spawn | fsdp | deepspeed)")
        name = str(opts.pop("name"))
    else:
        name, opts = str(spec), {}
    if name not in STRATEGIES:
        raise ConfigError(f"unknown trainer.strategy {name!r} (known: {', '.join(STRATEGIES)})")
    if name in ("auto", "ddp_spawn") and opts:
        raise ConfigError(f"trainer.strategy {name} takes no options (got {sorted(opts)})")
    sharding = str(opts.get("sharding_strategy", "FULL_SHARD"))
    if name == "fsdp" and sharding not in SHARDING:
        raise ConfigError(f"unknown trainer.strategy.sharding_strategy {sharding!r} (known: {', '.join(SHARDING)})")
    return name, opts


def check_strategy_machine(trainer_cfg: Any, cpu: bool) -> str:
    """The name of ``trainer.strategy`` once this machine can run it: ``cpu`` (the fit runs on
    CPUs) refuses FSDP and DeepSpeed, and DeepSpeed needs its package; checked before any work."""
    name, _ = strategy_spec(trainer_cfg)
    if name == "fsdp" and cpu:
        raise ConfigError("trainer.strategy=fsdp needs GPUs (Lightning has no FSDP on CPU); "
                          "use trainer.strategy=ddp on CPU")
    if name == "deepspeed" and cpu:
        raise ConfigError("trainer.strategy=deepspeed needs GPUs; use trainer.strategy=ddp on CPU")
    if name == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError("trainer.strategy=deepspeed needs the deepspeed package (pip install deepspeed), "
                          "or use trainer.strategy=fsdp")
    return name


def build_strategy(trainer_cfg: Any) -> Any:
    """The ``strategy`` argument of ``lightning.Trainer`` (a name or a strategy object)."""
    name, opts = strategy_spec(trainer_cfg)
    cpu = str(trainer_cfg.get("accelerator", "cpu")) == "cpu"
    check_strategy_machine(trainer_cfg, cpu)
    if name in ("auto", "ddp_spawn"):
        return name
    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(process_group_backend="gloo" if cpu else None, **opts)
    if name == "fsdp":
        return _fsdp(opts)
    from lightning.pytorch.strategies import DeepSpeedStrategy

    return DeepSpeedStrategy(**opts)


def _fsdp(opts: dict[str, Any]) -> Any:
    from lightning.pytorch.strategies import FSDPStrategy

    wrap = {_resolve_class(p) for p in opts.pop("auto_wrap", None) or []}
    ckpt = {_resolve_class(p) for p in opts.pop("activation_checkpointing", None) or []}
    sharding = str(opts.pop("sharding_strategy", "FULL_SHARD"))  # a known one (strategy_spec)
    opts.setdefault("use_orig_params", True)
    return FSDPStrategy(auto_wrap_policy=wrap or None, activation_checkpointing_policy=ckpt or None,
                        sharding_strategy=sharding, **opts)
