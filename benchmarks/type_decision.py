"""Fit the learned catheter-type decision on more of a network's own predictions (issue 13/14).

The decision (postprocess/type_classifier.py, a one-hidden-layer perceptron over each found
catheter's electrode-pattern features, length and the type head's mean probabilities) is fitted on
what the *frozen* network predicts on synthetic frames: the masks and electrodes, and every figure
measured on them, do not change. `cathx train-types` fits it on four fifths of a dataset's val
split; this script fits it on frames generated in memory (``--train FRAMES@SEED``, repeatable),
reports the accuracy on held-out frames (``--held FRAMES@SEED``) for growing shares of the
training catheters (how much more data buys) against the decision already in ``--weights``, and
with ``--write`` stores the fit on all of them in ``--weights``' metadata.

    .venv/bin/python benchmarks/type_decision.py --weights src/cathx/weights/cathx-fluoro.safetensors \
        --train 3200@910000 --train 9600@930000 --held 800@920000 --cache runs/type_decision --write

Results: benchmarks/results/type_decision.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
ROOT = Path(__file__).resolve().parents[1]


def frames_at(text: str) -> tuple[int, int]:
    """'FRAMES@SEED' -> (frames, seed)."""
    try:
        frames, seed = (int(part) for part in text.split("@"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FRAMES@SEED (e.g. 3200@910000), got {text!r}") from None
    if frames <= 0:
        raise argparse.ArgumentTypeError(f"FRAMES must be positive, got {frames}")
    return frames, seed


def examples(predictor, frames: int, seed: int, cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the catheters the predictor finds in ``frames`` synthetic frames from
    ``seed`` (read from / written to ``cache`` when given)."""
    from cathx.data.synthetic import SyntheticReader
    from cathx.training.type_head import catheter_examples

    path = cache / f"examples_{frames}_{seed}.npz" if cache else None
    if path is not None and path.is_file():
        from cathx.postprocess.type_classifier import FEATURE_NAMES

        stored = np.load(path)
        if stored["features"].shape[1:] == (len(FEATURE_NAMES),):
            return stored["features"], stored["labels"]
        print(f"{path}: collected with other features; collecting again", flush=True)
    reader = SyntheticReader(frames, size=256, seed=seed)
    started = time.time()
    features, labels = catheter_examples(predictor, (reader[i] for i in range(frames)))
    print(f"{frames} frames from seed {seed}: {len(labels)} catheters in {time.time() - started:.0f} s", flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, features=features, labels=labels)
    return features, labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True, help="checkpoint with a type head (its decision is replaced)")
    parser.add_argument("--train", type=frames_at, action="append", required=True, help="FRAMES@SEED to fit on")
    parser.add_argument("--held", type=frames_at, required=True, help="FRAMES@SEED to measure on")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--fit-seeds", type=int, default=3, help="fits per share of the data (mean reported)")
    parser.add_argument("--features", default="all",
                        help="features the decision uses: all, v1 (those of decisions fitted before the "
                             "turning and electrode features), v2 (before the electrode scores) or a "
                             "comma-separated list of names")
    parser.add_argument("--cache", type=Path, default=None, help="folder for the collected features")
    parser.add_argument("--write", action="store_true", help="store the fit on all training catheters in --weights")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    import torch

    from cathx.checkpoint import read_checkpoint
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.inference.predictor import Predictor
    from cathx.postprocess.type_classifier import TypeClassifier
    from cathx.system import cpu_description
    from cathx.training.type_head import (
        attach_type_classifier,
        classifier_accuracy,
        fit_type_classifier,
        head_accuracy,
    )

    from cathx.postprocess.type_classifier import FEATURE_NAMES, FEATURE_NAMES_V1, FEATURE_NAMES_V2

    names = ({"all": FEATURE_NAMES, "v1": FEATURE_NAMES_V1, "v2": FEATURE_NAMES_V2}.get(args.features)
             or tuple(args.features.split(",")))
    unknown = [name for name in names if name not in FEATURE_NAMES]
    if unknown:
        parser.error(f"--features: unknown {', '.join(unknown)}; choose from all, v1, v2, {', '.join(FEATURE_NAMES)}")
    torch.set_num_threads(2)
    # fp32 on every machine: the collected examples must not depend on the CPU (auto is bf16 on some)
    predictor = Predictor.from_checkpoint(args.weights, precision="fp32")
    parts = [examples(predictor, frames, seed, args.cache) for frames, seed in args.train]
    features = np.concatenate([f for f, _ in parts])
    labels = np.concatenate([label for _, label in parts])
    held_features, held_labels = examples(predictor, *args.held, args.cache)
    extra = read_checkpoint(args.weights).get("extra") or {}
    before = None
    if extra.get("type_classifier"):
        before = classifier_accuracy(TypeClassifier.from_dict(extra["type_classifier"]), held_features, held_labels)
    rows = []
    count = len(labels)
    for share in (0.25, 0.5, 1.0):
        n = max(2, int(count * share))
        fits = [fit_type_classifier(features[:n], labels[:n], hidden=args.hidden, steps=args.steps, seed=s,
                                    names=names) for s in range(args.fit_seeds)]
        accuracy = [classifier_accuracy(fit, held_features, held_labels) for fit in fits]
        rows.append({"catheters": n, "accuracy_mean": float(np.mean(accuracy)),
                     "accuracy": [round(a, 4) for a in accuracy]})
        print(f"{n} catheters: held-out accuracy {np.mean(accuracy):.4f} ({rows[-1]['accuracy']})", flush=True)
    record = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/type_decision.py " + " ".join(sys.argv[1:]),
        "cpu": cpu_description(),
        "weights": str(args.weights),
        "train": [f"{f}@{s}" for f, s in args.train], "held": f"{args.held[0]}@{args.held[1]}",
        "held_catheters": len(held_labels), "hidden": args.hidden, "steps": args.steps, "features": list(names),
        "held_accuracy_before": before, "held_accuracy_head": head_accuracy(held_features, held_labels),
        "by_training_catheters": rows,
    }
    if args.write:
        final = fits[0]  # the last row's first fit: all training catheters, fitting seed 0
        report = {"frames": sum(f for f, _ in args.train), "catheters": int(count),
                  "held_out_catheters": len(held_labels),
                  "held_out_accuracy": classifier_accuracy(final, held_features, held_labels),
                  "held_out_head_accuracy": record["held_accuracy_head"],
                  "fitted_by": record["command"]}
        attach_type_classifier(args.weights, final, report)
        record["written"] = report
        print(f"written into {args.weights}: held-out accuracy {report['held_out_accuracy']:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "type_decision.json", record)
    lines = [
        "# Learned type decision: accuracy against the number of training catheters",
        "",
        f"{record['created']}, {record['cpu']}. Command: `{record['command']}`.",
        (f"Held-out: {record['held_catheters']} catheters found by the network in {record['held']} (frames@seed); "
         f"perceptron {args.hidden} hidden units, {args.steps} Adam steps, {args.fit_seeds} fitting seeds per row; "
         f"{len(names)} features ({args.features if args.features in ('all', 'v1') else ', '.join(names)})."),
        "",
        "| training catheters | held-out accuracy (mean) | per fitting seed |",
        "| ---: | ---: | --- |",
        *[f"| {r['catheters']} | {r['accuracy_mean']:.4f} | {', '.join(f'{a:.4f}' for a in r['accuracy'])} |"
          for r in rows],
        "",
        f"The decision in the weights before: {before:.4f}; the type head alone: {record['held_accuracy_head']:.4f}."
        if before is not None else f"The type head alone: {record['held_accuracy_head']:.4f}.",
    ]
    if args.write:
        lines.append(f"Written: the fit on all {count} catheters, held-out accuracy "
                     f"{record['written']['held_out_accuracy']:.4f}.")
    atomic_write_text(args.out / "type_decision.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
