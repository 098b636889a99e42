"""Does a cheap temporal filter on the network's outputs help on sequences? (issue 14, item 3)

The network sees one frame at a time. The filter blends each frame's output probabilities (mask
and electrode heatmap) with the filtered probabilities of the previous frame:

    p'_t = w * p_t + (1 - w) * p'_{t-1}        (w = 1: no filter)

It costs one multiply-add per output pixel (far below 1 ms at 256 px). The cost in accuracy is lag:
catheters move with breathing and the heartbeat, so a strong filter smears moving electrodes.

For each weight w the shipped (or given) model's raw outputs on synthetic sequences are filtered,
decoded like `cathx predict` decodes them (mask threshold, 3x3 peak decoding) and scored per frame
against ground truth: mean J, electrode AP50, recall within 5 px, and flicker (mean absolute change
in the number of confident electrodes from one frame to the next; lower is steadier).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/temporal_filter.py --sequences 12 --frames 30

Results: benchmarks/results/temporal_filter.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEQUENCE_SEED = 660_000  # never a training seed


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.log(p / (1.0 - p))


def filter_probabilities(probabilities: np.ndarray, weight: float) -> np.ndarray:
    """(T, ...) per-frame probabilities -> recursively filtered (T, ...); weight of the new frame."""
    out = np.empty_like(probabilities)
    for t, current in enumerate(probabilities):
        out[t] = current if t == 0 else weight * current + (1.0 - weight) * out[t - 1]
    return out


def flicker(counts: list[int]) -> float:
    """Mean |N_t - N_{t-1}| over consecutive frames."""
    return float(np.mean(np.abs(np.diff(counts)))) if len(counts) > 1 else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="cathx-fluoro")
    parser.add_argument("--sequences", type=int, default=12)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--filter-weights", default="1.0,0.8,0.65,0.5")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    weights = [float(w) for w in args.filter_weights.split(",")]
    if args.sequences < 1 or args.frames < 2 or not all(0.0 < w <= 1.0 for w in weights):
        print("error: need --sequences >= 1, --frames >= 2 and filter weights in (0, 1]", file=sys.stderr)
        return 2

    import torch

    from cathx.data.synthetic.sequence import generate_sequence
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.inference.predictor import Predictor, decode_electrodes
    from cathx.metrics import Evaluator
    from cathx.system import cpu_description

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    predictor = Predictor.from_checkpoint(args.weights)
    evaluators = {w: Evaluator() for w in weights}
    flickers: dict[float, list[float]] = {w: [] for w in weights}
    network_s = 0.0
    filter_ms: dict[float, list[float]] = {w: [] for w in weights}
    for s in range(args.sequences):
        samples = list(generate_sequence(SEQUENCE_SEED + s, args.frames, size=predictor.input_size, fps=args.fps))
        batch, _ = predictor.preprocess([sample.image for sample in samples])
        started = time.perf_counter()
        outputs = predictor.network(batch)
        network_s += time.perf_counter() - started
        mask_p = 1.0 / (1.0 + np.exp(-outputs["mask"].astype(np.float64)))
        heat_p = 1.0 / (1.0 + np.exp(-outputs["heatmap"].astype(np.float64)))
        for w in weights:
            t0 = time.perf_counter()
            mask_f, heat_f = filter_probabilities(mask_p, w), filter_probabilities(heat_p, w)
            filter_ms[w].append((time.perf_counter() - t0) * 1e3 / args.frames)
            detections = decode_electrodes(logit(heat_f).astype(np.float32), outputs.get("size"), predictor.stride,
                                           predictor.max_electrodes, 0.05)
            counts = []
            for t, sample in enumerate(samples):
                pred_mask = mask_f[t, 0] >= predictor.mask_threshold
                evaluators[w].update(f"{s}:{t}", pred_mask, sample.mask > 0, detections[t],
                                     sample.electrodes, sample.electrode_sizes)
                counts.append(int((detections[t][:, 2] >= predictor.peak_threshold).sum()))
            flickers[w].append(flicker(counts))
    rows = []
    for w in weights:
        summary = evaluators[w].summary()
        rows.append({"weight": w, "mean_j": summary["mean_j"], "ap50": summary["ap50"], "ap": summary["ap"],
                     "recall5": summary["recall5"], "flicker": float(np.mean(flickers[w])),
                     "filter_ms_per_frame": float(np.median(filter_ms[w]))})
        print(f"w={w}: mean J {rows[-1]['mean_j']:.3f}, AP50 {rows[-1]['ap50']:.3f}, recall5 "
              f"{rows[-1]['recall5']:.3f}, flicker {rows[-1]['flicker']:.2f}", flush=True)
    report = {"cpu": cpu_description(), "weights": str(args.weights), "sequences": args.sequences,
              "frames": args.frames, "fps": args.fps, "network_ms_per_frame":
              network_s * 1e3 / (args.sequences * args.frames), "rows": rows,
              "command": "python benchmarks/temporal_filter.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    atomic_write_json(args.out / "temporal_filter.json", report)
    lines = ["# Temporal filter on the network outputs (issue 14, item 3)", "",
             f"CPU: {report['cpu']}. Model: `{report['weights']}`. {args.sequences} synthetic sequences x "
             f"{args.frames} frames at {args.fps:g} fps (seeds from {SEQUENCE_SEED}). Command: `{report['command']}`",
             "", "w = weight of the new frame (1 = no filter). Flicker = mean |change| in the number of "
             "confident electrodes between consecutive frames.", "",
             "| w | mean J | AP50 | AP | recall 5 px | flicker | filter ms/frame |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['weight']:g} | {r['mean_j']:.3f} | {r['ap50']:.3f} | {r['ap']:.3f} | {r['recall5']:.3f} | "
                     f"{r['flicker']:.2f} | {r['filter_ms_per_frame']:.2f} |")
    atomic_write_text(args.out / "temporal_filter.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
