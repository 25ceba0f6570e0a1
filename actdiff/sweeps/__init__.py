"""Ablation sweeps: a grid YAML (``configs/ablation/``) → one evaluate (or fit + evaluate) run per
point → one table.

``actdiff sweep configs/ablation/table1.yaml -o sweeps/table1`` runs offline and in-process;
``--wandb-yaml`` writes a W&B sweep whose agents run the same points one by one.
"""

from actdiff.sweeps.report import wandb_sweep, write_table
from actdiff.sweeps.run import PointStatus, collect, run_sweep
from actdiff.sweeps.spec import FitSpec, Point, Spec, load_spec, parse_spec

__all__ = ["FitSpec", "Point", "PointStatus", "Spec", "collect", "load_spec", "parse_spec", "run_sweep", "wandb_sweep",
           "write_table"]
