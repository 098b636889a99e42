"""Hand-picked mutation check (issue 19): each mutation is a small, plausible bug in a function the
reported figures depend on; the check applies it to a copy of ``src/cathx`` (never to the working
tree), runs the test files that should catch it, and records which tests failed.

A baseline run (no mutation) must pass first, or nothing is recorded. Mutations marked with a
``ref`` are applied to that commit's sources (the code the issue was filed against, where the
working tree has since been rewritten). Writes benchmarks/results/mutation_check.json and .md.

    .venv/bin/python benchmarks/mutation_check.py [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_TRACKER = "2e5d45d"  # tracking.py before the slot-based tracker

METRICS = ["tests/metrics/test_detection_metrics.py"]
VAL = ["tests/training/test_evaluate.py"]
WEIGHTING = ["tests/training/test_weighting.py"]
LABELS = ["tests/data/synthetic/test_labels.py", "tests/data/synthetic/test_generator.py"]
DICOM = ["tests/data/formats/test_dicom.py"]
TYPES = ["tests/postprocess/test_catheter_type.py"]
TRACKING = ["tests/postprocess/test_tracking_identity.py", "tests/postprocess/test_results_tracking.py"]
TRACKING_OLD = ["tests/postprocess/test_tracking_identity.py"]  # the other file now tests the new tracker
EXPORT = ["tests/export/test_onnx_stride.py", "tests/export/test_onnx.py"]

# (name, file under src/, [(old, new), ...], tests, ref or None)
MUTATIONS: list[tuple[str, str, list[tuple[str, str]], list[str], str | None]] = [
    ("mean J computed as mean Dice", "cathx/metrics/evaluation.py",
     [('"mean_j": mean_of("iou")', '"mean_j": mean_of("dice")')], METRICS + VAL, None),
    ("mean J computed as pooled IoU", "cathx/metrics/evaluation.py",
     [("            row.update(iou=iou(pred_mask, target_mask), dice=dice(pred_mask, target_mask),",
       "            row.update(_i=int((pred_mask & target_mask).sum()), "
       "_u=int((pred_mask | target_mask).sum()))\n"
       "            row.update(iou=iou(pred_mask, target_mask), dice=dice(pred_mask, target_mask),"),
      ('            "mean_j": mean_of("iou"),',
       "            \"mean_j\": float(sum(r.get('_i', 0) for r in self.rows) "
       "/ max(sum(r.get('_u', 0) for r in self.rows), 1)),")],
     METRICS + VAL, None),
    ("coco_ap: detection box w and h swapped", "cathx/metrics/detection.py",
     [("boxes_from_centres(found[:, :2], found[:, 3:5])",
       "boxes_from_centres(found[:, :2], found[:, [4, 3]])")], METRICS, None),
    ("coco_ap: ground-truth box w and h swapped", "cathx/metrics/detection.py",
     [("for box in boxes_from_centres(points, sizes):",
       "for box in boxes_from_centres(points, np.asarray(sizes).reshape(-1, 2)[:, ::-1]):")], METRICS, None),
    ("coco_ap: ap75 reported as ap50", "cathx/metrics/detection.py",
     [('"ap75": mean_valid(precision[at75]),', '"ap75": mean_valid(precision[at50]),')], METRICS, None),
    ("sample_kpis: heatmap stride fixed at 4", "cathx/metrics/kpi.py",
     [('        stride = (heatmap_stride(tuple(batch["image"].shape[-2:]), '
       'tuple(outputs["heatmap"].shape[-2:]))\n'
       '                  if "image" in batch else 4)', "        stride = 4")], METRICS, None),
    ("Prioritizer: task EMA arguments swapped", "cathx/training/weighting.py",
     [("ema(self.kappa_bar[task], batch_kpi, self.cfg.alpha)",
       "ema(batch_kpi, self.kappa_bar[task], self.cfg.alpha)")], WEIGHTING, None),
    ("Prioritizer: per-sample bank EMA arguments swapped", "cathx/training/weighting.py",
     [("ema(bank[idx], kappa[avail], self.cfg.sample_alpha)",
       "ema(kappa[avail], bank[idx], self.cfg.sample_alpha)")], WEIGHTING, None),
    ("GradNorm: target uses rate**-alpha", "cathx/training/weighting.py",
     [("target = g.mean() * rate**alpha", "target = g.mean() * rate**-alpha")], WEIGHTING, None),
    ("synthetic: electrode label 3 mm along the shaft from its ring", "cathx/data/synthetic/scene.py",
     [("centres = view.project(point_at(moved, device.electrodes[:, 0]))",
       "centres = view.project(point_at(moved, device.electrodes[:, 0] + 3.0))")], LABELS, None),
    ("synthetic: ring drawn 3 mm from its label", "cathx/data/synthetic/scene.py",
     [("starts = view.project(point_at(moved, device.electrodes[:, 0] - device.electrodes[:, 1] / 2))",
       "starts = view.project(point_at(moved, device.electrodes[:, 0] + 3.0 - device.electrodes[:, 1] / 2))"),
      ("ends = view.project(point_at(moved, device.electrodes[:, 0] + device.electrodes[:, 1] / 2))",
       "ends = view.project(point_at(moved, device.electrodes[:, 0] + 3.0 + device.electrodes[:, 1] / 2))")],
     LABELS, None),
    ("synthetic: mask coverage threshold 0.99 (config default)", "cathx/data/synthetic/config.py",
     [("mask_coverage_threshold: float = 0.5", "mask_coverage_threshold: float = 0.99")], LABELS, None),
    ("synthetic: mask coverage threshold 0.99 (scene)", "cathx/data/synthetic/scene.py",
     [(">= config.mask_coverage_threshold", ">= 0.99")], LABELS, None),
    ("synthetic: mask coverage threshold 0.2 (scene)", "cathx/data/synthetic/scene.py",
     [(">= config.mask_coverage_threshold", ">= 0.2")], LABELS, None),
    ("DICOM: VOI LUT output range ignored", "cathx/data/formats/dicom.py",
     [("            low, high = 0.0, float(2 ** int(header.VOILUTSequence[0].LUTDescriptor[2]) - 1)\n", "")],
     DICOM, None),
    ("DICOM: MONOCHROME1 not inverted when a window is set", "cathx/data/formats/dicom.py",
     [('    if photometric == "MONOCHROME1":',
       '    if photometric == "MONOCHROME1" and header.get("WindowCenter") is None:')], DICOM, None),
    ("catheter type: ablation tip threshold 1.6", "cathx/postprocess/catheter_type.py",
     [("features.tip_ratio > 1.05", "features.tip_ratio > 1.6")], TYPES, None),
    ("catheter type: 5-6 electrodes never lasso", "cathx/postprocess/catheter_type.py",
     [('return "lasso" if looped and not 0.65 <= features.spread <= 1.05 else "cs_decapolar"  # rings missed',
       'return "cs_decapolar"')], TYPES, None),
    ("catheter type: 5-6 electrodes lasso on a closed centreline alone", "cathx/postprocess/catheter_type.py",
     [('return "lasso" if looped and not 0.65 <= features.spread <= 1.05 else "cs_decapolar"  # rings missed',
       'return "lasso" if looped else "cs_decapolar"')], TYPES, None),
    ("catheter type: gap CV threshold 0.5", "cathx/postprocess/catheter_type.py",
     [("features.gap_cv > 0.3", "features.gap_cv > 0.5")], TYPES, None),
    ("catheter type: lasso from 13 electrodes, not 12", "cathx/postprocess/catheter_type.py",
     [("if n >= 12:", "if n >= 13:")], TYPES, None),
    ("tracking (old): track anchor never updated", "cathx/postprocess/tracking.py",
     [("            track.anchor = anchors[c]\n", "")], TRACKING_OLD, OLD_TRACKER),
    ("tracking (old): owner penalty removed", "cathx/postprocess/tracking.py",
     [("            gap = gap + self.max_electrode_distance "
       "* (self._electrode_owner[:, None] != owners[None, :])\n", "")],
     TRACKING_OLD, OLD_TRACKER),
    ("tracking (old): electrode ids by list position", "cathx/postprocess/tracking.py",
     [("            for r, c in match(gap, self.max_electrode_distance):",
       "            for r, c in [(i, i) for i in range(min(gap.shape))]:")], TRACKING_OLD, OLD_TRACKER),
    ("tracking: track slots never updated", "cathx/postprocess/tracking.py",
     [("            residual = median(np.stack(known) - np.stack(predicted), axis=0) "
       "if known else np.zeros(2)",
       "            residual = np.zeros(2)"),
      ("                track.slots[slot] = xy\n", "                track.slots.setdefault(slot, xy)\n")],
     TRACKING, None),
    ("tracking: slots by position in the detection (no alignment)", "cathx/postprocess/tracking.py",
     [("                ranks, _ = align_to_template(points, template, self.max_electrode_distance)",
       "                ranks = np.arange(len(points), dtype=np.int64)")], TRACKING, None),
    ("tracking: electrode rows taken in list order", "cathx/postprocess/tracking.py",
     [("            for row, slot in zip(piece.members.tolist(), slots):",
       "            for row, slot in zip(sorted(piece.members.tolist()), slots):")], TRACKING, None),
    ("tracking: detection matched against every track's electrodes (no owner)",
     "cathx/postprocess/tracking.py",
     [("                nearest[:, t] = gap[:, owner_t == t].min(axis=1)",
       "                nearest[:, t] = gap.min(axis=1)")],
     TRACKING, None),
    ("ONNX metadata: stride fixed at 4", "cathx/export/onnx.py",
     [('"output_stride": str(model.output_stride)', '"output_stride": "4"')], EXPORT, None),
    ("Predictor (onnx): stride fixed at 4", "cathx/inference/predictor.py",
     [("stride=onnx_output_stride(path, meta)", "stride=4")], EXPORT, None),
    ("Predictor (onnx): mask returned transposed", "cathx/inference/predictor.py",
     [("        return {name: value for name, value in zip(self.output_names, values) "
       "if name in OUTPUT_NAMES}",
       "        return {name: (np.swapaxes(value, -1, -2) if name == 'mask' else value) "
       "for name, value in zip(self.output_names, values) if name in OUTPUT_NAMES}")], EXPORT, None),
]


def sources(ref: str | None, into: Path) -> None:
    """src/cathx of the working tree (ref None) or of commit ``ref`` into ``into``/cathx."""
    shutil.rmtree(into, ignore_errors=True)
    if ref is None:
        shutil.copytree(ROOT / "src" / "cathx", into / "cathx")
        return
    archive = subprocess.run(["git", "archive", ref, "src/cathx"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "a.tar").write_bytes(archive)
        with tarfile.open(Path(tmp, "a.tar")) as tar:
            tar.extractall(tmp, filter="data")
        shutil.copytree(Path(tmp, "src", "cathx"), into / "cathx")


def enclosing(source: str, offset: int) -> str:
    """Qualified name of the innermost class/function around character ``offset`` of ``source``."""
    line = source.count("\n", 0, offset) + 1
    best: list[str] = []

    def visit(node: ast.AST, names: list[str]) -> None:
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if child.lineno <= line <= (child.end_lineno or child.lineno):
                    best = [*names, child.name]
                    visit(child, best)
            else:
                visit(child, names)

    visit(ast.parse(source), [])
    return ".".join(best) or "<module>"


def run_tests(copy: Path, tests: list[str]) -> tuple[int, list[str], float]:
    started = time.perf_counter()
    env = dict(os.environ, HF_HUB_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1")
    command = [sys.executable, "-m", "pytest", "-q", "-o", f"pythonpath={copy}", "-p", "no:randomly", *tests]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    failed = sorted({line.split()[1].split(" - ")[0] for line in done.stdout.splitlines()
                     if line.startswith(("FAILED ", "ERROR "))})
    return done.returncode, failed, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only mutations whose name contains this")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if args.only.lower() in m[0].lower()]
    records = []
    with tempfile.TemporaryDirectory(prefix="cathx-mutation-") as tmp:
        copy = Path(tmp)
        for ref in sorted({m[4] for m in chosen}, key=str):
            sources(ref, copy)
            files = sorted({t for m in chosen if m[4] == ref for t in m[3]})
            code, failed, _ = run_tests(copy, files)
            if code != 0:
                raise SystemExit(f"baseline ({ref or 'working tree'}) fails: {failed}")
        for name, file, edits, tests, ref in chosen:
            sources(ref, copy)
            path = copy / file
            text = path.read_text()
            missing = [old for old, _ in edits if text.count(old) != 1]
            if missing:
                records.append({"mutation": name, "file": f"src/{file}", "ref": ref, "status": "not applied",
                                "failed_tests": [], "why": f"text not found once: {missing[0][:60]!r}"})
                continue
            function = enclosing(text, text.index(edits[0][0]))
            for old, new in edits:
                text = text.replace(old, new)
            path.write_text(text)
            code, failed, seconds = run_tests(copy, tests)
            status = "caught" if code != 0 else "survived"
            records.append({"mutation": name, "file": f"src/{file}", "function": function, "ref": ref,
                            "status": status, "failed_tests": failed, "seconds": round(seconds, 1)})
            print(f"{status:8s} {name}: {', '.join(t.split('::')[-1] for t in failed)}", flush=True)
    from cathx.fileio import atomic_write_json, atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    caught = sum(r["status"] == "caught" for r in records)
    atomic_write_json(args.out / "mutation_check.json",
                      {"caught": caught, "total": len(records), "mutations": records})
    lines = ["# Mutation check (issue 19)", "",
             f"{caught} of {len(records)} hand-picked mutations caught; written by "
             "`benchmarks/mutation_check.py`, "
             "which applies each to a copy of `src/cathx` and runs the listed test files (a baseline run of "
             "the same files passes first).", "",
             "| mutation | file:function | status | tests that fail |", "| --- | --- | --- | --- |"]
    for r in records:
        where = f"{r['file']}:{r.get('function', '?')}" + (f" @ {r['ref']}" if r["ref"] else "")
        tests = "<br>".join(f"`{t.split('/')[-1]}`" for t in r["failed_tests"]) or r.get("why", "-")
        lines.append(f"| {r['mutation']} | {where} | {r['status']} | {tests} |")
    lines += ["", "Notes: rows marked `@ ref` ran on that commit's sources (the tracker the issue was "
              "filed against, replaced since) with `test_tracking_identity.py` only. The synthetic engine "
              "renders at 2x supersampling, so pixel coverage comes in quarters and any mask threshold in "
              "(0.25, 0.5] is the same mask: 0.2 is the nearest lower threshold that can differ. Mutations "
              "whose text is no longer in the source are listed as not applied."]
    atomic_write_text(args.out / "mutation_check.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
