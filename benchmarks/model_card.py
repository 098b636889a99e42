"""Package a trained CathMTL checkpoint as a shipped model and measure its card.

Converts ``--weights`` (a training ``best.pt``) into ``src/cathx/weights/NAME.safetensors``
(unless ``--measure-only``), then measures, with the *shipped* file:

- segmentation and electrode metrics on a fresh synthetic test set (``--frames`` frames whose
  seeds no training run uses), via ``cathx.training.evaluate``;
- catheter type accuracy from the model's own predictions (benchmarks/catheter_type.py);
- end-to-end latency at batch 1 (cathx.benchmarking.latency: PyTorch eager and ONNX Runtime int8);

and writes the card ``src/cathx/weights/NAME.json`` plus benchmarks/results/NAME.{json,md}.
``--latency-only`` and ``--types-only`` re-measure one part of the shipped file's card (after a
change to the pre- or post-processing) and keep the rest, recipe and training minutes included.

    .venv/bin/python benchmarks/model_card.py --weights runs/cathx_fluoro/best.pt --name cathx-fluoro \
        --config configs/cathx_fluoro.yaml --train-log runs/cathx_fluoro
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
ROOT = Path(__file__).resolve().parents[1]
TEST_SEED = 777_000  # synthetic test frames: far from every training seed (0, 1000, 10_000+)


def training_minutes(run: Path) -> float | None:
    """Wall-clock minutes of a training run from its Lightning CSV logs (first to last write), or
    of a `cathx train-types` run from its history.json."""
    history = run / "history.json"
    if history.is_file():
        epochs = json.loads(history.read_text()).get("epochs") or []
        return round(float(epochs[-1]["minutes"]), 1) if epochs else None
    logs = sorted(run.glob("logs/*/metrics.csv"))
    if not logs:
        return None
    starts = [p.parent.stat().st_ctime for p in logs]
    ends = [p.stat().st_mtime for p in logs]
    return round((max(ends) - min(starts)) / 60.0, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--name", default="cathx-fluoro")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "cathx_fluoro.yaml")
    parser.add_argument("--train-log", type=Path, nargs="*", default=[],
                        help="the run folder(s) the weights came from (their wall-clock minutes are summed)")
    parser.add_argument("--earlier-minutes", type=float, default=0.0,
                        help="training minutes of earlier parts of the recipe whose logs are not on this machine "
                             "(from the previous card), added to those of --train-log")
    parser.add_argument("--recipe", default="", help="how the weights were trained, in words, for the card")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--measure-only", action="store_true", help="measure the already shipped file")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--latency-only", action="store_true",
                        help="re-time the shipped file and update only its card's latency (the metrics, recipe and "
                             "training minutes stay as measured; for a change to pre- or post-processing)")
    parser.add_argument("--types-only", action="store_true",
                        help="re-measure the shipped file's catheter-type figures only (the network's outputs, and so "
                             "its mask and electrode metrics, stay as measured; for a change to how the "
                             "post-processing groups and types catheters)")
    args = parser.parse_args()

    from cathx.checkpoint import read_checkpoint, save_safetensors
    from cathx.zoo import WEIGHTS_DIR
    from cathx.data.synthetic import SyntheticReader
    from cathx.benchmarking.latency import run_bench
    from cathx.models import ModelConfig
    from cathx.config import from_dict
    from cathx.system import cpu_description
    from cathx.training.evaluate import evaluate

    shipped = WEIGHTS_DIR / f"{args.name}.safetensors"
    if args.latency_only:
        card = json.loads(shipped.with_suffix(".json").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            report = run_bench(weights=shipped, backends=["torch", "onnx"], int8=True, frames=30,
                               out=Path(tmp) / "bench", threads=2, precisions=["fp32", "bf16"])
        card["latency_ms_p50_end_to_end"] = {v["variant"].split("/", 1)[-1]: round(v["latency_ms"]["total"]["p50"], 1)
                                             for v in report["variants"]}
        card["latency_measured"] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "machine": cpu_description(),
                                    "command": "python benchmarks/model_card.py " + " ".join(sys.argv[1:])}
        write_card(card, args.name)
        return 0
    if args.types_only:
        card = json.loads(shipped.with_suffix(".json").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            types = measure_types(shipped, args.frames, Path(tmp))
        head = "catheter_type_from_predictions_head" in card["metrics"]
        card["metrics"].update(type_metrics(types, head))
        card["headline"]["type acc"] = card["metrics"]["catheter_type_from_predictions"]
        card["types_measured"] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  "machine": cpu_description(),
                                  "command": "python benchmarks/model_card.py " + " ".join(sys.argv[1:])}
        write_card(card, args.name)
        return 0
    if not args.measure_only:
        from cathx.checkpoint import load_model

        model, cfg = load_model(args.weights)
        extra = dict(read_checkpoint(args.weights).get("extra") or {})
        keep = {k: extra[k] for k in ("input_size", "epoch", "global_step", "stage", "score", "type_head",
                                      "type_classifier", "type_classifier_report") if k in extra}
        keep.setdefault("input_size", 256)
        save_safetensors(shipped, model, cfg, extra={**keep, "name": args.name})
    checkpoint = read_checkpoint(shipped)
    cfg = from_dict(ModelConfig, checkpoint["model_config"])
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        reader = SyntheticReader(args.frames, size=256, seed=TEST_SEED)
        # The card's metrics in float32 on every machine; bfloat16 (auto on BF16 CPUs) is within
        # 0.0015 of them (docs/inference.md) and is timed below beside float32.
        summary = evaluate(shipped, None, Path(tmp) / "eval", reader=reader, plots=False, precision="fp32")
        types = measure_types(shipped, args.frames, Path(tmp))
        latency = {}
        if not args.skip_latency:
            report = run_bench(weights=shipped, backends=["torch", "onnx"], int8=True, frames=30,
                               out=Path(tmp) / "bench", threads=2, precisions=["fp32", "bf16"])
            latency = {v["variant"].split("/", 1)[-1]: round(v["latency_ms"]["total"]["p50"], 1)
                       for v in report["variants"]}
    metrics = {key: (round(float(summary[key]), 4) if summary[key] == summary[key] else None) for key in
               ("mean_j", "dice", "cldice", "ap", "ap50", "ap75", "mae", "recall3", "recall5") if key in summary}
    metrics.update(type_metrics(types, bool(cfg.type_head)))
    params = sum(t.numel() for t in checkpoint["state_dict"].values() if t.dtype.is_floating_point)
    card = {
        "name": args.name,
        "task": "fluoroscopy: catheter segmentation + electrode detection (CathMTL)",
        "architecture": f"CathMTL, {cfg.encoder} encoder, latent {cfg.latent_channels}, decoder "
                        f"{list(cfg.decoder_channels)}, {cfg.attention} attention, heads at output stride "
                        f"{cfg.output_stride}"
                        + ("; catheter-type head at stride 8 (5 types)" if cfg.type_head else "")
                        + f"; {params / 1e6:.2f} M parameters",
        "input_size": int(checkpoint["extra"].get("input_size", 256)),
        "file_mb": round(shipped.stat().st_size / 1e6, 2),
        "training": {
            "config": str(args.config.relative_to(ROOT)) if args.config.is_absolute() else str(args.config),
            "data": "cathx synthetic fluoroscopy engine (domain-randomised defaults, docs/synthetic.md)",
            "wall_minutes_on_2_cpus": round(args.earlier_minutes
                                            + sum(training_minutes(run) or 0.0 for run in args.train_log), 1)
            if args.train_log or args.earlier_minutes else None,
            "recipe": args.recipe,
            "stopped_at": {k: checkpoint["extra"].get(k) for k in ("stage", "epoch", "global_step") if k in checkpoint["extra"]},
        },
        "headline": {"mean J": metrics["mean_j"], "AP50": metrics["ap50"], "AP": metrics["ap"],
                     "type acc": metrics["catheter_type_from_predictions"]},
        "metrics": metrics,
        "metrics_on": f"{args.frames} synthetic frames, 256 px, seeds from {TEST_SEED} (never used in training); "
                      f"catheter type on {args.frames} frames from seed {TEST_SEED + 50_000}",
        "latency_ms_p50_end_to_end": latency,
        "machine": cpu_description(),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "measure_seconds": round(time.time() - started, 1),
        "command": "python benchmarks/model_card.py " + " ".join(sys.argv[1:]),
        "not_validated_on": "real clinical fluoroscopy or any image cathx did not generate; the synthetic "
                            "engine is a proxy (docs/synthetic.md, 'What transfers')",
    }
    write_card(card, args.name)
    return 0


def measure_types(shipped: Path, frames: int, tmp: Path) -> dict:
    """benchmarks/catheter_type.py's results on ``frames`` frames from TEST_SEED + 50,000, in fp32."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "catheter_type.py"), "--frames", str(frames),
                    "--weights", str(shipped), "--out", str(tmp / "type"), "--seed", str(TEST_SEED + 50_000),
                    "--precision", "fp32"],
                   check=True, capture_output=True)
    return json.loads((tmp / "type" / "catheter_type.json").read_text())["results"]


