"""How the shipped network's mask depends on the imaging chain: the card's 200 scenes (seeds from
777,000) rendered with the default ranges, and again with the dose, the blurs or both pinned at the
easy end of their own training ranges (nothing outside what the network was trained on).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/results/fluoro_mask_limits/imaging.py [--weights cathx-fluoro]

Writes imaging.json beside this script.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from score import CARD_SEED, network_scores  # this folder's score.py

from cathx.data.synthetic import SynthConfig, SyntheticReader
from cathx.fileio import atomic_write_json
from cathx.system import cpu_description
from cathx.zoo import resolve_weights

HERE = Path(__file__).resolve().parent


def conditions() -> dict[str, SynthConfig]:
    base = SynthConfig()
    sharp = {"focal_blur_px": (base.focal_blur_px[0],) * 2, "detector_blur_px": (base.detector_blur_px[0],) * 2}
    high_dose = {"dose": (base.dose[1],) * 2, "electronic_noise": (base.electronic_noise[0],) * 2}
    return {"default ranges": base,
            "highest dose, lowest read noise": replace(base, **high_dose),
            "least blur": replace(base, **sharp),
            "highest dose and least blur": replace(base, **high_dose, **sharp)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="cathx-fluoro")
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = []
    for name, config in conditions().items():
        reader = SyntheticReader(args.frames, size=256, seed=CARD_SEED, config=config)
        rows.append({"condition": name, **network_scores(resolve_weights(args.weights), reader,
                                                         ("mean_j", "dice", "ap", "ap50", "recall5"))})
        print(json.dumps(rows[-1]), flush=True)
    atomic_write_json(HERE / "imaging.json", {
        "weights": args.weights, "frames": args.frames, "seed": CARD_SEED, "precision": "fp32", "rows": rows,
        "cpu": cpu_description(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})


if __name__ == "__main__":
    main()
