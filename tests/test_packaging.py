"""The wheel holds what cathx needs at run time: the shipped configs and the weights folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build a wheel (no dependencies, no build isolation: offline) from a copy of the source tree,
    with a stand-in weights file and model card so the weights globs are exercised either way."""
    tree = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.safetensors")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(ROOT / "configs", tree / "configs", ignore=ignore)
    shutil.copytree(ROOT / "src", tree / "src", symlinks=True, ignore=ignore)
    weights = tree / "src" / "cathx" / "weights"
    weights.mkdir(exist_ok=True)
    (weights / "stand-in.safetensors").write_bytes(b"\0" * 16)
    (weights / "stand-in.json").write_text("{}")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "-w", str(out), str(tree)], check=True, capture_output=True, text=True)
    (path,) = out.glob("cathx-*.whl")
    return path


def test_wheel_holds_configs_weights_and_metadata(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {path.name for path in (ROOT / "configs").glob("*.yaml")}
    assert {"demo.yaml", "paper.yaml"} <= shipped
    assert {f"cathx/configs/{name}" for name in shipped} <= names
    assert {"cathx/weights/stand-in.safetensors", "cathx/weights/stand-in.json"} <= names
    assert not any(name.startswith(("tests/", "configs/", "benchmarks/")) for name in names)
    meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
    meta = Parser().parsestr(zipfile.ZipFile(wheel).read(meta_name).decode())
    assert meta["Requires-Python"] == ">=3.11"
    requires = meta.get_all("Requires-Dist")
    assert "torch<2.15,>=2.9" in requires and not any("==" in r.split(";")[0] for r in requires)


def test_unpacked_wheel_resolves_a_config_by_name(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from cathx.config import resolve_config; "
            "print(resolve_config('demo'))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == tmp_path / "site" / "cathx" / "configs" / "demo.yaml" and Path(out).is_file()
