"""Package a trained chest classifier as the shipped ``cathx-chest`` and measure its card.

Converts ``--weights`` (``runs/chest/classifier.safetensors`` from ``cathx cls train``, or the
``classifier.pt`` it wrote before issue 16) into
``src/cathx/weights/cathx-chest.safetensors`` (unless ``--measure-only``), then measures, with the
*shipped* file, on a fresh synthetic hold-out set written with ``--seed`` (training used seed 0):

- mean column-wise ROC AUC and per-label AUC (``cathx.training.chest.validate_folder``);
- the line mask of ``cathx cls predict``: tolerant centreline precision / recall / F1 at 256 px
  (a predicted skeleton pixel counts when within ``--tolerance`` px of an annotated line, and the
  other way round), over all device groups together;
- tips: for each annotated line whose group has one line in the study, the distance from the
  annotated tip (last annotation point) to the highest-scoring predicted tip of that group, in %
  of the image width (NGTs leaving the field are left out: their tip is not in the image);
- latency per 512 px radiograph through ``predict_files`` (read, network, mask, tips; no
  Grad-CAM; the model load taken out), median of three runs, with the torch thread count used.

Writes the card ``src/cathx/weights/cathx-chest.json`` and benchmarks/results/cathx-chest.{json,md}.
A model trained in parts (each ``cathx cls train --init`` from the one before) names the earlier
runs with ``--earlier-run RUN:CONFIG`` (in order): their fitting minutes count in the card's
compute and their configs are listed.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/chest_model_card.py \\
        --weights runs/chest/classifier.safetensors --train-run runs/chest --config configs/chest_demo.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
ROOT = Path(__file__).resolve().parents[1]
HOLDOUT_SEED = 90_210  # the training set uses synth_seed 0; patients and studies differ by seed


def measure(weights: Path, data: Path, out: Path, tolerance: float, repeats: int) -> dict:
    import cv2
    import torch
    import torch.nn.functional as F

    from cathx.checkpoint import load_classifier
    from cathx.metrics.segmentation import centreline_counts, centreline_f1
    from cathx.data.chest.ranzcr import GROUP_NAMES, IMAGES_DIR, LABELS, draw_line_masks, read_annotations, read_studies
    from cathx.postprocess.line_tips import line_tips, upscale_mask
    from cathx.inference.chest import predict_files
    from cathx.training.chest import validate_folder

    auc = validate_folder(weights, data, out / "val")
    model, cfg, size = load_classifier(weights)
    studies = read_studies(data)
    annotations = read_annotations(data, {s.uid for s in studies})
    counts = np.zeros(4, np.int64)
    tip_errors: list[float] = []
    tips_missing = 0
    for study in studies:
        image = cv2.imread(str(study.image_path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        height, width = image.shape
        small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        with torch.no_grad():
            logits = model(torch.from_numpy(small)[None, None])["mask"]
        probs = torch.sigmoid(F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False))[0].numpy()
        predicted = upscale_mask(probs.max(axis=0), (height, width)) > 0
        lines = annotations.get(study.uid, [])
        truth = draw_line_masks(lines, (height, width), width=1).max(axis=0) if lines else np.zeros_like(predicted)
        counts += centreline_counts(predicted, truth, tolerance)
        tips = line_tips(probs, (height, width))
        for group in range(len(GROUP_NAMES)):
            group_lines = [points for g, points in lines if g == group]
            if len(group_lines) != 1:
                continue
            true_tip = group_lines[0][-1]
            if true_tip[1] >= height - 2:  # leaves the bottom of the field (NGT incompletely imaged)
                continue
            candidates = [t for t in tips if t.group == group]
            if not candidates:
                tips_missing += 1
                continue
            best = max(candidates, key=lambda t: t.score)
            tip_errors.append(100.0 * float(np.hypot(best.x - true_tip[0], best.y - true_tip[1])) / width)
    precision, recall, f1 = centreline_f1(counts)
    errors = np.array(tip_errors)
    annotated_tips = len(tip_errors) + tips_missing

    # Latency per 512 px radiograph through predict_files (no Grad-CAM), the model load taken out:
    # (time for 1 + repeats images - time for 1 image) / repeats, the median of three such runs.
    sample = sorted((data / IMAGES_DIR).glob("*.jpg"))[0]
    with tempfile.TemporaryDirectory() as tmp:
        one, many = Path(tmp) / "one", Path(tmp) / "many"
        picture = cv2.resize(cv2.imread(str(sample), cv2.IMREAD_GRAYSCALE), (512, 512))
        for folder, count in ((one, 1), (many, 1 + repeats)):
            folder.mkdir()
            for k in range(count):
                cv2.imwrite(str(folder / f"study{k}.png"), picture)
        times = []
        for k in range(3):
            start = time.perf_counter()
            predict_files(weights, one, Path(tmp) / f"out1-{k}", cam=False)
            middle = time.perf_counter()
            predict_files(weights, many, Path(tmp) / f"outn-{k}", cam=False)
            times.append(((time.perf_counter() - middle) - (middle - start)) / repeats)
    return {
        "mean_auc": auc["mean_auc"], "per_label_auc": auc["per_label_auc"], "positives": auc["positives"],
        "studies": auc["studies"], "labels": list(LABELS),
        "line_mask": {"tolerance_px": tolerance, "image_px": int(width), "precision": round(float(precision), 4),
                      "recall": round(float(recall), 4), "f1": round(float(f1), 4)},
        "tips": {"lines": annotated_tips, "found": len(tip_errors),
                 "median_error_pct_width": round(float(np.median(errors)), 2) if len(errors) else None,
                 "within_5pct": round(float((errors <= 5).mean()), 4) if len(errors) else None},
        "latency_ms_512px": round(1000 * statistics.median(times), 1), "latency_threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True,
                        help="classifier.safetensors (or an older .pt) from `cathx cls train`")
    parser.add_argument("--train-run", type=Path, required=True, help="the training run folder (val/metrics.json)")
    parser.add_argument("--config", type=Path, required=True, help="the training config")
    parser.add_argument("--name", default="cathx-chest")
    parser.add_argument("--studies", type=int, default=600)
    parser.add_argument("--seed", type=int, default=HOLDOUT_SEED)
    parser.add_argument("--tolerance", type=float, default=3.0, help="centreline tolerance, px at 256 px")
    parser.add_argument("--repeats", type=int, default=10, help="images per latency run")
    parser.add_argument("--holdout", type=Path, default=ROOT / "runs" / "chest_holdout")
    parser.add_argument("--measure-only", action="store_true")
    parser.add_argument("--train-note", default="", help="how the training machine was shared, for the card")
    parser.add_argument("--earlier-run", action="append", default=[], metavar="RUN:CONFIG",
                        help="a training part before --train-run (its run folder and config), in order")
    args = parser.parse_args(argv)
    earlier = [tuple(Path(p) for p in spec.split(":", 1)) for spec in args.earlier_run]
    if any(len(pair) != 2 for pair in earlier):
        parser.error("--earlier-run: give RUN:CONFIG")

    import torch

    from cathx.data.chest.synthetic import write_chest_dataset
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.system import cpu_description
    from cathx.checkpoint import load_classifier, save_classifier
    from cathx.training.chest_config import load_cls_config

    shipped = ROOT / "src" / "cathx" / "weights" / f"{args.name}.safetensors"
    cfg = load_cls_config(args.config)
    if not args.measure_only:
        model, model_cfg, size = load_classifier(args.weights)
        save_classifier(shipped, model, model_cfg, size, {"name": args.name})  # .safetensors: the shipped container
    # The engine's factors are part of the folder name: a hold-out written with other factors is not reused.
    factors = hashlib.sha1(repr(cfg.data.synth).encode()).hexdigest()[:8]
    data = args.holdout / f"seed{args.seed}-n{args.studies}-{factors}"
    if not (data / "train.csv").is_file():
        write_chest_dataset(data, args.studies, cfg.data.synth_size, args.seed, config=cfg.data.synth, overwrite=True)
    metrics = measure(shipped, data, args.holdout / "report", args.tolerance, args.repeats)
    train = json.loads((args.train_run / "val" / "metrics.json").read_text())
    parts = [{"config": str(config), "run": str(run), **{k: v for k, v in json.loads(
        (run / "val" / "metrics.json").read_text()).items() if k in ("epochs_run", "fit_seconds", "mean_auc")}}
        for run, config in earlier]
    model, model_cfg, size = load_classifier(shipped)
    command = (f"OMP_NUM_THREADS=1 .venv/bin/python benchmarks/chest_model_card.py --weights {args.weights} "
               f"--train-run {args.train_run} --config {args.config} --studies {args.studies} --seed {args.seed}"
               + "".join(f" --earlier-run {spec}" for spec in args.earlier_run)
               + (" --measure-only" if args.measure_only else ""))
    fit_seconds = train.get("fit_seconds", 0) + sum(part.get("fit_seconds", 0) for part in parts)
    card = {
        "name": args.name,
        "task": "chest line/tube position classification + line mask",
        "architecture": f"seg-aided classifier ({model_cfg.kind}): timm {model_cfg.backbone} from random weights, "
                        f"U-Net-style decoder (width {model_cfg.decoder_width}) to stride 4 predicting 4 line masks "
                        "(ETT, NGT, CVC, Swan), classifier pooling the deepest features and mask-weighted decoder "
                        "features; 11 sigmoid outputs in RANZCR CLiP label order",
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "file_mb": round(shipped.stat().st_size / 1e6, 2),  # decimal MB, as model_card.py and `cathx models`
        "input_size": size,
        "training": {
            "config": str(args.config), "data": f"{cfg.data.synth_n} synthetic studies at {cfg.data.synth_size} px "
            f"(`cathx cls synth` engine, seed {cfg.data.synth_seed}, default ChestSynthConfig), PatientID-grouped fold "
            f"{train.get('fold')} of {train.get('folds')} held out for model selection ({train.get('train_studies')} "
            "studies for training)" + (f"; started from the weights of {len(parts)} earlier part(s) trained on their "
                                       "configs' studies (earlier_parts)" if parts else ""),
            "seed": cfg.seed, "epochs_run": train.get("epochs_run"),
            "cpu_minutes": round(fit_seconds / 60.0, 1), "threads": cfg.threads or None,
            **({"earlier_parts": parts} if parts else {}),
            "precision": cfg.precision, "machine": cpu_description(), "validation_mean_auc": round(train["mean_auc"], 4),
            "note": f"fitting wall-clock minutes on {cfg.threads or 'the default number of'} torch thread(s), "
                    f"{cfg.precision}" + (f"; {args.train_note}" if args.train_note else ""),
        },
        "headline": {"mean AUC": round(metrics["mean_auc"], 3), "line mask F1 (3 px)": metrics["line_mask"]["f1"],
                     "tip median error % width": metrics["tips"]["median_error_pct_width"]},
        "metrics": {"data": f"fresh synthetic hold-out: {args.studies} studies, seed {args.seed} (not used in "
                            f"training), {cfg.data.synth_size} px", "command": command, **metrics},
        "latency": {"ms_per_512px_image": metrics["latency_ms_512px"], "threads": metrics["latency_threads"],
                    "what": "predict_files per 512 px PNG in a folder, the model load taken out: read, resize, "
                            "network, line mask at full size, tips; no Grad-CAM", "machine": cpu_description()},
        "not_validated_on": "real clinical radiographs (RANZCR CLiP or any hospital's images): trained and "
                            "measured on cathx's synthetic chest engine only",
        "torch": torch.__version__,
    }
    atomic_write_json(shipped.with_suffix(".json"), card)
    results = ROOT / "benchmarks" / "results"
    atomic_write_json(results / f"{args.name}.json", card)
    rows = [f"| {name} | {'n/a' if v is None else f'{v:.3f}'} | {metrics['positives'][name]} |"
            for name, v in metrics["per_label_auc"].items()]
    atomic_write_text(results / f"{args.name}.md", "\n".join([
        f"# {args.name}", "", f"`{command}`", "",
        f"Hold-out: {card['metrics']['data']}. Mean column-wise AUC **{metrics['mean_auc']:.3f}**; line mask "
        f"centreline F1 {metrics['line_mask']['f1']:.3f} (precision {metrics['line_mask']['precision']:.3f}, recall "
        f"{metrics['line_mask']['recall']:.3f}, {args.tolerance:g} px at {metrics['line_mask']['image_px']} px); tips "
        f"found for {metrics['tips']['found']} of {metrics['tips']['lines']} lines, median error "
        f"{metrics['tips']['median_error_pct_width']} % of the width, {metrics['tips']['within_5pct']} within 5 %; "
        f"{metrics['latency_ms_512px']} ms per 512 px image on {metrics['latency_threads']} thread(s) "
        f"({cpu_description()}).", "", "| label | AUC | positives |", "|---|---:|---:|", *rows, ""]))
    print(json.dumps(card["headline"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
