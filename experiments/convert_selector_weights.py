"""Convert single-file learned-selector weights (the format before the diffusers folders) into a
``save_pretrained`` folder, and prove the conversion exact.

Old format: one ``.safetensors`` holding the state dict, with metadata ``kind``
(``keyframe_selector`` | ``trajectory_selector``) and ``config`` (JSON of the constructor
arguments). New format: a folder with ``config.json`` + ``diffusion_pytorch_model.safetensors``
(:func:`actdiff.selection.learned.nets.load_selector`).

Usage (run once for the shipped weights, which were then deleted)::

    OMP_NUM_THREADS=1 python experiments/convert_selector_weights.py \\
        actdiff/assets/weights/selectors/keyframe.safetensors \\
        actdiff/assets/weights/selectors/trajectory.safetensors

Each ``X.safetensors`` becomes the folder ``X/`` (or ``-o DIR`` for a single file). Checks, each
an error if it fails: the folder, reloaded with the package's loader, holds exactly the same
tensor names, dtypes and values (``torch.equal``) and the same constructor arguments as the old
file, and its net gives bit-identical outputs to the net built from the old file on seeded
``torch.rand`` inputs (the inputs of tests/golden/learned_selectors.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, Tuple

import torch

from actdiff.selection.learned.nets import NETS, load_selector


def read_old(path: Path) -> Tuple[str, Dict[str, Any], Dict[str, torch.Tensor]]:
    """``(kind, constructor arguments, state dict)`` of an old single-file weights file."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("kind") not in NETS or "config" not in meta:
        raise SystemExit(f"error: {path} is not an old-format selector weights file (metadata kind/config)")
    return meta["kind"], json.loads(meta["config"]), load_file(str(path))


def seeded_inputs(kind: str) -> torch.Tensor:
    """The inputs of tests/golden/learned_selectors.json for ``kind``."""
    g = torch.Generator().manual_seed(0)
    xk = torch.rand(4, 13, 64, 96, generator=g)
    xi = torch.rand(2, 3, 48, 64, generator=g)
    return xk if kind == "keyframe_selector" else xi


def convert(old_path: Path, out: Path) -> str:
    """Write ``out`` from ``old_path``, check it (module docstring); returns a one-line summary."""
    kind, config, state = read_old(old_path)
    old_net = NETS[kind](**config)
    old_net.load_state_dict(state, strict=True)
    old_net.eval()
    old_net.save_pretrained(str(out), safe_serialization=True)

    new_net = load_selector(out, kind)
    new_state = new_net.state_dict()
    if set(new_state) != set(state):
        raise SystemExit(f"error: {out}: tensor names differ: {sorted(set(new_state) ^ set(state))}")
    for k, v in state.items():
        if new_state[k].dtype != v.dtype or not torch.equal(new_state[k], v):
            raise SystemExit(f"error: {out}: tensor {k} differs from {old_path}")
    new_config = {k: new_net.config[k] for k in config}
    if json.loads(json.dumps(new_config)) != config:
        raise SystemExit(f"error: {out}: config {new_config} differs from {config}")
    x = seeded_inputs(kind)
    with torch.no_grad():
        a, b = old_net(x), new_net(x)
    if not torch.equal(a, b):
        raise SystemExit(f"error: {out}: outputs differ from {old_path} (max |diff| {(a - b).abs().max():.3g})")
    n = sum(v.numel() for v in state.values())
    return (f"{old_path} -> {out}: {kind}, {len(state)} tensors / {n} parameters identical (torch.equal), "
            f"config {config} identical, outputs on seeded inputs {tuple(a.shape)} identical (torch.equal)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+", help="old single-file .safetensors weights")
    p.add_argument("-o", "--output", help="output folder (one input only; default: the input without .safetensors)")
    args = p.parse_args()
    if args.output and len(args.weights) > 1:
        p.error("-o needs a single input")
    torch.set_num_threads(1)
    for w in args.weights:
        old = Path(w)
        if not old.is_file():
            p.error(f"{old} is not a file")
        out = Path(args.output) if args.output else old.with_suffix("")
        if out.exists():
            p.error(f"{out} exists: remove it or pass -o DIR")
        print(convert(old, out))
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
