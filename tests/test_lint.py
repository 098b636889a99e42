"""Static checks the tests cannot make by running code: pyflakes' rules (via ruff) over the sources,
benchmarks and tests. An undefined name on a path no test reaches (a module split that lost an
import) fails here instead of in a user's run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyflakes_rules_pass():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F", "--no-cache", "--output-format", "concise",
         "src", "benchmarks", "tests"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_finds_an_undefined_name(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def shift(line):\n    return resample_polyline(line, 32)\n")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--no-cache", str(broken)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "F821" in result.stdout
