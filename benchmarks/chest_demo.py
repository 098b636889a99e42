"""Chest line/tube classification on the synthetic RANZCR-layout set within a CPU time budget.

Writes a synthetic set, trains the configured classifier (configs/chest_demo.yaml by default) on
four PatientID-grouped folds for at most ``--minutes`` of fitting, and reports the mean
column-wise ROC AUC and per-label AUC on the held-out fold. The number of epochs is fitted to the
budget from the measured speed of a few training steps, so the learning-rate schedule completes.

    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/chest_demo.py

Results: benchmarks/results/chest_demo.json and .md (measured; nothing is hard-coded).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cathx.config import to_dict  # noqa: E402
from cathx.data.chest.dataset import ChestArrayDataset  # noqa: E402
from cathx.data.chest.folds import group_folds, split_fold  # noqa: E402
from cathx.data.transforms import chest_transforms  # noqa: E402
from cathx.fileio import atomic_write_json, atomic_write_text  # noqa: E402
from cathx.metrics.classification import auc_markdown  # noqa: E402
from cathx.training.chest import ChestClassifierModule, prepare_data, train_classifier  # noqa: E402
from cathx.training.chest_config import load_cls_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("chest_demo")


def seconds_per_step(cfg, out: Path, steps: int = 4) -> float:
    """Median time of one optimiser step (forward, backward, AdamW) at the configured batch size."""
    _, cache = prepare_data(cfg.data, out)
    folds = group_folds(cache.patient_ids, cfg.data.folds, cfg.data.fold_seed)
    train_idx, _ = split_fold(folds, cfg.data.fold)
    dataset = ChestArrayDataset(cache, train_idx[: cfg.data.batch_size * (steps + 1)],
                                chest_transforms(cfg.data.augment))
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.data.batch_size)
    module = ChestClassifierModule(to_dict(cfg))
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4)
    times = []
    for batch in loader:
        start = time.perf_counter()
        _, losses = module._losses(batch)
        (losses["cls"] + losses.get("segmentation", 0.0)).backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:] if len(times) > 1 else times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "chest_demo.yaml"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "chest_demo"))
    parser.add_argument("--minutes", type=float, default=14.0, help="fitting budget (validation included)")
    parser.add_argument("--n", type=int, default=None, help="synthetic studies (default: the config's)")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "chest_demo"))
    parser.add_argument("--epochs", type=int, default=None,
                        help="fix the number of epochs instead of fitting it to the budget from a step timing")
    parser.add_argument("--finish-by", default=None,
                        help="HH:MM (UTC): shrink the fitting budget so the run ends by then (shared machines)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    cfg = load_cls_config(args.config, synth_n=args.n)
    out = Path(args.out)

    started = time.perf_counter()
    prepare_data(cfg.data, out)
    data_seconds = time.perf_counter() - started
    step = seconds_per_step(cfg, out, steps=2 if args.epochs else 6)
    requested_minutes = args.minutes
    if args.finish_by:
        hour, minute = (int(v) for v in args.finish_by.split(":"))
        now = time.gmtime()
        left = (hour * 60 + minute) - (now.tm_hour * 60 + now.tm_min + now.tm_sec / 60)
        # Keep about 1.5 minutes for the final evaluation and the reports.
        args.minutes = max(1.0, min(args.minutes, left - 1.5))
    n_train = int(cfg.data.synth_n * (cfg.data.folds - 1) / cfg.data.folds)
    steps_per_epoch = n_train // cfg.data.batch_size
    # Budget: training steps plus about 20 % for validation passes and checkpointing.
    epochs = args.epochs or max(1, int(args.minutes * 60 / (1.2 * step * steps_per_epoch)))
    cfg = replace(cfg, epochs=epochs, max_minutes=args.minutes)
    log.info("%.2f s/step, %d steps/epoch -> %d epochs in %.1f min", step, steps_per_epoch, epochs, args.minutes)
    summary = train_classifier(cfg, out)

    result = {
        "benchmark": "chest_demo",
        "config": str(Path(args.config).relative_to(ROOT)) if Path(args.config).is_relative_to(ROOT) else args.config,
        "model": summary["model"], "image_size": summary["image_size"],
        "synthetic_studies": cfg.data.synth_n, "synthetic_size": cfg.data.synth_size,
        "train_studies": summary["train_studies"], "train_patients": summary["train_patients"],
        "val_studies": summary["studies"], "val_patients": summary["val_patients"],
        "fold": cfg.data.fold, "folds": cfg.data.folds, "grouped_by": "PatientID",
        "epochs_planned": epochs, "epochs_run": summary["epochs_run"],
        "seconds_per_step": round(step, 3), "batch_size": cfg.data.batch_size,
        "fit_minutes": round(summary["fit_seconds"] / 60, 2), "budget_minutes": round(args.minutes, 2),
        "requested_budget_minutes": requested_minutes, "finish_by": args.finish_by,
        "data_prep_minutes": round(data_seconds / 60, 2),
        "mean_auc": summary["mean_auc"], "per_label_auc": summary["per_label_auc"],
        "val_positives": summary["positives"], "target_mean_auc": 0.90,
        "target_met": bool(summary["mean_auc"] >= 0.90),
        "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    results = Path(args.results)
    atomic_write_json(results.with_suffix(".json"), result)
    lines = [
        "# Chest line/tube classification on synthetic radiographs (CPU, time-boxed)",
        "",
        f"`{result['config']}`: {summary['model']['kind']} classifier, backbone {summary['model']['backbone']} "
        f"(random init), {summary['image_size']} px input, {result['train_studies']} training studies "
        f"({result['train_patients']} patients), validation on a held-out PatientID-grouped fold of "
        f"{result['val_studies']} studies ({result['val_patients']} patients).",
        f"Fitting took {result['fit_minutes']} min for {result['epochs_run']} epoch(s) on {result['threads']} CPU "
        f"threads (budget {args.minutes:.1f} min of the {requested_minutes:.0f} allowed"
        + (f", shortened by --finish-by {args.finish_by} on the shared machine" if args.minutes < requested_minutes
           else "") + f"); data generation and caching {result['data_prep_minutes']} min.",
        "",
        auc_markdown(summary["mean_auc"], summary["per_label_auc"], summary["positives"], summary["studies"]),
        f"Target mean AUC >= 0.90: {'met' if result['target_met'] else 'not met'} "
        f"(measured {summary['mean_auc']:.3f}). Command: "
        "`flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/chest_demo.py`.",
    ]
    atomic_write_text(results.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
