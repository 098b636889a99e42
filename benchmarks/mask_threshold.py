"""Which mask threshold gives a network's best mean J: chosen on validation frames, checked on the card's.

The pipeline thresholds the mask probability at 0.5 (``--mask-threshold``). A network trained with
BCE + soft IoU need not be calibrated so that 0.5 maximises per-image IoU on thin (2-3 px)
catheters, so this sweeps the threshold on ``--val-frames`` synthetic frames (seeds from
``--val-seed``, not the card's), picks the best, and reports every threshold on the model card's
frames (seeds from 777,000) as well, so that the pick is judged on frames it was not chosen on.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/mask_threshold.py --weights cathx-fluoro

Writes benchmarks/results/mask_threshold.json and .md (measured; nothing is hard-coded).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from cathx.checkpoint import load_model  # noqa: E402
from cathx.data.datasets import SampleDataset  # noqa: E402
from cathx.data.synthetic import SyntheticReader  # noqa: E402
from cathx.data.transforms import build_transforms  # noqa: E402
from cathx.fileio import atomic_write_json, atomic_write_text  # noqa: E402
from cathx.metrics import batch_iou  # noqa: E402
from cathx.system import cpu_description  # noqa: E402
from cathx.zoo import resolve_weights  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CARD_SEED = 777_000  # benchmarks/model_card.py TEST_SEED
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.20, 0.701, 0.05))


@torch.no_grad()
def mask_probabilities(model: torch.nn.Module, frames: int, seed: int, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask probabilities (N, 1, S, S) float32 and true masks (N, 1, S, S) bool of ``frames`` synthetic frames."""
    dataset = SampleDataset(SyntheticReader(frames, size=size, seed=seed), transform=build_transforms(size, train=False))
    probs, targets = [], []
    for batch in DataLoader(dataset, batch_size=8, shuffle=False, num_workers=0):
        probs.append(torch.sigmoid(model(batch["image"])["mask"].float()))
        targets.append(batch["mask"] > 0.5)
    return torch.cat(probs), torch.cat(targets)


def sweep(probs: torch.Tensor, targets: torch.Tensor) -> dict[float, float]:
    """Mean per-image IoU at each threshold of THRESHOLDS (pixels with probability >= t are catheter)."""
    return {t: round(batch_iou(probs >= t, targets).mean().item(), 4) for t in THRESHOLDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="cathx-fluoro")
    parser.add_argument("--val-frames", type=int, default=200)
    parser.add_argument("--val-seed", type=int, default=990_000)
    parser.add_argument("--card-frames", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "mask_threshold")
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    weights = resolve_weights(args.weights)
    model, _ = load_model(weights)
    model.eval()
    started = time.perf_counter()
    val = sweep(*mask_probabilities(model, args.val_frames, args.val_seed))
    card = sweep(*mask_probabilities(model, args.card_frames, CARD_SEED))
    best = max(val, key=lambda t: (val[t], -abs(t - 0.5)))
    result = {"weights": str(args.weights), "val_frames": args.val_frames, "val_seed": args.val_seed,
              "card_frames": args.card_frames, "card_seed": CARD_SEED, "precision": "fp32",
              "mean_j_val": {str(t): v for t, v in val.items()}, "mean_j_card": {str(t): v for t, v in card.items()},
              "best_on_val": best, "card_at_best": card[best], "card_at_0.5": card[0.5],
              "seconds": round(time.perf_counter() - started, 1), "cpu": cpu_description(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    atomic_write_json(args.out.with_suffix(".json"), result)
    lines = [f"# Mask threshold against mean J: `{args.weights}`", "",
             f"fp32, 256 px; validation {args.val_frames} frames (seeds from {args.val_seed}), the model card's "
             f"{args.card_frames} frames (seeds from {CARD_SEED}). {result['cpu']}, {result['date']}.", "",
             "| threshold | mean J, validation | mean J, card's frames |", "|---:|---:|---:|"]
    lines += [f"| {t:.2f}{' (best on validation)' if t == best else ''} | {val[t]:.4f} | {card[t]:.4f} |" for t in THRESHOLDS]
    lines += ["", f"Chosen on validation: {best:.2f}; on the card's frames {card[best]:.4f} against {card[0.5]:.4f} at 0.5.",
              "Command: `OMP_NUM_THREADS=2 .venv/bin/python benchmarks/mask_threshold.py --weights "
              f"{args.weights}`."]
    atomic_write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
