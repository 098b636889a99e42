"""`cathx train` and `cathx val`: staged CathMTL training from a YAML config, and evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console

from cathx.cli.checks import DEVICE_METAVAR
from cathx.errors import CathxError
from cathx.fileio import claim_output_folder, mark_output_folder


def _print_summary(console: Console, summary: dict, out: Path) -> None:
    from cathx.training.evaluate import summary_markdown

    from cathx.data.formats.summary import problem_report

    console.print(summary_markdown(summary), markup=False, highlight=False)
    for line in problem_report(summary.get("problems", []), "data"):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"reports in {out}", markup=False, highlight=False)


def _with_device(cfg, device: str | None):
    """The config with trainer.accelerator set from --device (cpu, cuda, auto); unchanged for None."""
    from dataclasses import replace

    from cathx.cli import checks

    if device is None:
        return cfg
    if device.strip().lower().startswith("cuda:"):
        raise CathxError(f"--device {device!r}: train takes cpu, cuda or auto (pick GPUs with CUDA_VISIBLE_DEVICES)")
    if device.strip().lower() not in ("cpu", "cuda", "auto"):
        raise CathxError(f"--device {device!r}: choose from cpu, cuda, auto")
    accelerator = "gpu" if checks.device(device).startswith("cuda") else "cpu"
    return replace(cfg, trainer=replace(cfg.trainer, accelerator=accelerator))


def _fit_type_classifier(best: Path, val_reader, frames: int, seed: int) -> dict:
    """Fit the learned type decision on the predictions of ``best`` over the val split (four
    fifths; the last fifth measures it) and store it in ``best``; returns its report."""
    from cathx.inference.predictor import Predictor
    from cathx.training.type_head import (
        attach_type_classifier,
        catheter_examples,
        classifier_accuracy,
        fit_type_classifier,
        head_accuracy,
    )

    predictor = Predictor.from_checkpoint(best)
    count = len(val_reader) if frames <= 0 else min(frames, len(val_reader))
    cut = max(1, (count * 4) // 5)
    features, labels = catheter_examples(predictor, (val_reader[i] for i in range(cut)))
    held_features, held_labels = catheter_examples(predictor, (val_reader[i] for i in range(cut, count)))
    classifier = fit_type_classifier(features, labels, seed=seed)
    report = {"frames": count, "catheters": int(len(labels)), "held_out_catheters": int(len(held_labels)),
              "held_out_accuracy": classifier_accuracy(classifier, held_features, held_labels),  # None: none held out
              "held_out_head_accuracy": head_accuracy(held_features, held_labels)}
    attach_type_classifier(best, classifier, report)
    return report


def finetune_config(init: str) -> Any:
    """The TrainConfig of `cathx train --init WEIGHTS` without --config: the finetune recipe
    (configs/finetune.yaml) with the network WEIGHTS record (architecture, type head, input
    normalisation), so that they load as they are."""
    from cathx.checkpoint import read_checkpoint
    from cathx.config import read_yaml_mapping, resolve_config
    from cathx.training.config import train_config_from_dict

    recipe = resolve_config("finetune")
    model = dict(read_checkpoint(init)["model_config"])
    model.pop("encoder_weights", None)  # the weights come from --init, never from a hub
    return train_config_from_dict({**read_yaml_mapping(recipe), "model": model}, where=f"{recipe} with --init {init}")


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        config: Path | None = typer.Option(None, "--config", "-c", help="Experiment YAML, or a shipped config name "
                                           "(demo, paper); omitted with --init: the weights' own network and the "
                                           "finetune recipe (configs/finetune.yaml)."),
        data: Path | None = typer.Option(None, "--data", "-d", help="Dataset folder; omitted: generate the config's synthetic set."),
        out: Path = typer.Option(Path("runs/cathx"), "--out", "-o", help="Run folder (checkpoints, logs, best.pt)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
        device: str | None = typer.Option(None, "--device", metavar="<cpu|cuda|auto>",
                                          help="default: the config's trainer.accelerator (auto: CUDA when "
                                               "available, else CPU)."),
        max_minutes: float | None = typer.Option(None, "--max-minutes", help="Stop (with a checkpoint) after M minutes of training (replaces the config's trainer.max_minutes; with --resume a stage's time so far counts: give more to train on after a budget stop)."),
        init: str | None = typer.Option(None, "--init", help="Start from these weights (a shipped model name such as "
                                        "cathx-fluoro, or a checkpoint) instead of random ones: fine-tuning."),
        init_matching: bool = typer.Option(False, "--init-matching",
                                           help="With --init: take only the weights whose name and shape fit this "
                                                "config's network (e.g. a wider decoder); the rest starts fresh."),
    ) -> None:
        """Train CathMTL with multi-level dynamic resource prioritization; writes OUT/best.pt."""
        import logging

        from cathx.config import resolve_config
        from cathx.training import train as run_training
        from cathx.training.config import load_train_config

        if data is not None and not data.exists():
            raise CathxError(f"{data}: dataset not found")
        if max_minutes is not None and max_minutes <= 0:
            raise CathxError(f"--max-minutes must be positive, got {max_minutes}")
        if out.exists() and not out.is_dir():
            raise CathxError(f"--out {out}: is a file, not a folder; choose a run folder")
        if config is None and init is None:
            raise CathxError("--config: give an experiment YAML or a shipped config name (demo, paper), or "
                             "--init WEIGHTS alone to fine-tune them (the finetune recipe)")
        if config is None:
            cfg = _with_device(finetune_config(init), device)
        else:
            cfg = _with_device(load_train_config(resolve_config(config)), device)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        if init_matching and init is None:
            raise CathxError("--init-matching: give the weights to take from with --init")
        if init is not None:
            from cathx.checkpoint import read_checkpoint

            read_checkpoint(init)  # a bad name or file fails now, not after the data is generated
        best = run_training(cfg, data=data, out=out, resume=resume, max_minutes=max_minutes, init=init,
                            init_matching=init_matching)
        Console().print(f"best weights: {best}", markup=False, highlight=False)

    @app.command("train-types")
    def train_types(
        data: Path = typer.Option(..., "--data", "-d", help="Dataset folder with catheter types (train and val splits)."),
        out: Path = typer.Option(Path("runs/type_head"), "--out", "-o", help="Folder for best.pt, last.pt, history.json."),
        init: str = typer.Option("cathx-fluoro", "--init", help="The trained network (shipped model name or checkpoint)."),
        epochs: int = typer.Option(3, "--epochs", help="Passes over the training split."),
        batch_size: int = typer.Option(32, "--batch-size", help="Frames per step."),
        lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate (one-cycle)."),
        max_minutes: float = typer.Option(0.0, "--max-minutes", help="Stop with OUT/last.pt after M minutes (0: none)."),
        threads: int = typer.Option(2, "--threads", help="torch CPU threads."),
        classifier_frames: int = typer.Option(0, "--classifier-frames",
                                              help="val frames for the learned type decision (0: all)."),
    ) -> None:
        """Fit the catheter-type head on a trained network (the rest frozen), then the learned type
        decision over its predictions on the val split; writes OUT/best.pt."""
        import logging

        from cathx.checkpoint import read_checkpoint
        from cathx.data.formats import open_dataset
        from cathx.training.type_head import TypeHeadConfig, fit_type_head

        if not data.exists():
            raise CathxError(f"{data}: dataset not found")
        if max_minutes < 0:
            raise CathxError(f"--max-minutes must be 0 or positive, got {max_minutes}")
        if out.exists() and not out.is_dir():
            raise CathxError(f"--out {out}: is a file, not a folder; choose a run folder")
        cfg = TypeHeadConfig(epochs=epochs, batch_size=batch_size, lr=lr, max_minutes=max_minutes, threads=threads)
        size = int((read_checkpoint(init).get("extra") or {}).get("input_size") or 256)
        train_reader, val_reader = open_dataset(data, split="train"), open_dataset(data, split="val")
        if len(val_reader) == 0:
            raise CathxError(f"{data}: no frames in the val split to select the head by")
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        best = fit_type_head(init, train_reader, val_reader, out, cfg, size=size)
        console = Console()
        try:
            report = _fit_type_classifier(best, val_reader, classifier_frames, cfg.seed)
        except CathxError as exc:  # the head is saved; without the decision the head types alone
            console.print(f"warning: learned type decision not fitted, the type head alone types catheters ({exc})",
                          markup=False, highlight=False, soft_wrap=True)
        else:
            accuracy = report["held_out_accuracy"]
            console.print(f"type decision: {accuracy:.3f} of {report['held_out_catheters']} held-out val catheters "
                          "typed right" if accuracy is not None else
                          "type decision: fitted, not measured (no held-out val catheters; more val frames would give some)",
                          markup=False, highlight=False)
        console.print(f"best weights: {best}", markup=False, highlight=False)

    @app.command()
    def val(
        weights: Path = typer.Option(Path("cathx-fluoro"), "--weights", "-w",
                                     help="Shipped model name (see `cathx models`) or a checkpoint (.safetensors, "
                                          "best.pt or a Lightning .ckpt)."),
        data: Path = typer.Option(..., "--data", "-d", help="Dataset folder."),
        out: Path = typer.Option(..., "--out", "-o", help="Folder for metrics.json, per_image.csv, summary.md and plots."),
        split: str = typer.Option("test", "--split", help="Split to evaluate (train, val, test)."),
        batch_size: int = typer.Option(8, "--batch-size", help="Images per forward pass."),
        device: str = typer.Option("cpu", "--device", metavar=DEVICE_METAVAR,
                                   help="auto: CUDA when available, else CPU."),
        tta: bool = typer.Option(False, "--tta", help="Average the mask over each frame and its mirror image."),
        precision: Literal["auto", "fp32", "bf16"] = typer.Option("auto", "--precision",
                                      help="What the network computes in: auto (bf16 on a CPU with AVX-512 "
                                           "BF16 or AMX, else fp32), fp32 or bf16."),
    ) -> None:
        """Evaluate weights on a dataset split: mean J, Dice, clDice, electrode AP, MAE, recall@3/5 px."""
        from cathx.cli import checks
        from cathx.cli.progress import progress_bar
        from cathx.training.evaluate import evaluate

        if not data.exists():
            raise CathxError(f"{data}: dataset not found")
        if batch_size < 1:
            raise CathxError(f"--batch-size {batch_size}: must be at least 1")
        device = checks.device(device)
        claim_output_folder(out, create=False)
        with progress_bar(f"evaluating {split}") as progress:
            summary = evaluate(weights, data, out, split=split, batch_size=batch_size, device=device,
                               progress=progress, tta=tta, precision=precision)
        mark_output_folder(out)
        _print_summary(Console(), summary, out)
