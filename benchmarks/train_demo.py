"""Benchmark: configs/demo.yaml end to end (train on synthetic data, evaluate on its test split),
and training throughput of every paper backbone at 256 px.

    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/train_demo.py
    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/train_demo.py --skip-demo --steps 3

Writes benchmarks/results/train_demo.json and train_demo.md (measured values only).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BACKBONES = ("resnet18", "resnet34", "vgg16_bn", "hrnet_w18", "hrnet_w32")


def run_demo(config: Path, out: Path) -> dict:
    """Train demo.yaml from scratch (synthetic data generated into OUT/data), then evaluate."""
    import yaml

    from cathx.training import evaluate, train
    from cathx.training.config import load_train_config

    cfg = load_train_config(config)
    start = time.perf_counter()
    best = train(cfg, out=out)
    trained = time.perf_counter()
    summary = evaluate(best, out / "data", out / "eval", split=cfg.data.test_split)
    finished = time.perf_counter()
    steps = trained_steps(out, [stage.name for stage in cfg.stages])
    images = steps * cfg.data.batch_size
    return {
        "config": str(config.relative_to(ROOT) if config.is_relative_to(ROOT) else config),
        "config_values": yaml.safe_load(config.read_text()),
        "train_seconds": trained - start,
        "evaluate_seconds": finished - trained,
        "total_seconds": finished - start,
        "train_threads": cfg.trainer.threads,
        "steps": steps,
        "train_images_seen": images,
        "train_images_per_second": images / (trained - start) if trained > start else None,
        "test": {k: summary.get(k) for k in ("images", "electrodes", "mean_j", "dice", "cldice", "ap", "ap50",
                                              "ap75", "mae", "recall3", "recall5")},
        "all_stages_finished": all((out / "stages" / s.name / "done.json").is_file() for s in cfg.stages),
    }


def trained_steps(out: Path, stages: list[str]) -> int:
    """Optimizer steps done over all stages (finished or cut by the time budget), from each
    stage's exported weights (model.pt records its global step)."""
    total = 0
    for name in stages:
        weights = out / "stages" / name / "model.pt"
        if weights.is_file():
            extra = torch.load(weights, map_location="cpu", weights_only=True).get("extra", {})
            total += int(extra.get("global_step", 0))
    return total


def backbone_throughput(encoder: str, steps: int, batch_size: int, size: int = 256) -> dict:
    """Median training images/s of the paper-width CathMTL with ``encoder`` (full training step:
    forward, per-sample losses, KPIs, prioritization, backward, AdamW)."""
    from torch.utils.data import default_collate

    from cathx.config import to_dict
    from cathx.data.datasets import SampleDataset
    from cathx.data.synthetic.sequence import SyntheticReader
    from cathx.data.transforms import build_transforms
    from cathx.models import model_profile
    from cathx.training.config import OptimConfig, PrioritizationConfig
    from cathx.training.module import CathxModule

    model_cfg = to_dict(model_profile("paper", encoder=encoder))
    module = CathxModule(model_cfg, to_dict(PrioritizationConfig()), to_dict(OptimConfig()),
                         ("segmentation", "detection"), num_samples=batch_size, total_steps=steps + 1)
    optimizer = module.configure_optimizers()
    dataset = SampleDataset(SyntheticReader(batch_size, size, 0), transform=build_transforms(size, train=True))
    batch = default_collate([dataset[i] for i in range(batch_size)])
    module.log = lambda *a, **k: None  # outside a Trainer: nothing to log to
    module.log_dict = lambda *a, **k: None
    times = []
    for step in range(steps + 1):
        begin = time.perf_counter()
        loss = module.training_step(batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - begin)
    parameters = sum(p.numel() for p in module.model.parameters())
    return {"encoder": encoder, "batch_size": batch_size, "size": size, "steps_timed": len(times),
            "threads": torch.get_num_threads(),
            "median_step_seconds": statistics.median(times),
            "train_images_per_second": batch_size / statistics.median(times), "parameters_m": parameters / 1e6}


