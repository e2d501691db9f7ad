"""Vernier's layers, enforced over the import graph (``docs/design-notes.md``, "Layers").

Every module under ``proxy/`` belongs to one layer of :data:`LAYERS`, and may import only the
layers :data:`MAY_IMPORT` lists for its own: shared records at the bottom, pure cores and the
store beside each other above them (neither imports the other), the edges that do I/O above both,
the commands on top. The graph is read with :mod:`ast`, so every import counts, including one
inside a function (which is how a cycle usually hides) and one under ``TYPE_CHECKING``; only the
cycle check leaves ``TYPE_CHECKING`` imports out, since they never run. Any module-level import
cycle fails the suite too.

To place a new module, add it (or its package, ``name.*``) to :data:`LAYERS`; an unplaced module
fails :func:`test_every_import_follows_the_layers`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "proxy"

# Layer -> its modules, bottom first. ``a.b.*`` is the package ``a.b`` and every module under it;
# ``a.b`` alone is that one module. The most specific entry places a module.
LAYERS: Mapping[str, tuple[str, ...]] = {
    # Value types and errors every layer shares; only stdlib and third-party imports.
    "records": ("proxy", "proxy.records.*", "proxy.errors", "proxy.messages"),
    # Pure functions over plain data: no sockets, no Redis, no event loop.
    "cores": (
        "proxy.html.*",
        "proxy.rules.*",
        "proxy.config.*",
        "proxy.bandit",
        "proxy.bandit.features",
        "proxy.bandit.interaction_choice",
        "proxy.bandit.model",
        "proxy.bandit.sampling",
        "proxy.bandit.cell_estimates",
        "proxy.bandit.square_cb",
        "proxy.bandit.join",
        "proxy.bandit.early_events",
        "proxy.bandit.reward",
        "proxy.bandit.learner_state",
        "proxy.bandit.checkpoint",
        "proxy.bandit.learning_slot",
        "proxy.bandit.drift",
        "proxy.bandit.policy_config",
        "proxy.bandit.snapshot",
        "proxy.evaluate.*",
        "proxy.stats.*",
        "proxy.results.*",
        # Pure modules of edge packages; their packages' ``__init__`` (run by importing them) are
        # held to the cores' rule too.
        "proxy.govern",
        "proxy.govern.guardrail",
        "proxy.govern.windows",
        "proxy.tracker",
        "proxy.tracker.bots",
        "proxy.tracker.scores",
        "proxy.segments",
        "proxy.segments.vectors",
        "proxy.segments.assign",
        "proxy.segments.fit",
    ),
    # The only package that knows Redis.
    "store": ("proxy.store.*",),
    # I/O: the request path, its stages and the worker's assembly, background consumers.
    "edges": (
        "proxy.admin",
        "proxy.api",
        "proxy.app",
        "proxy.background",
        "proxy.bandit.example_log",
        "proxy.bandit.example_sinks",
        "proxy.bandit.learner",
        "proxy.bandit.learner_streams",
        "proxy.bandit.registry",
        "proxy.bandit.slot_models",
        "proxy.content.*",
        "proxy.decide.*",
        "proxy.dashboard.*",
        "proxy.demo.*",
        "proxy.endpoints",
        "proxy.exchange",
        "proxy.govern.*",
        "proxy.metrics",
        "proxy.pipeline",
        "proxy.preview",
        "proxy.replies",
        "proxy.request_view",
        "proxy.resources",
        "proxy.results_consumer",
        "proxy.segments.registry",
        "proxy.segments.refit",
        "proxy.rules.live",  # the reloader: polls files, runs on the event loop
        "proxy.server.*",
        "proxy.session.*",
        "proxy.simulate.*",
        "proxy.stages.*",
        "proxy.durable",
        "proxy.store_config",
        "proxy.tasks",
        "proxy.tracker.*",
        "proxy.upstream.*",
        "proxy.worker_metrics",
    ),
    # Entry points: nothing imports them but the CLI.
    "commands": ("proxy.commands.*", "proxy.cli", "proxy.entry", "proxy.__main__"),
}

MAY_IMPORT: Mapping[str, frozenset[str]] = {
    "records": frozenset({"records"}),
    "cores": frozenset({"records", "cores"}),
    "store": frozenset({"records", "store"}),
    "edges": frozenset({"records", "cores", "store", "edges"}),
    "commands": frozenset(LAYERS),
}

# The pure cores load none of these, whatever they import (``python -c "import proxy.bandit.join"``
# must not start a Redis client library).
NOT_IN_CORES = ("redis", "aiohttp")


@dataclass(frozen=True, slots=True)
class Edge:
    importer: str
    imported: str
    line: int
    runs: bool  # False for an import under ``if TYPE_CHECKING:``, which never executes


def modules_of(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``package`` (a package is its name)."""
    found: dict[str, Path] = {}
    for file in sorted(package.rglob("*.py")):
        parts = list(file.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = file
    return found


def import_edges(package: Path) -> list[Edge]:
    """Every import of a module of ``package`` by another, wherever it stands in the file.

    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``; importing
    ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``, so those count as edges too, except
    the packages the importer itself lives in (they are already running when it is imported).
    """
    modules = modules_of(package)
    edges: dict[tuple[str, str, int], Edge] = {}  # one per importer, imported module and line
    for name, file in modules.items():
        is_package = file.name == "__init__.py"
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        typing_only = _type_checking_nodes(tree)
        own_packages = _ancestors(name if is_package else name.rpartition(".")[0])
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, name, is_package, modules):
                for imported in (*_ancestors(target.rpartition(".")[0]), target):
                    if imported in modules and imported != name and imported not in own_packages:
                        edge = Edge(name, imported, node.lineno, id(node) not in typing_only)
                        edges.setdefault((name, imported, node.lineno), edge)
    return list(edges.values())


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Mapping[str, Path]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join([*base, *([node.module] if node.module else [])])
    else:
        prefix = node.module or ""
    return [
        f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix
        for alias in node.names
    ]


