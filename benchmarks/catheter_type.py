"""Catheter type recognition accuracy on synthetic frames (cathx.data.synthetic.generate_frame).

Two figures: (1) from ground-truth electrodes projected on ground-truth centrelines (the rule
alone); (2) through the whole post-processing (centrelines from the ground-truth mask, electrodes
assigned and split, then typed). With --weights, (3) from a model's predicted mask and peaks
typed as the predictor types them (its learned type decision, else its type head, else the rules),
(4) the same predictions typed by the type head alone and (5) by the rules alone.
Writes benchmarks/results/catheter_type.json and catheter_type.md.

    .venv/bin/python benchmarks/catheter_type.py [--frames 200] [--weights W]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=50_000, help="first seed (kept apart from training seeds)")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="what the network computes in (cathx predict --precision)")
    args = parser.parse_args()

    from cathx.data.synthetic import generate_frame
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.postprocess.type_evaluation import classify_ground_truth, classify_through_pipeline, type_accuracy

    predictor = None
    if args.weights is not None:
        from cathx.inference.predictor import Predictor

        predictor = Predictor.from_checkpoint(args.weights, precision=args.precision)
    pairs: dict[str, list] = {"ground_truth_centrelines": [], "pipeline_on_ground_truth_mask": []}
    if predictor is not None:
        pairs["pipeline_on_predictions"] = []  # typed as the predictor types them
        # the same predictions typed by the type head alone and by the electrode-pattern rules alone
        pairs["pipeline_on_predictions_head"] = []
        pairs["pipeline_on_predictions_rules"] = []
    for i in range(args.frames):
        sample = generate_frame(args.seed + i, size=args.size)
        pairs["ground_truth_centrelines"] += classify_ground_truth(sample)
        pairs["pipeline_on_ground_truth_mask"] += classify_through_pipeline(sample)
        if predictor is not None:
            results = predictor(sample.image)
            peaks = __import__("numpy").concatenate(
                [results.electrodes, results.scores[:, None], results.sizes], axis=1)
            pairs["pipeline_on_predictions"] += classify_through_pipeline(
                sample, results.mask, peaks, results.type_probabilities, predictor.type_classifier)
            pairs["pipeline_on_predictions_head"] += classify_through_pipeline(
                sample, results.mask, peaks, results.type_probabilities)
            pairs["pipeline_on_predictions_rules"] += classify_through_pipeline(sample, results.mask, peaks)
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "frames": args.frames,
              "size": args.size, "first_seed": args.seed, "weights": str(args.weights) if args.weights else None,
              "precision": predictor.precision if args.weights else None,
              "results": {name: type_accuracy(p) for name, p in pairs.items()}}
    lines = ["# Catheter type recognition (synthetic frames)", "",
             f"{args.frames} frames of {args.size}x{args.size}, seeds {args.seed}..{args.seed + args.frames - 1}.", "",
             "| source | catheters | accuracy | " + " | ".join(
                 ["cs_decapolar", "quadripolar", "ablation", "lasso", "pacing"]) + " |",
             "|---|---|---|---|---|---|---|---|"]
    for name, result in report["results"].items():
        per = [f"{result['per_type'].get(t, {}).get('accuracy', float('nan')):.3f}"
               for t in ("cs_decapolar", "quadripolar", "ablation", "lasso", "pacing")]
        lines.append(f"| {name} | {result['count']} | {result['accuracy']:.3f} | " + " | ".join(per) + " |")
    markdown = "\n".join(lines) + "\n"
    atomic_write_json(args.out / "catheter_type.json", report)
    atomic_write_text(args.out / "catheter_type.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
