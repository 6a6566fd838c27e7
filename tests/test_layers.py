"""Imports run one way, down: core <- cases <- kinds <- study <- CLI <- app, and no import cycles.
(``sim.live``, the live twin, sits with the studies: above the cases, below the CLI and the app.)

Every ``import`` and ``from ... import`` in ``sim/`` and ``app.py`` is read with :mod:`ast`, those
inside functions included (a lazy import is still a dependency), and resolved to a module path.
Imports under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = ("sim.crowd", "sim.traffic", "sim.bikes", "sim.hotspot")
#: A case may import another case only where listed here (importer case -> imported cases).
CASE_ALLOWED: dict[str, set[str]] = {case: set() for case in CASES}
CASE_ALLOWED["sim.hotspot"] = {"sim.crowd"}   # a hotspot run is a crowd network run with 2D areas coupled in
#: Layers, lowest first; a module may import its own layer and those below it (cases: see CASE_ALLOWED).
LAYERS = ("core", "case", "kinds", "study", "cli", "app")
#: Third-party packages only the app (the top layer) may import.
UI_PACKAGES = ("streamlit",)
#: Cycles found in code owned by others, reported and not yet removed (sorted module lists).
KNOWN_CYCLES: list[list[str]] = []


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in (ROOT / "sim").rglob("*.py") if "__pycache__" not in p.parts}
    found["app"] = ROOT / "app.py"
    return found


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import in a file, resolved against ``known`` modules;
    ``from pkg import mod`` names the module ``pkg.mod`` when it exists."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for stmt in block.body
               for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known]
            out += [(sub, node.lineno) for sub in subs]
            if len(subs) < len(node.names):
                out.append((target, node.lineno))
    return out


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _layer(module: str) -> tuple[str, str | None]:
    """(layer, case) of a module of this project; ("external", None) for anything else."""
    if module == "app":
        return "app", None
    if module == "sim.cli":
        return "cli", None
    if module == "sim.kinds":
        return "kinds", None
    for prefix, layer in (("sim.study", "study"), ("sim.live", "study"), ("sim.core", "core")):
        if module == prefix or module.startswith(prefix + "."):
            return layer, None
    for case in CASES:
        if module == case or module.startswith(case + "."):
            return "case", case
    if module == "sim":
        return "core", None                     # the root package holds nothing
    return "external", None


def _graph() -> dict[str, list[tuple[str, int]]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _violations(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    problems = []
    for module, imports in sorted(graph.items()):
        layer, case = _layer(module)
        for target, line in imports:
            where = f"{module} (line {line}) imports {target}"
            top = target.split(".")[0]
            if top in UI_PACKAGES or top == "app":
                if layer != "app":
                    problems.append(f"{where}: only the app may import the UI ({top})")
                continue
            t_layer, t_case = _layer(target)
            if t_layer == "external":
                continue
            if LAYERS.index(t_layer) > LAYERS.index(layer):
                problems.append(f"{where}: a {layer} module imports the higher {t_layer} layer")
            elif layer == t_layer == "case" and case != t_case and t_case not in CASE_ALLOWED[case]:
                problems.append(f"{where}: case {case} imports case {t_case} (not in CASE_ALLOWED)")
    return problems


def _cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    edges = {m: sorted({t for t, _ in imps if t in graph}) for m, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:                  # Tarjan, iterative over an explicit work stack
        work = [(v, iter(edges[v]))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges[w])))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1 or node in edges[node]:
                        found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_import_walk_sees_the_project():
    graph = _graph()
    assert {"sim.core.osm", "sim.crowd.engine", "sim.kinds", "sim.study.sweep", "sim.cli", "app"} <= set(graph)
    cli = {t for t, _ in graph["sim.cli"]}
    assert "sim.kinds" in cli and "sim.core.results" in cli       # function-level imports are seen
    assert "sim.crowd.kernels" in {t for t, _ in graph["sim.crowd.engine"]}   # from . import kernels


def test_imports_run_down_the_layers():
    problems = _violations(_graph())
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_no_import_cycles():
    cycles = [c for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module, target, expected", [
    ("sim.core.osm", "sim.crowd.compile", "core module imports the higher case layer"),
    ("sim.core.osm", "sim.kinds", "core module imports the higher kinds layer"),
    ("sim.bikes.compile", "sim.crowd.compile", "case sim.bikes imports case sim.crowd"),
    ("sim.traffic.model", "sim.study.runs", "case module imports the higher study layer"),
    ("sim.crowd.plots", "streamlit", "only the app may import the UI"),
    ("sim.kinds", "sim.cli", "kinds module imports the higher cli layer"),
    ("sim.study.sweep", "sim.cli", "study module imports the higher cli layer"),
    ("sim.study.tables", "app", "only the app may import the UI"),
])
def test_a_wrong_import_is_caught(module, target, expected):
    (problem,) = _violations({module: [(target, 1)]})
    assert expected in problem


def test_a_cycle_is_caught():
    graph = {"a": [("b", 1)], "b": [("c", 1)], "c": [("a", 1)], "d": [("a", 1)]}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_type_checking_imports_are_not_dependencies(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sim.cli import main\n"
                    "def f():\n    from sim.kinds import KINDS\n")
    assert [t for t, _ in _imports("sim.core.m", path, set())] == ["typing", "sim.kinds"]