def type_metrics(types: dict, head: bool) -> dict:
    """The card's catheter-type figures from catheter_type.py's results (``head``: the network has a
    type head, so the same predictions are also typed by the head alone and by the rules alone)."""
    metrics = {"catheter_type_from_predictions": round(types["pipeline_on_predictions"]["accuracy"], 4),
               "catheter_type_on_ground_truth_mask": round(types["pipeline_on_ground_truth_mask"]["accuracy"], 4)}
    if head:
        metrics["catheter_type_from_predictions_head"] = round(types["pipeline_on_predictions_head"]["accuracy"], 4)
        metrics["catheter_type_from_predictions_rules"] = round(types["pipeline_on_predictions_rules"]["accuracy"], 4)
    return metrics


def write_card(card: dict, name: str) -> None:
    """The card beside the shipped weights and in benchmarks/results (JSON and markdown)."""
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.zoo import WEIGHTS_DIR

    atomic_write_json((WEIGHTS_DIR / f"{name}.safetensors").with_suffix(".json"), card)
    atomic_write_json(ROOT / "benchmarks" / "results" / f"{name}.json", card)
    lines = [f"# {name}", "", f"Measured {card['measured']} on {card['machine']}: `{card['command']}`", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in card["metrics"].items()]
    lines += [f"| latency p50 end to end, {k} | {v} ms |" for k, v in card["latency_ms_p50_end_to_end"].items()]
    lines += ["", f"Test data: {card['metrics_on']}.", f"Not validated on: {card['not_validated_on']}."]
    retimed = card.get("latency_measured")
    if retimed:
        lines += [f"Latency re-timed {retimed['at']} on {retimed['machine']}: `{retimed['command']}`."]
    retyped = card.get("types_measured")
    if retyped:
        lines += [f"Catheter-type figures re-measured {retyped['at']} on {retyped['machine']}: `{retyped['command']}`."]
    atomic_write_text(ROOT / "benchmarks" / "results" / f"{name}.md", "\n".join(lines) + "\n")
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    sys.exit(main())
