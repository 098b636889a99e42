"""The dependency direction of CONTRIBUTING.md, checked on every module's imports.

cli -> app, inference, export, training, benchmarking -> postprocess, metrics, losses, models, data -> leaves
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
    "inference": {"training", "cli", "app"},
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
