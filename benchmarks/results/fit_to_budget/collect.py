"""Collect the fit_to_budget comparison: for each arm's run folder, the steps it trained, its
validation curve and its test-split scores (``cathx val`` output), into results.json.

    .venv/bin/python benchmarks/results/fit_to_budget/collect.py runs/demo_fixed runs/demo_fitted ...
    .venv/bin/python benchmarks/results/fit_to_budget/collect.py --out OTHER/results.json RUN ...
    .venv/bin/python benchmarks/results/fit_to_budget/collect.py --eval eval_final RUN ...  # another val folder
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from cathx.checkpoint import read_checkpoint
from cathx.system import cpu_description

HERE = Path(__file__).parent
KEYS = ("mean_j", "dice", "cldice", "ap", "ap50", "ap75", "mae", "recall3", "recall5")


def arm(folder: Path, evaluation: str = "eval") -> dict:
    rows = list(csv.DictReader((folder / "logs" / "multitask" / "metrics.csv").open()))
    stage = read_checkpoint(folder / "stages" / "multitask" / "model.pt")["extra"]
    curve = [(int(r["step"]) + 1, round(float(r["val/mean_j"]), 4)) for r in rows if r.get("val/mean_j")]
    metrics = json.loads((folder / evaluation / "metrics.json").read_text())
    return {"run": folder.name, "scored": f"{evaluation}/metrics.json", "weights": metrics.get("weights"),
            "multitask_steps": stage["global_step"], "schedule_finished": stage["finished"],
            "validation_mean_j": curve, **{k: round(float(metrics[k]), 4) for k in KEYS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (cathx train --out), each with eval/")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--eval", default="eval", help="folder of each run holding cathx val's metrics.json")
    args = parser.parse_args()
    arms = [arm(folder, args.eval) for folder in args.runs]
    args.out.write_text(json.dumps({"cpu": cpu_description(), "arms": arms}, indent=1) + "\n")
    for a in arms:
        print(f"{a['run']}: {a['multitask_steps']} steps, finished {a['schedule_finished']}, "
              f"mean J {a['mean_j']:.3f}, AP50 {a['ap50']:.3f}, AP {a['ap']:.3f}")


if __name__ == "__main__":
    main()
