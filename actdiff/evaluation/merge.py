"""Merging the shard results of one run (``evaluate``/``bench --shard i/n``) into one document.

``actdiff evaluate --merge``, ``bench --merge`` and the comma-separated inputs of ``bdrate`` and
``plot`` go through :func:`merge_results`. A merge refuses what would silently give a wrong
table: parts of different codecs, datasets or protocols, a sequence in two parts, and — when the
parts say which shard they are (``config.shard``, written by ``--shard``) — shards of different
splits, a shard given twice or one missing (the merged document would look complete without its
sequences). Parts whose other settings differ (their ``config`` apart from the shard: a rate
point, a decoder option, a default changed between two runs) are merged with a warning naming
the keys; every part's shard, sequences, versions, machine and such differing config stay in the
merged document under ``merged_from`` (docs/results_schema.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from actdiff.errors import InputError
from actdiff.evaluation.results import compute_mean, load_results, parse_shard

#: Top-level keys every part must share.
SAME_KEYS = ("codec", "dataset", "protocol")


def _config(doc: Dict[str, Any]) -> Dict[str, Any]:
    cfg = doc.get("config")
    return cfg if isinstance(cfg, dict) else {}


def _shard(doc: Dict[str, Any]) -> Optional[Tuple[int, int]]:
    text = _config(doc).get("shard")
    return None if text is None else parse_shard(str(text))


def check_shards(parts: Sequence[Dict[str, Any]], names: Sequence[str]) -> None:
    """``InputError`` unless the parts' shards (``config.shard``, ``"i/n"``) are all absent or are
    each ``i`` of one ``n`` exactly once. ``names`` name the parts in messages."""
    shards = [_shard(p) for p in parts]
    if all(s is None for s in shards):
        return
    for s, name in zip(shards, names):
        if s is None:
            raise InputError(f"cannot merge {name} (not a shard: no config.shard) with the shards of a run")
    counts = {n for _, n in shards}
    if len(counts) > 1:
        raise InputError(f"cannot merge shards of different splits: /{' and /'.join(map(str, sorted(counts)))}")
    n = counts.pop()
    seen: Dict[int, str] = {}
    for (i, _), name in zip(shards, names):
        if i in seen:
            raise InputError(f"shard {i}/{n} given twice ({seen[i]} and {name})")
        seen[i] = name
    missing = [f"{i}/{n}" for i in range(n) if i not in seen]
    if missing:
        raise InputError(f"shard(s) {', '.join(missing)} missing: the merge would lack their sequences")


def config_differences(a: Any, b: Any, prefix: str = "") -> List[str]:
    """Dotted keys at which two JSON configs differ (``shard`` left out), sorted."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: List[str] = []
        for key in sorted(set(a) | set(b)):
            if not prefix and key == "shard":
                continue
            out += config_differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".") or "config"]


def merge_results(parts: Sequence[Dict[str, Any]], names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """One results document of the parts' sequences (each part a validated results document).

    Args:
        parts: results of one run's shards (same codec, dataset and protocol).
        names: how messages call the parts (default ``part 1``, ``part 2``, …), e.g. their paths.

    Returns:
        The first part's document with every part's sequences and sources, the mean recomputed,
        ``config.shard`` cleared and ``merged_from`` listing the parts (module docstring).
    """
    if not parts:
        raise InputError("nothing to merge")
    names = list(names or [f"part {k + 1}" for k in range(len(parts))])
    base = json.loads(json.dumps(parts[0]))
    for other, name in zip(parts[1:], names[1:]):
        for key in SAME_KEYS:
            if other[key] != base[key]:
                raise InputError(f"cannot merge results with different {key}: {other[key]!r} ({name}) "
                                 f"vs {base[key]!r} ({names[0]})")
    check_shards(parts, names)
    diffs = [config_differences(_config(parts[0]), _config(p)) for p in parts]
    differing = sorted({k for d in diffs for k in d})
    if differing:
        shown = ", ".join(differing[:6]) + (f" and {len(differing) - 6} more" if len(differing) > 6 else "")
        sys.stderr.write(f"warning: merging results whose config differs ({shown}); each part's is kept "
                         "under merged_from\n")
    base["sequences"], base["source"], base["merged_from"] = {}, {}, []
    for part, name in zip(parts, names):
        for seq, points in part["sequences"].items():
            if seq in base["sequences"]:
                raise InputError(f"sequence {seq!r} appears in two shards ({name} and another)")
            base["sequences"][seq] = points
        base["source"].update(part.get("source") or {})
        base["merged_from"].append(_provenance(part, name, bool(differing)))
    if not base["source"]:
        del base["source"]
    base.setdefault("config", {})
    if isinstance(base["config"], dict):
        base["config"]["shard"] = None
    base["mean"] = compute_mean(base["sequences"])
    return base


def _provenance(part: Dict[str, Any], name: str, with_config: bool) -> Dict[str, Any]:
    """What ``merged_from`` keeps of one part."""
    entry = {"name": name, "shard": _config(part).get("shard"), "sequences": sorted(part["sequences"]),
             "versions": part.get("versions"), "machine": part.get("machine")}
    if with_config:
        entry["config"] = part.get("config")
    return entry


def load_many(paths: Iterable[str | Path]) -> Dict[str, Any]:
    """Load one results file, or merge several shard files of the same run."""
    paths = [str(p) for p in paths]
    docs = [load_results(p) for p in paths]
    return docs[0] if len(docs) == 1 else merge_results(docs, paths)


__all__ = ["check_shards", "config_differences", "load_many", "merge_results"]
