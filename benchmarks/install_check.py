"""Install cathx outside the repository with other Pythons and check import plus one prediction.

For each interpreter given, creates (or reuses, with ``--venv-root``) a virtual environment outside
the repository, ``pip install``s a clean clone of this repository's HEAD (not editable, so
uncommitted files cannot leak in; with ``-c constraints.txt`` unless ``--no-constraints``), then,
in an empty temporary folder:

1. ``python -c "import cathx"`` and the version;
2. ``cathx synth frames --n 1`` (one synthetic frame, written by the installed package);
3. ``cathx predict frames/images/<frame>.png -o out`` with the shipped ``cathx-fluoro`` (no
   ``--weights``), and checks that ``out`` holds the predictions file and an overlay;
4. the Python API: ``cathx.load("cathx-fluoro").predict(array)`` and its one-line repr.

Writes benchmarks/results/install_check.{json,md}. Downloads come from the package registry, so
the first run per Python fetches several GB (PyPI's torch for Linux is the CUDA build).

    .venv/bin/python benchmarks/install_check.py --python /root/.pyenv/versions/3.12.1/bin/python \
        /root/.pyenv/versions/3.13.0/bin/python --venv-root /tmp/cathx_install_check
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_CHECK = (
    "import numpy as np, cathx\n"
    "model = cathx.load('cathx-fluoro')\n"
    "result = model.predict(np.random.default_rng(0).random((256, 256), dtype=np.float32))\n"
    "result = result[0] if isinstance(result, list) else result\n"
    "print(repr(result))\n"
)


def _run(command: list[str], cwd: Path, log: list[str]) -> tuple[int, float, str]:
    """Run ``command`` in ``cwd``; return (exit code, seconds, last lines of its output)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    text = (done.stdout + done.stderr).strip()
    log.append(f"$ {' '.join(command)}\n{text[-2000:]}")
    return done.returncode, seconds, "\n".join(text.splitlines()[-3:])


def check(python: str, venv_root: Path, source: Path, constraints: bool) -> dict:
    """Install into ``venv_root/<python version>`` and run the checks; return one result row."""
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    venv = venv_root / f"py{version}"
    log: list[str] = []
    row: dict = {"python": version, "venv": str(venv), "steps": {}}
    if not (venv / "bin" / "python").exists():
        code, seconds, tail = _run([python, "-m", "venv", str(venv)], venv_root, log)
        row["steps"]["venv"] = {"ok": code == 0, "seconds": round(seconds, 1), "tail": tail}
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)]
    if constraints:
        pip += ["-c", str(source / "constraints.txt")]
    code, seconds, tail = _run(pip, venv_root, log)
    row["steps"]["pip install"] = {"ok": code == 0, "seconds": round(seconds, 1), "tail": tail}
    if code != 0:
        row["ok"] = False
        row["log"] = log
        return row
    with tempfile.TemporaryDirectory(prefix="cathx_install_check_") as work_dir:
        work = Path(work_dir)
        bin_dir = venv / "bin"
        code, seconds, tail = _run([str(bin_dir / "python"), "-c", "import cathx; print(cathx.__version__)"], work, log)
        row["steps"]["import"] = {"ok": code == 0, "seconds": round(seconds, 1), "tail": tail}
        code, seconds, tail = _run([str(bin_dir / "cathx"), "synth", "frames", "--n", "1", "--seed", "5"], work, log)
        row["steps"]["synth 1 frame"] = {"ok": code == 0, "seconds": round(seconds, 1), "tail": tail}
        frames = sorted((work / "frames").rglob("*.png"))
        frame = next((p for p in frames if "images" in p.parts), None)
        if frame is None:
            row["steps"]["predict"] = {"ok": False, "seconds": None, "tail": "not run: no frame was written"}
        else:
            code, seconds, tail = _run([str(bin_dir / "cathx"), "predict", str(frame), "-o", "out"], work, log)
            written = sorted(str(p.relative_to(work / "out")) for p in (work / "out").rglob("*") if p.is_file()) \
                if (work / "out").exists() else []
            row["steps"]["predict"] = {"ok": code == 0 and bool(written), "seconds": round(seconds, 1),
                                       "tail": tail, "written": written[:10]}
        code, seconds, tail = _run([str(bin_dir / "python"), "-c", API_CHECK], work, log)
        row["steps"]["api predict"] = {"ok": code == 0, "seconds": round(seconds, 1), "tail": tail}
    row["ok"] = all(step["ok"] for step in row["steps"].values())
    row["log"] = log
    return row


def markdown(rows: list[dict], machine: str) -> str:
    lines = ["# Install check: cathx outside the repository", "",
             f"Machine: {machine}. Command: `{' '.join(sys.argv)}`", "",
             "| Python | ok | " + " | ".join(rows[0]["steps"]) + " |" if rows else "",
             "| --- | --- | " + " | ".join("---" for _ in rows[0]["steps"]) + " |" if rows else ""]
    for row in rows:
        cells = [f"{'ok' if s['ok'] else 'FAILED'} {s['seconds']} s" if s["seconds"] is not None else "not run"
                 for s in row["steps"].values()]
        lines.append(f"| {row['python']} | {'yes' if row['ok'] else 'no'} | " + " | ".join(cells) + " |")
    lines += ["", "Each step's last output lines are in install_check.json."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", nargs="+", required=True, help="interpreters to check")
    parser.add_argument("--venv-root", type=Path, default=Path(tempfile.gettempdir()) / "cathx_install_check")
    parser.add_argument("--no-constraints", action="store_true", help="install from pyproject's ranges only")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    args.venv_root.mkdir(parents=True, exist_ok=True)
    if ROOT in args.venv_root.resolve().parents:
        parser.error("--venv-root must lie outside the repository")
    source = args.venv_root / "source"
    if source.exists():
        origin = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=source, capture_output=True,
                                text=True).stdout.strip()
        if Path(origin or "/nonexistent").resolve() != ROOT:
            parser.error(f"{source} exists and is not this script's clone of {ROOT}; choose another --venv-root")
        shutil.rmtree(source)  # our own clone from an earlier run
    subprocess.run(["git", "clone", "-q", str(ROOT), str(source)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=source, capture_output=True, text=True,
                            check=True).stdout.strip()
    rows = [check(python, args.venv_root, source, not args.no_constraints) for python in args.python]
    for row in rows:
        row["commit"] = commit
    machine = f"{platform.processor() or platform.machine()}, {platform.system()}"
    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{machine}; cathx commit {commit}"
    (args.out / "install_check.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")
    (args.out / "install_check.md").write_text(markdown(rows, machine))
    print(markdown(rows, machine))
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
