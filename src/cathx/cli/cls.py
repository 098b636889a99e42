"""`cathx cls`: chest radiograph line and tube position classification (RANZCR CLiP labels)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer
from rich.console import Console

from cathx.cli import checks
from cathx.errors import CathxError, ConfigError
from cathx.fileio import OUTPUT_MARKER, claim_output_folder, mark_output_folder

cls_app = typer.Typer(name="cls", no_args_is_help=True, add_completion=False,
                      help="Chest X-ray line/tube position classification: synth, train, val, predict.")


def _say(text: str) -> None:
    Console().print(text, markup=False, highlight=False)


@cls_app.command()
def synth(
    out: Path = typer.Argument(..., help="Output folder (RANZCR CLiP layout: train.csv, train/, train_annotations.csv)."),
    n: int = typer.Option(1000, "--n", help="Number of studies."),
    size: int = typer.Option(256, "--size", help="Image width and height in pixels (>= 32)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives identical files."),
    workers: int | None = typer.Option(None, "--workers", help="Worker processes (default: one per CPU, at most 2)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write over an existing synthetic set at OUT."),
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help="A `cls train` config whose data.synth sets the engine's factors."),
) -> None:
    """Generate synthetic chest radiographs with ETT / NGT / CVC / Swan-Ganz lines and their labels."""
    from cathx.data.chest.synthetic import write_chest_dataset

    if workers is not None and workers < 1:
        raise CathxError(f"--workers must be >= 1, got {workers}")
    if n < 1:
        raise CathxError(f"--n must be >= 1, got {n}")
    if size < 32:
        raise CathxError(f"--size must be >= 32, got {size}")
    from cathx.data.chest.synthetic import check_chest_output

    check_chest_output(out, overwrite)  # before the engine's config is read or anything is rendered
    engine = None
    if config is not None:
        from cathx.config import resolve_config
        from cathx.training.chest_config import load_cls_config

        engine = load_cls_config(resolve_config(config)).data.synth
    from cathx.cli.progress import progress_bar

    start = time.perf_counter()
    with progress_bar(f"generating {size}x{size} px studies") as progress:
        write_chest_dataset(out, n, size=size, seed=seed, config=engine, overwrite=overwrite, workers=workers,
                            progress=progress)
    _say(f"wrote {n} studies of {size}x{size} px to {out} in {time.perf_counter() - start:.1f} s")


@cls_app.command()
def train(
    config: Path | None = typer.Option(None, "--config", "-c", help="Experiment YAML or shipped config name (chest_demo)."),
    data: Path | None = typer.Option(None, "--data", "-d", help="RANZCR CLiP folder; omitted: the config's synthetic set."),
    out: Path = typer.Option(Path("runs/chest"), "--out", "-o",
                             help="Run folder (classifier.safetensors + .json, checkpoints, logs, val/)."),
    fold: int | None = typer.Option(None, "--fold", help="Validation fold (grouped by PatientID)."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Stop fitting after M minutes."),
    init: str | None = typer.Option(None, "--init", help="Start from these weights (cathx-chest or a classifier "
                                    "of `cathx cls train`) instead of random ones: fine-tuning."),
) -> None:
    """Train a line/tube classifier with Lightning; validates on a PatientID-grouped fold."""
    from dataclasses import replace

    from cathx.config import resolve_config
    from cathx.models.classifier import build_classifier, check_backbone
    from cathx.training.chest import train_classifier
    from cathx.training.chest_config import check_fold, load_cls_config

    if data is not None and not data.exists():
        raise CathxError(f"{data}: dataset not found")
    if out.exists() and not out.is_dir():
        raise CathxError(f"--out {out}: is a file, not a folder; choose a folder")
    config = resolve_config(config) if config else None
    cfg = load_cls_config(config, path=str(data) if data is not None else None, fold=fold)
    if max_minutes is not None:
        if max_minutes <= 0:
            raise CathxError(f"--max-minutes must be positive, got {max_minutes}")
        cfg = replace(cfg, max_minutes=max_minutes)
    try:
        check_backbone(cfg.model.backbone)
    except ValueError as exc:
        raise ConfigError(f"{config or 'config'}: model.backbone: {exc}") from None
    check_fold(cfg)
    if init is not None:
        from cathx.training.chest import init_classifier_weights

        # a bad name, file or architecture fails now, not after the studies are written
        init_classifier_weights(build_classifier(cfg.model), cfg.model, cfg.data.image_size, init)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = train_classifier(cfg, out, init=init)
    _print_report(summary, out / "val")


@cls_app.command()
def val(
    weights: Path = typer.Option(..., "--weights", "-w",
                                 help="Shipped model name (cathx-chest), classifier.safetensors from "
                                      "`cathx cls train`, or an older classifier.pt / a Lightning .ckpt."),
    data: Path = typer.Option(..., "--data", "-d", help="RANZCR CLiP folder to evaluate (every study in train.csv)."),
    out: Path = typer.Option(Path("runs/chest-val"), "--out", "-o", help="Report folder: metrics.json, .csv, .md."),
) -> None:
    """Mean column-wise ROC AUC and per-label AUC of a classifier on a labelled folder."""
    from cathx.checkpoint import load_classifier
    from cathx.training.chest import validate_folder

    claim_output_folder(out, create=False)
    load_classifier(weights)  # fail on bad weights before reading the data
    summary = validate_folder(weights, data, out)
    mark_output_folder(out)
    _print_report(summary, out)


@cls_app.command()
def predict(
    source: Path = typer.Argument(..., help="An image or DICOM file, or a folder of .jpg/.png/.dcm radiographs."),
    weights: str = typer.Option("cathx-chest", "--weights", "-w",
                                help="Shipped model name (cathx-chest), classifier.safetensors from "
                                     "`cathx cls train`, or an older classifier.pt / a Lightning .ckpt."),
    out: Path = typer.Option(Path("runs/chest-predict"), "--out", "-o", help="Output folder."),
    cam: bool = typer.Option(True, "--cam/--no-cam", help="Write Grad-CAM overlays of the top label."),
    masks: bool = typer.Option(True, "--masks/--no-masks",
                               help="Write line masks (masks/<stem>.png) and tips.csv (seg-aided models)."),
    mask_threshold: float = typer.Option(0.5, "--mask-threshold",
                                         help="Line probability that makes a mask pixel, in (0, 1); lower finds "
                                              "more of a faint line and more that is not one."),
) -> None:
    """Per-image label probabilities (CSV, JSON), Grad-CAM overlays, line masks and line tips."""
    from cathx.checkpoint import load_classifier
    from cathx.cli.progress import progress_bar
    from cathx.inference.chest import predict_files
    from cathx.inference.chest_model import list_images

    if not source.exists():
        raise CathxError(f"{source}: no such file or folder")
    checks.between(mask_threshold, 0.0, 1.0, "--mask-threshold", open_ends=True)

    claim_output_folder(out, create=False)
    loaded = load_classifier(weights)  # checked before any folder is made; predict_files reuses it
    _model, model_cfg, _size = loaded
    list_images(source)  # no images: say so before a folder is made
    created = not out.exists()
    mark_output_folder(out)  # before the first file, so a run stopped midway can be rerun into it
    try:
        with progress_bar("classifying radiographs") as progress:
            records = predict_files(weights, source, out, cam=cam, masks=masks, progress=progress, loaded=loaded,
                                    mask_threshold=mask_threshold)
    except BaseException:
        if created and [p.name for p in out.iterdir()] == [OUTPUT_MARKER]:  # refused before any file
            (out / OUTPUT_MARKER).unlink()
            out.rmdir()
        raise
    parts = [f"probabilities in {out / 'predictions.csv'}"]
    if cam:
        parts.append(f"Grad-CAM overlays in {out / 'gradcam'}")
    if masks and model_cfg.kind == "seg_aided":
        parts.append(f"line masks in {out / 'masks'}, tips in {out / 'tips.csv'}")
    elif masks:
        parts.append(f"no line masks: a {model_cfg.kind!r} classifier has no segmentation head")
    _say(f"{len(records)} image(s): " + "; ".join(parts))


def _print_report(summary: dict, out: Path) -> None:
    from cathx.metrics.classification import auc_markdown

    _say(auc_markdown(summary["mean_auc"], summary["per_label_auc"], summary["positives"], summary["studies"]))
    _say(f"report in {out}")


def register(app: typer.Typer) -> None:
    """Add the `cls` command group to ``app``."""
    app.add_typer(cls_app, name="cls")
