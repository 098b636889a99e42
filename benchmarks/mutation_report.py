"""Mutation score per core module from mutmut's results (issue 19; `make mutation`, not CI).

Reads what the last `mutmut run` left under mutants/ (one ``<file>.meta`` per mutated source
file, configured in pyproject.toml [tool.mutmut]) and writes benchmarks/results/mutation.json
and .md: killed / survived / timeout / no tests per module group against the issue's target,
per file, and every surviving mutant with its diff. A group none of whose mutants was checked
is listed as not run.

    .venv/bin/python benchmarks/mutation_report.py [--command "make mutation ..."] [--note ...] [--merge]

--merge folds this run into the report already in benchmarks/results: files with at least one
mutant checked in this run replace their earlier entries (and survivors), the others keep theirs,
and the run is appended to the report's list of runs (each printed with its note). Use it when
[tool.mutmut] was narrowed to some modules, so the report keeps the figures of the others.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

from cathx.fileio import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# (group, file patterns, target share killed) as issue 19 sets them
GROUPS: list[tuple[str, list[str], float]] = [
    ("metrics", ["src/cathx/metrics/*"], 0.90),
    ("weighting", ["src/cathx/training/weighting.py"], 0.90),
    ("losses", ["src/cathx/losses/*"], 0.90),
    ("heatmap", ["src/cathx/heatmap.py"], 0.90),
    ("postprocess", ["src/cathx/postprocess/*"], 0.75),
    ("dicom", ["src/cathx/data/formats/dicom.py"], 0.75),
    ("engine labels", ["src/cathx/data/synthetic/scene.py"], 0.75),
]
STATUSES = ["killed", "survived", "timeout", "no tests", "suspicious", "segfault", "not checked"]
# scene.py also holds the scene's random sampling (what a frame shows); the target is its
# label code: the functions that draw the target catheters and assemble their labels. Mutants of the
# other functions (sample_scene, _sample_distractors, _sample_collimation, _sheath, _draw_clutter,
# _uniform) are left out of the counts.
COUNTED_FUNCTIONS = {
    "src/cathx/data/synthetic/scene.py": ("_visible_runs", "_tip_run", "_draw_catheter", "render_scene",
                                          "motion_state", "move", "frame_rng", "render_frame", "generate_frame"),
}


def counted(path: str, mutant: str) -> bool:
    """Whether ``mutant`` (mutmut's name, "module.x_function__mutmut_N") counts for its file."""
    functions = COUNTED_FUNCTIONS.get(str(path))
    if functions is None:
        return True
    function = mutant.rsplit(".", 1)[-1].split("__mutmut_")[0]
    return function[2:] in functions if function.startswith("x_") else function in functions


def group_of(path: str) -> str | None:
    for name, patterns, _ in GROUPS:
        if any(fnmatch.fnmatch(path, p) for p in patterns):
            return name
    return None


def status_of(exit_code: int | None) -> str:
    """mutmut's own reading of a mutant's exit code, folded into the columns reported here."""
    status = status_by_exit_code[exit_code]
    if status == "caught by type check":
        return "killed"
    if status in ("skipped", "check was interrupted by user"):
        return "not checked"
    return status if status in STATUSES else "suspicious"


def changed_lines(diff: str) -> list[str]:
    """The removed and added lines of a unified diff, without the file headers."""
    return [
        line for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def collect() -> tuple[list[dict], list[dict]]:
    files, survivors = [], []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        codes = {name: code for name, code in data.exit_code_by_key.items() if counted(str(path), name)}
        counts = Counter(status_of(code) for code in codes.values())
        files.append({"file": str(path), "group": group_of(str(path)), "total": len(codes),
                      **{s: counts.get(s, 0) for s in STATUSES}})
        for name, code in sorted(codes.items()):
            if status_of(code) == "survived":
                survivors.append({"file": str(path), "mutant": name,
                                  "diff": changed_lines(get_diff_for_mutant(name, path=path))})
    return files, survivors


def summarise(files: list[dict]) -> list[dict]:
    rows = []
    for name, _, target in GROUPS:
        members = [f for f in files if f["group"] == name]
        sums = {s: sum(f[s] for f in members) for s in STATUSES}
        checked = sum(sums.values()) - sums["not checked"]
        killed_share = sums["killed"] / checked if checked else None
        rows.append({
            "group": name, "files": len(members), "mutants": sum(f["total"] for f in members),
            "checked": checked, **sums, "target": target, "killed_share": killed_share,
            "meets_target": None if killed_share is None else killed_share >= target,
            "run": checked > 0,
        })
    return rows


def merge(earlier: dict, files: list[dict], survivors: list[dict]) -> tuple[list[dict], list[dict]]:
    """``earlier``'s files and survivors with those of every file checked in this run replaced."""
    checked = {f["file"] for f in files if f["total"] - f["not checked"] > 0}
    by_file = {f["file"]: f for f in earlier.get("files", [])}
    by_file.update({f["file"]: f for f in files if f["file"] in checked or f["file"] not in by_file})
    kept = [s for s in earlier.get("survivors", []) if s["file"] not in checked]
    return list(by_file.values()), kept + [s for s in survivors if s["file"] in checked]


def markdown(report: dict) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f} %"

    lines = [
        "# Mutation testing (issue 19)", "",
        f"mutmut {report['mutmut']} on `{report['command']}`, {report['date']}; {report['cpus']} CPUs "
        f"(load average {report['load_average']}). Each mutant ran only the tests from "
        "pyproject.toml [tool.mutmut] that reach its function. Killed share = killed / checked "
        "(timeouts and mutants no test reaches count against it).", "",
        *([report["note"], ""] if report["note"] else []),
    ]
    for run in report.get("runs", []):
        lines += [f"Run of {run['date']} (`{run['command']}`, load average {run['load_average']}): "
                  + (run.get("note") or "no note."), ""]
    lines += [
        "| module | mutants | checked | killed | survived | timeout | no tests | killed share | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["groups"]:
        met = "not run" if not r["run"] else ("yes" if r["meets_target"] else "no")
        if r["run"] and r["not checked"]:
            met += f" (partial: {r['not checked']} not checked)"
        lines.append(f"| {r['group']} | {r['mutants']} | {r['checked']} | {r['killed']} | {r['survived']} | "
                     f"{r['timeout']} | {r['no tests']} | {pct(r['killed_share'])} | "
                     f"{pct(r['target'])} | {met} |")
    not_run = [r["group"] for r in report["groups"] if not r["run"]]
    if not_run:
        lines += ["", f"Not run: {', '.join(not_run)} (mutants generated, none checked)."]
    if any(r["run"] and r["not checked"] for r in report["groups"]):
        lines += ["", "A partial module's share covers the mutants checked before the run stopped; mutmut "
                  "checks those with the shortest tests first, so it is not a sample of the whole module."]
    lines += ["", "## Per file", "", "| file | mutants | killed | survived | timeout | no tests | not checked |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for f in report["files"]:
        lines.append(f"| {f['file']} | {f['total']} | {f['killed']} | {f['survived']} | {f['timeout']} | "
                     f"{f['no tests']} | {f['not checked']} |")
    lines += ["", f"## Surviving mutants ({len(report['survivors'])})", "",
              "`mutmut show NAME` prints the full diff; `mutmut apply NAME` writes it into the tree.", ""]
    for s in report["survivors"]:
        lines += [f"- `{s['mutant']}`", "  ```diff", *(f"  {line}" for line in s["diff"]), "  ```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", default="make mutation", help="the command that produced the results")
    parser.add_argument("--note", default="", help="a line on how the run was made, kept in the report")
    parser.add_argument("--merge", action="store_true",
                        help="fold this run into the report in benchmarks/results (see the module docstring)")
    args = parser.parse_args()
    os.chdir(ROOT)  # mutmut reads pyproject.toml and mutants/ from the working directory
    if not Path("mutants").is_dir():
        raise SystemExit("mutants/: no mutmut results here; run `make mutation` first")
    files, survivors = collect()
    stamp = {"command": args.command, "note": args.note, "mutmut": version("mutmut"),
             "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)}
    if args.merge and (RESULTS / "mutation.json").is_file():
        earlier = json.loads((RESULTS / "mutation.json").read_text(encoding="utf-8"))
        files, survivors = merge(earlier, files, survivors)
        run = {k: stamp[k] for k in ("command", "note", "date", "load_average")}
        report = {**earlier, "runs": [*earlier.get("runs", []), run], "files": files, "survivors": survivors,
                  "groups": summarise(files)}
    else:
        report = {**stamp, "python": platform.python_version(), "groups": summarise(files), "files": files,
                  "survivors": survivors}
    atomic_write_json(RESULTS / "mutation.json", report)
    atomic_write_text(RESULTS / "mutation.md", markdown(report))
    for r in report["groups"]:
        share = "not run" if not r["run"] else f"{100 * r['killed_share']:.1f} % killed of {r['checked']}"
        print(f"{r['group']}: {share}")


if __name__ == "__main__":
    main()
