"""The dependency direction of CONTRIBUTING.md, checked on every module's imports.

cli -> app, benchmarking -> inference, export, training -> postprocess, metrics, losses, models, data -> leaves
(app, the web page, sits on inference: it may use it, nothing but cli may use app).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cathx"

# package -> cathx packages it must never import
FORBIDDEN = {
    "models": {"data", "losses", "training", "metrics", "postprocess", "inference", "export", "cli",
               "benchmarking", "app"},
    "data": {"models", "losses", "training", "metrics", "postprocess", "inference", "export", "cli",
             "benchmarking", "app"},
    "losses": {"training", "inference", "export", "cli", "benchmarking", "app"},
    "metrics": {"training", "inference", "export", "cli", "benchmarking", "app"},
    "postprocess": {"training", "inference", "export", "cli", "benchmarking", "app"},
    "training": {"inference", "cli", "app"},
    "inference": {"training", "export", "benchmarking", "cli", "app"},
    "export": {"training", "cli", "app"},
    "benchmarking": {"cli", "app"},
    "app": {"training", "benchmarking", "export", "cli"},
}


def _imported_cathx_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[1] for name in names if name.startswith("cathx.") and name.count(".") >= 1}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_back_edges(package):
    offenders = []
    for path in sorted((SRC / package).rglob("*.py")):
        bad = _imported_cathx_packages(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(SRC)} imports {sorted(bad)}")
    assert not offenders, "; ".join(offenders)


def test_nothing_outside_cli_imports_cli():
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if "cli" not in p.relative_to(SRC).parts[:1] and "cli" in _imported_cathx_packages(p)
                 and p.name != "__main__.py"]
    assert not offenders


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """cathx module -> the cathx modules it imports (at the top or inside functions), package
    __init__ re-exports left out (importing a package is not depending on all of it)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if path.name == "__init__.py":
            continue
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name and modules[t].name != "__init__.py"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle [a, b, ..., a] of ``graph``, or [] (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return path[path.index(step):] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return []


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles_between_modules():
    cycle = find_cycle(_module_graph())
    assert not cycle, " -> ".join(cycle)
