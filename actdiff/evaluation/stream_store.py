"""Kept streams: when a stream encoded earlier may stand in for encoding it again.

Benchmarks keep their encoded streams (``benchmarks/bench_rd.py``: ``OUT/streams/<clip>_<point>.adv``
with a JSON of its statistics beside it) so that a second decoder decodes the very files the first
one scored and an interrupted run resumes. A kept stream is only valid for the encoder that made
it: the statistics record a fingerprint — the resolved ``codec`` section and the package's code —
and a stream whose fingerprint differs from the current one is encoded again, never silently used.
The encoder is deterministic, so equal fingerprints give byte-identical streams.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

#: The package whose code the fingerprint covers.
PACKAGE = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def package_code_hash() -> str:
    """sha256 over every ``actdiff/**/*.py`` (relative path and bytes): any code change counts."""
    h = hashlib.sha256()
    for f in sorted(PACKAGE.rglob("*.py")):
        h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def stream_fingerprint(codec: DictConfig | Mapping[str, Any]) -> dict[str, str]:
    """``{"codec": sha256 of the resolved codec section's sorted JSON, "code": package_code_hash()}``."""
    plain = OmegaConf.to_container(codec, resolve=True) if isinstance(codec, DictConfig) else dict(codec)
    text = json.dumps(plain, sort_keys=True, default=str)
    return {"codec": hashlib.sha256(text.encode()).hexdigest(), "code": package_code_hash()}


def stale_reason(stats_json: Path, fingerprint: Mapping[str, str]) -> str | None:
    """Why the kept stream whose statistics are ``stats_json`` cannot stand in for a new encode
    with ``fingerprint`` (``None``: it can)."""
    kept = json.loads(stats_json.read_text()).get("fingerprint") if stats_json.exists() else None
    if not kept:
        return "no fingerprint (encoded before they were recorded)"
    changed = [k for k in fingerprint if kept.get(k) != fingerprint[k]]
    return f"encoded with other {' and '.join('codec settings' if k == 'codec' else k for k in changed)}" \
        if changed else None
