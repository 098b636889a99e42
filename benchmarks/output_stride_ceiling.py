"""What the output stride alone costs, measured on synthetic frames with nothing trained.

Electrodes: encode the ground truth into heatmap targets, decode them back and score the result
as if a network had predicted the targets perfectly. A model cannot beat these figures at that
stride (closely spaced electrodes merge into one peak). For output strides 4, 2, 1 and with /
without sub-cell refinement: COCO AP@[.5:.95], AP50, AP75, localisation MAE (px), recall within
3 and 5 px, and the share of electrodes that get a positive cell of their own.

Masks: a simple stride-s predictor, the ground-truth mask area-averaged to stride s, bilinearly
upsampled and thresholded (best of a few thresholds), scored by mean J. It is a reference, not
an upper bound (a network can place sharper logits), and shows how hard thin (2-3 px)
catheters are for a stride-4 mask head upsampled to the input.

Writes benchmarks/results/output_stride_ceiling.json and .md (seconds; no lock needed):
    .venv/bin/python benchmarks/output_stride_ceiling.py [--frames 48] [--size 256]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch.nn.functional as F  # noqa: E402
from torch.utils.data import default_collate  # noqa: E402

from cathx.data.datasets import SampleDataset  # noqa: E402
from cathx.data.synthetic import SyntheticReader  # noqa: E402
from cathx.fileio import atomic_write_json, atomic_write_text  # noqa: E402
from cathx.heatmap import decode_peaks, encode_targets  # noqa: E402
from cathx.metrics import Evaluator, batch_iou  # noqa: E402

MASK_THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    dataset = SampleDataset(SyntheticReader(args.frames, size=args.size, seed=args.seed))
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    valid = batch["electrode_valid"]
    sizes = batch["electrode_sizes"][valid]
    rows = []
    for stride in (4, 2, 1):
        targets = encode_targets(batch["electrodes"], batch["electrode_sizes"], valid, (args.size, args.size), stride=stride)
        for refine in ("quadratic", "none"):
            detections = decode_peaks(targets["heatmap"], targets["size"], stride=stride, k=200, threshold=0.05,
                                      logits=False, refine=refine)
            evaluator = Evaluator()
            for i, found in enumerate(detections):
                evaluator.update(i, detections=found, target_points=batch["electrodes"][i][valid[i]].numpy(),
                                 target_sizes=batch["electrode_sizes"][i][valid[i]].numpy())
            summary = evaluator.summary()
            rows.append({"output_stride": stride, "refine": refine,
                         "own_cell_share": round(int(targets["positive"].sum()) / max(int(valid.sum()), 1), 4),
                         **{k: round(float(summary[k]), 4) for k in ("ap", "ap50", "ap75", "mae", "recall3", "recall5")}})
            print(rows[-1], flush=True)
    masks = batch["mask"] > 0.5
    mask_rows = []
    for stride in (4, 2, 1):
        fraction = F.avg_pool2d(masks.float(), stride) if stride > 1 else masks.float()
        upsampled = F.interpolate(fraction, size=masks.shape[-2:], mode="bilinear", align_corners=False)
        mean_j, threshold = max((batch_iou(upsampled > t, masks).mean().item(), t) for t in MASK_THRESHOLDS)
        mask_rows.append({"output_stride": stride, "mean_j": round(mean_j, 4), "threshold": threshold})
        print(mask_rows[-1], flush=True)
    result = {"frames": args.frames, "mask_fraction": masks.float().mean().item(), "mask_rows": mask_rows,
              "size": args.size, "seed": args.seed, "electrodes": int(valid.sum()),
              "electrode_size_px": {"min": sizes.min().item(), "mean": sizes.mean().item(), "max": sizes.max().item()},
              "rows": rows}
    lines = [
        "# What the output stride costs (synthetic frames, nothing trained)",
        "",
        "## Electrodes: ideal heatmap targets decoded back",
        "",
        f"{args.frames} synthetic frames of {args.size} px (seed {args.seed}), {result['electrodes']} electrodes, "
        f"box side {sizes.min().item():.1f}-{sizes.max().item():.1f} px (mean {sizes.mean().item():.1f}). "
        "A perfect network at that output stride scores this; nothing is trained.",
        "",
        "| output stride | refinement | own positive cell | AP | AP50 | AP75 | MAE px | recall@3 | recall@5 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['output_stride']} | {row['refine']} | {row['own_cell_share']:.3f} | {row['ap']:.3f} | "
                     f"{row['ap50']:.3f} | {row['ap75']:.3f} | {row['mae']:.3f} | {row['recall3']:.3f} | {row['recall5']:.3f} |")
    lines += [
        "",
        "## Masks: ground truth area-averaged to the stride, upsampled bilinearly, thresholded",
        "",
        f"Mask pixels: {100 * result['mask_fraction']:.2f}% of the image. A reference predictor, not an upper bound.",
        "",
        "| output stride | mean J | threshold |",
        "|---|---|---|",
        *(f"| {row['output_stride']} | {row['mean_j']:.3f} | {row['threshold']:.2f} |" for row in mask_rows),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "output_stride_ceiling.json", result)
    atomic_write_text(args.out / "output_stride_ceiling.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
