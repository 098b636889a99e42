"""Tracking and the coronary sinus (CS) motion curve on synthetic sequences.

Runs the post-processing on each frame's ground-truth mask and electrodes (the upper bound a
perfect network would give), tracks catheters and electrodes, and compares the CS motion curve
(MotionCurve) with the ground-truth displacement of the CS electrodes' centroid. Writes
benchmarks/results/tracking.json and tracking.md.

    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/tracking.py [--sequences 20] [--frames 30]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def evaluate(seed: int, frames: int, size: int) -> dict | None:
    from cathx.data.synthetic import generate_sequence
    from cathx.postprocess.results import analyse_frame
    from cathx.postprocess.tracking import MotionCurve, Tracker

    tracker, curve = Tracker(), MotionCurve()
    truth, ids, count = [], set(), 0
    for i, sample in enumerate(generate_sequence(seed, frames=frames, size=size)):
        if i == 0 and "cs_decapolar" not in sample.catheter_types:
            return None
        peaks = np.concatenate([sample.electrodes, np.ones((len(sample.electrodes), 1)), sample.electrode_sizes], 1)
        results = tracker.update(analyse_frame(sample.mask, peaks))
        curve.add(results, i)
        with_electrodes = set(results.electrode_catheter[results.electrode_catheter >= 0].tolist())
        ids.update(c.id for k, c in enumerate(results.catheters) if k in with_electrodes)
        cs = sample.catheter_types.index("cs_decapolar")
        truth.append(sample.electrodes[sample.electrode_catheter_ids == cs].mean(axis=0))
        count = len(sample.catheter_types)
    truth = np.array(truth) - truth[0]
    found = curve.curve()[:, 3:5]
    ok = ~np.isnan(found[:, 0])
    error = np.linalg.norm(found[ok] - truth[ok], axis=1)
    moving = truth[ok].std(axis=0) > 1e-6
    corr = [float(np.corrcoef(found[ok, k], truth[ok, k])[0, 1]) for k in range(2) if moving[k] and ok.sum() > 2]
    return {"seed": seed, "catheters": count, "catheter_ids_used": len(ids), "frames": frames,
            "frames_with_cs": int(ok.sum()), "median_error_px": float(np.median(error)) if ok.any() else None,
            "max_error_px": float(error.max()) if ok.any() else None,
            "correlation": float(np.mean(corr)) if corr else None,
            "truth_range_px": float(np.ptp(np.linalg.norm(truth, axis=1)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=20, help="sequences that contain a CS catheter")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=60_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    from cathx.fileio import atomic_write_json, atomic_write_text

    rows, seed = [], args.seed
    while len(rows) < args.sequences and seed < args.seed + 10 * args.sequences:
        row = evaluate(seed, args.frames, args.size)
        if row is not None:
            rows.append(row)
        seed += 1

    def median(key: str) -> float:
        values = [r[key] for r in rows if r[key] is not None]
        return float(np.median(values)) if values else float("nan")

    summary = {"sequences": len(rows), "median_correlation": median("correlation"),
               "median_error_px": median("median_error_px"),
               "cs_found_fraction": float(np.mean([r["frames_with_cs"] / r["frames"] for r in rows])) if rows else 0.0,
               "ids_per_catheter": float(np.mean([r["catheter_ids_used"] / max(r["catheters"], 1) for r in rows]))
               if rows else 0.0}
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "frames": args.frames,
              "size": args.size, "summary": summary, "sequences": rows}
    markdown = "\n".join([
        "# Tracking and CS motion curve (synthetic sequences, ground-truth masks and electrodes)", "",
        f"{len(rows)} sequences of {args.frames} frames at {args.size}x{args.size} with a CS catheter.", "",
        "| median correlation with true CS motion | median error (px) | frames with CS found "
        "| ids per catheter (catheters with electrodes) |",
        "|---|---|---|---|",
        f"| {summary['median_correlation']:.3f} | {summary['median_error_px']:.2f} | "
        f"{summary['cs_found_fraction']:.3f} | {summary['ids_per_catheter']:.2f} |", ""])
    atomic_write_json(args.out / "tracking.json", report)
    atomic_write_text(args.out / "tracking.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
