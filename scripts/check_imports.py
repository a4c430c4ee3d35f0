"""Check the shape of openrft's import graph; exit 1 on a violation (``make lint`` runs it).

Every ``import`` under ``src/openrft`` counts, at module level or inside a function (a lazy
import is still a dependency). Three rules:

1. Layers: a package imports only its own layer or lower ones:
   ``openrft``'s top modules (errors, config) < data < models < graders < evals, training
   < store < server, dashboard < cli.
2. The server's two planes never import each other: ``openrft.server.api`` (HTTP) and
   ``openrft.server.worker`` (execution) meet only in ``openrft.server._shared``, which
   imports neither.
3. No cycles between modules, except the ``models._lora`` <-> ``models._resolve`` recursion
   (a LoRA adapter's base model is resolved like any model, and may itself be an adapter).

Violations that were there when the check was added are listed in ``PENDING``: they are
printed on every run but do not fail it, so that no new one gets in while their owners fix
them; an entry that no longer occurs fails the run until it is removed from the list.

Usage: ``python scripts/check_imports.py [SRC_DIR]`` (default: the ``src`` beside this script).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = "openrft"
LAYERS = {
    "": 0,
    "errors": 0,
    "config": 0,
    "data": 1,
    "models": 2,
    "graders": 3,
    "evals": 4,
    "training": 4,
    "store": 5,
    "server": 6,
    "dashboard": 6,
    "cli": 7,
}
PLANES = ("openrft.server.api", "openrft.server.worker")
SHARED = "openrft.server._shared"
ALLOWED_CYCLES = [{"openrft.models._lora", "openrft.models._resolve"}]
PENDING: set[str] = set()
"""Known violations waiting for their owners (none now: the cli, data.tasks and graders cycles are gone)."""


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The openrft modules one import statement loads (``from pkg import sub`` names ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:  # relative: resolve against this module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in known else base


def import_graph(src: Path) -> dict[str, set[str]]:
    """Module → the openrft modules it imports."""
    files = {module_name(p, src): p for p in sorted((src / ROOT).rglob("*.py"))}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, module, path.name == "__init__.py", known):
                    # ``import openrft.x.y`` of a name that is not a module: its package.
                    while target not in known and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target in known and target != module:
                        found.add(target)
        graph[module] = found
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return LAYERS.get(top, 0)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations(graph: dict[str, set[str]]) -> Iterator[str]:
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer(target) > layer(module):
                yield (
                    f"upward import: {module} (layer {layer(module)}) imports {target} "
                    f"(layer {layer(target)})"
                )


def plane_violations(graph: dict[str, set[str]]) -> Iterator[str]:
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            for plane, other in (PLANES, PLANES[::-1]):
                if _within(module, plane) and _within(target, other):
                    yield f"plane crossing: {module} imports {target} ({plane} must not import {other})"
            if _within(module, SHARED) and any(_within(target, p) for p in PLANES):
                yield f"plane crossing: {module} imports {target} ({SHARED} imports neither plane)"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (iterative: the graph is deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _cycle_path(graph: dict[str, set[str]], component: Iterable[str]) -> list[str]:
    """One cycle through the component's first module, for the message."""
    members = set(component)
    first = min(members)
    paths = {first: [first]}
    frontier = [first]
    while frontier:
        node = frontier.pop(0)
        for child in sorted(graph[node] & members):
            if child == first:
                return [*paths[node], first]
            if child not in paths:
                paths[child] = [*paths[node], child]
                frontier.append(child)
    return sorted(members)


def cycle_violations(graph: dict[str, set[str]]) -> Iterator[str]:
    for component in strongly_connected(graph):
        if set(component) in ALLOWED_CYCLES:
            continue
        yield "import cycle: " + " -> ".join(_cycle_path(graph, component))


def main(argv: list[str], pending: set[str] = PENDING) -> int:
    src = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "src"
    graph = import_graph(src)
    found = [*layer_violations(graph), *plane_violations(graph), *cycle_violations(graph)]
    problems = [p for p in found if p not in pending]
    stale = sorted(pending - set(found))
    for problem in problems:
        print(problem)
    for entry in stale:
        print(f"fixed, remove it from PENDING in scripts/check_imports.py: {entry}")
    for problem in sorted(pending & set(found)):
        print(f"pending (known, not failing): {problem}")
    edges = sum(len(t) for t in graph.values())
    failed = len(problems) + len(stale)
    verdict = f"{failed} failure(s)" if failed else "ok"
    waiting = len(pending & set(found))
    print(f"check_imports: {len(graph)} modules, {edges} imports: {verdict} ({waiting} pending)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
