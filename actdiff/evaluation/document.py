"""``Results``: a results document (docs/results_schema.md) with the analysis a notebook wants.

A ``Results`` is the plain JSON ``dict`` (``results["sequences"]``, ``results["mean"]``, …) plus
``to_dataframe()``, ``curves()``, ``bdrate()``, ``plot()`` and ``save()``, all thin wrappers of the
library functions the ``bdrate`` and ``plot`` commands use.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from actdiff.evaluation.merge import load_many
from actdiff.evaluation.results import save_results, to_curves, validate

#: Fields of a rate point copied into every row of :meth:`Results.to_dataframe` (when present).
ROW_FIELDS = ("quality_param", "crf", "target", "rate", "bpp", "bits_total", "frames", "height", "width",
              "keyframes", "trajectories", "encode_seconds", "decode_seconds")


class Results(dict):
    """A validated results document; a ``dict``, so ``json.dump`` and indexing work unchanged."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(validate(dict(doc)))

    @property
    def codec(self) -> str:
        return str(self["codec"])

    def to_dataframe(self) -> Any:
        """A ``pandas.DataFrame``, one row per (sequence, rate point): ``codec``, ``sequence``,
        the rate parameter, ``bpp``, sizes, timings and one column per metric."""
        import pandas as pd

        rows = []
        for seq, points in self["sequences"].items():
            for i, p in enumerate(points):
                row = {"codec": self.codec, "sequence": seq, "point": i}
                row.update({k: p[k] for k in ROW_FIELDS if k in p})
                row.update(p.get("metrics", {}))
                rows.append(row)
        return pd.DataFrame(rows)

    def curves(self, metric: str, include_mean: bool = True) -> dict[str, tuple[Any, Any]]:
        """``{sequence: (bpp, metric)}`` arrays sorted by bpp (and ``"mean"``)."""
        return to_curves(self, metric, include_mean=include_mean)

    def bdrate(self, anchor: dict[str, Any], metric: str, frontier: bool = False) -> dict[str, Any]:
        """BD-rate and matched savings of these results (tested) against ``anchor``: a negative
        BD-rate means these results need fewer bits (see :mod:`actdiff.evaluation.bdrate`)."""
        from actdiff.evaluation.bdrate import compare

        return compare(self, anchor, metric, frontier=frontier)

    def bdrate_table(self, anchor: dict[str, Any], metric: str, frontier: bool = False) -> str:
        """:meth:`bdrate` as the Markdown table ``actdiff bdrate`` prints."""
        from actdiff.evaluation.bdrate import to_markdown

        return to_markdown(self.bdrate(anchor, metric, frontier))

    def metric_names(self) -> list[str]:
        """Every metric some rate point of these results holds."""
        from actdiff.evaluation.results import metric_names

        return metric_names(self)

    def plot(self, metric: str, *others: dict[str, Any], title: str = "") -> Any:
        """A matplotlib figure of ``metric`` vs bpp for these results and ``others``."""
        from actdiff.evaluation.plotting import draw

        return draw([self, *others], metric, title)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the document atomically (``mean`` recomputed)."""
        return save_results(dict(self), path, overwrite=overwrite)


def load_results(paths: str | Path | Iterable[str | Path]) -> Results:
    """Read a results JSON (or merge several shard files of one run) into :class:`Results`."""
    if isinstance(paths, (str, Path)):
        paths = [p for p in str(paths).split(",")] if "," in str(paths) else [paths]
    return Results(load_many(paths))
