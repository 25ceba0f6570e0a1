"""``actdiff sweep configs/ablation/NAME.yaml``: ablation grids — not built yet."""

from __future__ import annotations

from typing import Sequence

from actdiff.commands.common import ArgumentParser, cli_entry
from actdiff.errors import ActDiffError


@cli_entry
def main(argv: Sequence[str]) -> int:
    p = ArgumentParser(prog="actdiff sweep", description=__doc__)
    p.add_argument("grid", nargs="?", help="ablation grid YAML (configs/ablation/)")
    p.parse_args(argv)
    raise ActDiffError(
        "`actdiff sweep` is not built yet (tracked in the issue on selectors, rate control and "
        "ablation sweeps); run points by hand with `actdiff evaluate ... key=value` for now"
    )
