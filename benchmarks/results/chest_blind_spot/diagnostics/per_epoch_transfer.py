"""One-off monitor (2026-12-05): after each epoch of a running `cathx cls train`, the line mask's
centreline F1 (what `cathx cls predict` writes, benchmarks/chest_transfer.score) on 60 variety
studies of the card's hold-out seed and 60 studies of the independent generator, at 512 px, from
OUT/checkpoints/last.ckpt. Does a network trained further along the engine's look transfer worse?
Appends a line per epoch to OUTFILE:

    nice .venv/bin/python benchmarks/results/chest_blind_spot/diagnostics/per_epoch_transfer.py runs/cathx_chest_NAME OUTFILE
"""

import os
import shutil
import sys
import time

import torch

sys.path.insert(0, "benchmarks")
from chest_transfer import independent_studies, own_studies, score

from cathx.inference.chest_model import load_chest


def main() -> None:
    torch.set_num_threads(1)
    run, outfile = sys.argv[1], sys.argv[2]
    sets = {"own": list(own_studies(60, 512)), "independent": list(independent_studies(60, 512))}
    copy = os.path.join(os.path.dirname(outfile) or ".", ".per_epoch_transfer.ckpt")
    seen, epoch = None, 0
    while True:
        last = os.path.join(run, "checkpoints", "last.ckpt")
        if os.path.exists(last) and os.path.getmtime(last) != seen:
            time.sleep(5)
            seen = os.path.getmtime(last)
            shutil.copy(last, copy)
            chest = load_chest(copy)
            parts = []
            for name, studies in sets.items():
                result = score(chest, studies, 512, 3.0, None)
                course = result["course_recall"]
                parts.append(f"{name} F1 {result['f1']:.3f} (P {result['precision']:.2f} R {result['recall']:.2f}, "
                             f"across-upper {course['across_upper']:.2f}, down {course['down']:.2f})")
            with open(outfile, "a") as handle:
                handle.write(f"{time.strftime('%H:%M')} ckpt {epoch}: " + "; ".join(parts) + "\n")
            epoch += 1
        if os.path.exists(os.path.join(run, "classifier.safetensors")):
            break
        time.sleep(30)


if __name__ == "__main__":
    main()
