"""Accuracy of the realtime deployment against the paper model, by task metrics.

Evaluates mean J and electrode AP (cathx.metrics.Evaluator) end to end through the Predictor on
synthetic test frames (or a dataset's test split) for: the paper checkpoint (torch), the realtime
checkpoint (torch) and the realtime checkpoint exported to ONNX and quantized to static int8 QDQ.
Target: realtime int8 within 3 points of the paper model on both metrics. Writes
benchmarks/results/realtime_accuracy.json and .md.

    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/realtime_accuracy.py \\
        --paper runs/paper/best.pt --realtime runs/realtime/best.pt [--data DATASET] [--frames 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def evaluate(predictor, samples) -> dict:
    import numpy as np

    from cathx.metrics.evaluation import Evaluator

    evaluator = Evaluator()
    for i, sample in enumerate(samples):
        results = predictor(sample.image)
        detections = np.concatenate([results.electrodes, results.scores[:, None], results.sizes], axis=1)
        evaluator.update(i, results.mask.astype(bool) if results.mask is not None else None,
                         sample.mask.astype(bool) if sample.mask is not None else None,
                         detections, sample.electrodes, sample.electrode_sizes)
    summary = evaluator.summary()
    return {"mean_j": summary.get("mean_j"), "ap": summary.get("ap"), "ap50": summary.get("ap50"),
            "images": summary.get("images")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", type=Path, required=True)
    parser.add_argument("--realtime", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=None, help="dataset with a test split (default: synthetic)")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=90_000)
    parser.add_argument("--labels", nargs=2, default=["paper", "realtime"], metavar=("PAPER", "REALTIME"),
                        help="names for the two checkpoints in the report")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    from cathx.export.onnx import export_checkpoint
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.inference.predictor import Predictor

    if args.data is not None:
        from cathx.data.formats import open_dataset

        reader = open_dataset(args.data, split="test")
        samples = [reader[i] for i in range(min(args.frames, len(reader)))]
    else:
        from cathx.data.synthetic import generate_frame

        samples = [generate_frame(args.seed + i, size=args.size) for i in range(args.frames)]
    low = {"peak_threshold": 0.05}  # AP needs the low-score detections too
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "realtime.onnx"
        export_checkpoint(args.realtime, onnx_path, input_size=args.size, int8=True, verify_frames=1)
        first, second = args.labels
        variants = {
            f"{first}/torch": Predictor.from_checkpoint(args.paper, input_size=args.size, **low),
            f"{second}/onnx-int8": Predictor.from_checkpoint(onnx_path.with_suffix(".int8.onnx"), backend="onnx",
                                                             **low),
        }
        if args.realtime.resolve() != args.paper.resolve():
            variants[f"{second}/torch"] = Predictor.from_checkpoint(args.realtime, input_size=args.size, **low)
        for name, predictor in variants.items():
            rows[name] = evaluate(predictor, samples)
    base = rows[f"{args.labels[0]}/torch"]
    for row in rows.values():
        row["delta_mean_j_points"] = 100 * (row["mean_j"] - base["mean_j"])
        row["delta_ap_points"] = 100 * (row["ap"] - base["ap"])
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "paper": str(args.paper),
              "realtime": str(args.realtime), "data": str(args.data) if args.data else "synthetic",
              "frames": len(samples), "variants": rows}
    lines = ["# Realtime deployment accuracy vs the paper model", "",
             f"{len(samples)} frames ({report['data']}); deltas in points against {args.labels[0]}/torch.", "",
             "| variant | mean J | AP | delta J | delta AP |", "|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['mean_j']:.4f} | {row['ap']:.4f} | {row['delta_mean_j_points']:+.2f} "
                     f"| {row['delta_ap_points']:+.2f} |")
    markdown = "\n".join(lines) + "\n"
    atomic_write_json(args.out / "realtime_accuracy.json", report)
    atomic_write_text(args.out / "realtime_accuracy.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