def markdown(result: dict) -> str:
    lines = ["# Training benchmark", "", f"Machine: {result['machine']}.",
             "Timings slow down when other jobs share the machine.", ""]
    demo = result.get("demo")
    if demo:
        test = demo["test"]

        def fmt(value, digits=4):
            return "n/a" if value is None else f"{value:.{digits}f}"

        lines += [
            f"## configs/demo.yaml end to end (`{demo['config']}`)", "",
            "| measure | value |", "| --- | --- |",
            f"| total time (train + evaluate) | {demo['total_seconds'] / 60:.1f} min |",
            f"| training time (incl. synthetic data generation) | {demo['train_seconds'] / 60:.1f} min |",
            f"| torch threads | {demo.get('train_threads')} |",
            f"| optimizer steps / images seen | {demo['steps']} / {demo['train_images_seen']} |",
            f"| training throughput | {fmt(demo['train_images_per_second'], 2)} img/s |",
            f"| all stages finished within the time budget | {demo['all_stages_finished']} |",
            f"| test images / electrodes | {test['images']} / {test['electrodes']} |",
            f"| mean J (target >= 0.70) | {fmt(test['mean_j'])} |",
            f"| Dice / clDice | {fmt(test['dice'])} / {fmt(test['cldice'])} |",
            f"| electrode AP@[.50:.95] (target >= 0.60) | {fmt(test['ap'])} |",
            f"| AP50 / AP75 | {fmt(test['ap50'])} / {fmt(test['ap75'])} |",
            f"| localisation MAE (px) | {fmt(test['mae'], 2)} |",
            f"| recall within 3 / 5 px | {fmt(test['recall3'])} / {fmt(test['recall5'])} |", "",
            f"Command: `{demo.get('command', result['command'])}`", "",
        ]
    if result.get("backbones"):
        lines += ["## Training throughput per backbone (paper-width CathMTL, 256 px, full training step)", "",
                  "| backbone | parameters (M) | batch | threads | median step (s) | img/s |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for row in result["backbones"]:
            if "error" in row:
                lines.append(f"| {row['encoder']} | - | - | - | - | failed: {row['error']} |")
            else:
                lines.append(f"| {row['encoder']} | {row['parameters_m']:.2f} | {row['batch_size']} | {row.get('threads')} | "
                             f"{row['median_step_seconds']:.2f} | {row['train_images_per_second']:.2f} |")
        lines += ["", f"Command: `{result.get('backbones_command', result['command'])}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.yaml")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary folder)")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-backbones", action="store_true")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per backbone")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from cathx.fileio import atomic_write_json, atomic_write_text

    from cathx.system import cpu_description

    result: dict = {"machine": cpu_description(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__,
                    "command": "python benchmarks/train_demo.py " + " ".join(argv)}
    if not args.skip_demo:
        with tempfile.TemporaryDirectory(prefix="cathx-demo-") as scratch:
            out = args.out or Path(scratch) / "run"
            result["demo"] = run_demo(args.config.resolve(), out)
            result["demo"]["command"] = result["command"]
            print(json.dumps(result["demo"]["test"], indent=1), flush=True)
    if not args.skip_backbones:
        rows = []
        for encoder in BACKBONES:
            try:
                rows.append(backbone_throughput(encoder, args.steps, args.batch_size))
            except Exception as exc:  # noqa: BLE001 - record the failure in the results
                rows.append({"encoder": encoder, "error": f"{type(exc).__name__}: {str(exc)[:100]}"})
            print(rows[-1], flush=True)
        result["backbones"] = rows
        result["backbones_command"] = result["command"]
    torch.set_num_threads(torch.get_num_threads())
    name = "train_demo"
    previous = args.results / f"{name}.json"
    if previous.is_file() and (args.skip_demo or args.skip_backbones):  # keep the part not re-measured
        old = json.loads(previous.read_text())
        for key in ("demo", "backbones", "backbones_command"):
            if key not in result and key in old:
                result[key] = old[key]
    atomic_write_json(args.results / f"{name}.json", result)
    atomic_write_text(args.results / f"{name}.md", markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