def _ancestors(dotted: str) -> tuple[str, ...]:
    """``a.b.c`` -> ``("a", "a.b", "a.b.c")``, outermost first."""
    parts = dotted.split(".") if dotted else []
    return tuple(".".join(parts[:n]) for n in range(1, len(parts) + 1))


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return nodes


def layer_of(module: str) -> str | None:
    """The layer whose most specific entry names ``module``, or None if none does."""
    best: tuple[int, str] | None = None
    for layer, entries in LAYERS.items():
        for entry in entries:
            package = entry.removesuffix(".*")
            exact = not entry.endswith(".*")
            if module == package or (not exact and module.startswith(package + ".")):
                specificity = len(package) * 2 + exact
                if best is None or specificity > best[0]:
                    best = (specificity, layer)
    return None if best is None else best[1]


def layer_violations(package: Path) -> list[str]:
    """One line per unplaced module and per import across a forbidden edge."""
    problems = [
        f"{name}: in no layer (add it to LAYERS in tests/test_layers.py)"
        for name in modules_of(package)
        if layer_of(name) is None
    ]
    for edge in import_edges(package):
        importer, imported = layer_of(edge.importer), layer_of(edge.imported)
        if importer is None or imported is None or imported in MAY_IMPORT[importer]:
            continue
        problems.append(
            f"{edge.importer} (line {edge.line}, {importer}) imports {edge.imported} ({imported}):"
            f" {importer} may import only {', '.join(sorted(MAY_IMPORT[importer]))}"
        )
    return problems


def import_cycles(package: Path) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {name: set() for name in modules_of(package)}
    for edge in import_edges(package):
        if edge.runs:
            graph[edge.importer].add(edge.imported)
    return [sorted(component) for component in _components(graph) if len(component) > 1]


def _components(graph: Mapping[str, set[str]]) -> Iterator[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield component


def test_every_import_follows_the_layers() -> None:
    assert layer_violations(PACKAGE) == []


def test_there_is_no_import_cycle() -> None:
    assert import_cycles(PACKAGE) == []


def test_the_pure_cores_load_no_redis_and_no_aiohttp() -> None:
    cores = sorted(name for name in modules_of(PACKAGE) if layer_of(name) in ("records", "cores"))
    script = (
        "import importlib, sys\n"
        f"for name in {cores!r}: importlib.import_module(name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(NOT_IN_CORES)!r}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert loaded.stdout.strip() == "[]"


def _write(root: Path, module: str, source: str) -> None:
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    for folder in (path.parent, *path.parent.parents):
        if folder == root:
            break
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    path.write_text(source, encoding="utf-8")


def test_the_check_fails_on_an_import_across_a_forbidden_edge(tmp_path: Path) -> None:
    _write(tmp_path, "proxy.records.note", "import msgspec\n")
    _write(tmp_path, "proxy.rules.match", "from proxy.records import note\n")
    _write(tmp_path, "proxy.store.notes", "from proxy.records.note import *\n")
    assert layer_violations(tmp_path / "proxy") == []

    _write(tmp_path, "proxy.store.notes", "def load():\n    from proxy.rules.match import x\n")
    _write(tmp_path, "proxy.rules.match", "from proxy.store import notes\n")
    _write(tmp_path, "proxy.secret_sauce", "")
    problems = layer_violations(tmp_path / "proxy")
    assert problems == [
        "proxy.secret_sauce: in no layer (add it to LAYERS in tests/test_layers.py)",
        "proxy.rules.match (line 1, cores) imports proxy.store (store):"
        " cores may import only cores, records",
        "proxy.rules.match (line 1, cores) imports proxy.store.notes (store):"
        " cores may import only cores, records",
        "proxy.store.notes (line 2, store) imports proxy.rules (cores):"
        " store may import only records, store",
        "proxy.store.notes (line 2, store) imports proxy.rules.match (cores):"
        " store may import only records, store",
    ]


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    _write(tmp_path, "proxy.admin", "from proxy.govern import pausing\n")
    _write(tmp_path, "proxy.govern.pausing", "def run():\n    from proxy.app import settings\n")
    _write(tmp_path, "proxy.app", "from proxy import admin, exchange\n")
    _write(
        tmp_path,
        "proxy.exchange",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from proxy.app import App\n",
    )
    assert import_cycles(tmp_path / "proxy") == [
        ["proxy.admin", "proxy.app", "proxy.govern.pausing"]
    ]
