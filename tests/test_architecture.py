"""The import structure: the data flows one way, the library never imports its command line.

Every ``import`` in ``actdiff/`` (also those inside functions) is read with ``ast``. A module may
import its own package and packages of its layer or below in :data:`LAYERS`, which follows the
data path (video → segments/keyframes → tracks → trajectories → bitstream → conditions →
denoiser → frames), with the orchestration above it. Only ``actdiff.commands``, ``actdiff.cli`` and
``actdiff.__main__`` may import ``actdiff.commands``/``actdiff.cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "actdiff"

#: Bottom to top; a package may import packages of its own layer or of layers below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "registry", "types", "config", "progress"),  # foundation: no codec knowledge
    ("io", "data", "metrics", "baselines"),     # video in/out, datasets, scoring, classical codecs
    ("motion",),                                # geometry shared by encoder and decoders
    ("tracking",),                              # dense motion
    ("selection",),                             # segments/keyframes, trajectories (+ learned selectors)
    ("entropy", "image_codecs"),                # trajectory coding, keyframe coding
    ("conditioning",),                          # decoded segment → condition tensor
    ("models",),                                # the denoiser networks
    ("decoders",),                              # decoded segment → frames (warp, diffusion)
    ("codec",),                                 # bitstream, encoder, decoder, rate control
    ("evaluation",),                            # rate points, the encode→decode→metrics loop, results
    ("training",),                              # Lightning modules, data, callbacks
    ("sweeps",),                                # ablation grids over training and evaluation
    ("api",),                                   # the public Python API
    ("commands", "cli", "__main__"),            # the command line
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
CLI = {"commands", "cli", "__main__"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT.parent / name.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def imports(path: Path) -> set[str]:
    """Every ``actdiff…`` module imported anywhere in ``path`` (relative imports resolved)."""
    out: set[str] = set()
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "actdiff"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] == "actdiff":
                out.add(base)
                out |= {f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")}
    return out


def top(module: str) -> str:
    """The top-level package of ``actdiff.X.Y`` (``X``), or ``""`` for ``actdiff`` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
EDGES = {m: imports(p) for m, p in MODULES.items()}


def test_every_package_has_a_layer():
    missing = sorted({top(m) for m in MODULES if top(m) and top(m) not in LAYER})
    assert not missing, f"add these packages to LAYERS: {missing}"


def test_the_library_never_imports_the_command_line():
    bad = [(m, t) for m, ts in EDGES.items() for t in ts if top(t) in CLI and top(m) not in CLI]
    assert not bad, f"modules outside commands/ import the CLI: {bad}"


def test_imports_never_go_up_the_data_path():
    bad = []
    for m, targets in EDGES.items():
        src = top(m)
        if not src:  # actdiff/__init__.py: checked below
            continue
        for t in targets:
            dst = top(t)
            if dst and dst != src and LAYER[dst] > LAYER[src]:
                bad.append(f"{m} -> {t} ({src}: layer {LAYER[src]}, {dst}: layer {LAYER[dst]})")
    assert not bad, "imports up the data path:\n" + "\n".join(bad)


def test_package_root_is_lazy_and_points_only_at_the_api():
    import actdiff

    assert EDGES["actdiff"] == set(), "actdiff/__init__.py must not import submodules at import time"
    assert set(actdiff._API.values()) <= {"actdiff.api", "actdiff.types", "actdiff.errors"}
    public = {n for n in dir(actdiff) if not n.startswith("_")}
    assert public == set(actdiff.__all__) - {"__version__"}, "dir(actdiff) shows the API only (tab completion)"
    assert all(callable(getattr(actdiff, n)) for n in public)  # every listed name resolves


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for t in sorted(graph.get(n, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (found := visit(t)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_no_import_cycles_between_modules():
    graph = {m: {t for t in ts if t in MODULES and t != m and not m.startswith(t + ".")} for m, ts in EDGES.items()}
    # a package's __init__ re-exporting its own submodules is not a cycle of the design
    graph = {m: {t for t in ts if not (MODULES[t].name == "__init__.py" and m.startswith(t + "."))}
             for m, ts in graph.items()}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_files_stay_readable(path):
    assert len(path.read_text().splitlines()) <= 400, f"{path} has more than 400 lines: split it"
