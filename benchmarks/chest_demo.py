"""Chest line/tube classification on the synthetic RANZCR-layout set: the quick recipe, timed.

Runs ``cathx cls train`` with the configured recipe (configs/chest_demo.yaml by default: a first
part on the engine's plain template, then the variety from its weights, docs/chest.md) on four
PatientID-grouped folds, and reports the mean column-wise ROC AUC and per-label AUC on the
held-out fold with the fitting minutes of each part.

    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/chest_demo.py

Results: benchmarks/results/chest_demo.json and .md (measured; nothing is hard-coded).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch  # noqa: E402

from cathx.fileio import atomic_write_json, atomic_write_text  # noqa: E402
from cathx.metrics.classification import auc_markdown  # noqa: E402
from cathx.system import cpu_description  # noqa: E402
from cathx.training.chest import train_classifier  # noqa: E402
from cathx.training.chest_config import load_cls_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("chest_demo")
TARGET_AUC = 0.90
TARGET_MINUTES = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "chest_demo.yaml"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "chest_demo"))
    parser.add_argument("--n", type=int, default=None, help="synthetic studies (default: the config's)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of the second part (default: the config's)")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "chest_demo"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    cfg = load_cls_config(args.config, synth_n=args.n)
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    out = Path(args.out)
    started = time.perf_counter()
    summary = train_classifier(cfg, out)
    wall_minutes = (time.perf_counter() - started) / 60
    first = summary.get("template_first")
    fit_minutes = (summary["fit_seconds"] + (first["fit_seconds"] if first else 0.0)) / 60

    result = {
        "benchmark": "chest_demo",
        "config": str(Path(args.config).relative_to(ROOT)) if Path(args.config).is_relative_to(ROOT) else args.config,
        "model": summary["model"], "image_size": summary["image_size"],
        "synthetic_studies": cfg.data.synth_n, "synthetic_size": cfg.data.synth_size,
        "train_studies": summary["train_studies"], "train_patients": summary["train_patients"],
        "val_studies": summary["studies"], "val_patients": summary["val_patients"],
        "fold": cfg.data.fold, "folds": cfg.data.folds, "grouped_by": "PatientID",
        "template_first": ({"epochs_run": first["epochs_run"], "fit_minutes": round(first["fit_seconds"] / 60, 2),
                            "mean_auc": first["mean_auc"]} if first else None),
        "epochs": cfg.epochs, "epochs_run": summary["epochs_run"], "batch_size": cfg.data.batch_size,
        "fit_minutes": round(fit_minutes, 2), "wall_minutes": round(wall_minutes, 2),
        "mean_auc": summary["mean_auc"], "per_label_auc": summary["per_label_auc"],
        "val_positives": summary["positives"], "target_mean_auc": TARGET_AUC, "target_minutes": TARGET_MINUTES,
        "target_met": bool(summary["mean_auc"] >= TARGET_AUC and wall_minutes <= TARGET_MINUTES),
        "threads": torch.get_num_threads(), "precision": cfg.precision, "cpu": cpu_description(),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    results = Path(args.results)
    atomic_write_json(results.with_suffix(".json"), result)
    parts = (f"first part {first['epochs_run']} epoch(s) on the engine's template in {result['template_first']['fit_minutes']} "
             f"min (its own validation mean AUC {first['mean_auc']:.3f}), then " if first else "")
    lines = [
        "# Chest line/tube classification on synthetic radiographs: the quick recipe",
        "",
        f"`{result['config']}`: {summary['model']['kind']} classifier, backbone {summary['model']['backbone']} "
        f"(random init), {summary['image_size']} px input, {result['train_studies']} training studies "
        f"({result['train_patients']} patients), validation on a held-out PatientID-grouped fold of "
        f"{result['val_studies']} studies ({result['val_patients']} patients).",
        f"Fitting: {parts}{result['epochs_run']} epoch(s) on the engine's variety; {result['fit_minutes']} min of "
        f"fitting, {result['wall_minutes']} min end to end with writing the studies, on {result['threads']} "
        f"threads of {result['cpu']} ({cfg.precision}).",
        "",
        auc_markdown(summary["mean_auc"], summary["per_label_auc"], summary["positives"], summary["studies"]),
        f"Target mean AUC >= {TARGET_AUC} within {TARGET_MINUTES:.0f} minutes: "
        f"{'met' if result['target_met'] else 'not met'} (measured {summary['mean_auc']:.3f} in "
        f"{result['wall_minutes']} min). Command: `flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/chest_demo.py`.",
    ]
    atomic_write_text(results.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
