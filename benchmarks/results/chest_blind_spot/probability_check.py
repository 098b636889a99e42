"""One-off check (2026-12-05): the line-mask probability (max over groups, 5 x 5 neighbourhood) on the
annotated centreline points of horizontal upper segments (course "across-upper") and of descending
ones ("down"), 40 template studies of the hold-out seed at 512 px. From the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/chest_blind_spot/probability_check.py LABEL=WEIGHTS ...
"""

import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, "benchmarks")  # run from the repository root
from chest_transfer import course_maps, own_studies
from transfer import parse_labelled

from cathx.inference.chest_model import load_chest

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5)


def main() -> None:
    torch.set_num_threads(1)
    models = {label: load_chest(path) for label, path in map(parse_labelled, sys.argv[1:])}
    values = {label: {"across-upper": [], "down": []} for label in models}
    for image, lines in own_studies(40, 512, template=True):
        maps = course_maps(lines, image.shape)
        if not maps[0].any():
            continue
        for label, chest in models.items():
            with torch.no_grad():
                out = chest.model(chest.input_tensor(image))
            probs = torch.sigmoid(F.interpolate(out["mask"].float(), size=image.shape, mode="bilinear"))[0].numpy()
            near = cv2.dilate(probs.max(0), np.ones((5, 5)))  # tolerate 2 px
            values[label]["across-upper"].append(near[maps[0]])
            values[label]["down"].append(near[maps[2]])
    for label, courses in values.items():
        for course, chunks in courses.items():
            v = np.concatenate(chunks)
            shares = " ".join(f">{t}: {np.mean(v > t):.2f}" for t in THRESHOLDS)
            print(f"{label} {course} ({len(chunks)} studies) median {np.median(v):.3f} {shares}")


if __name__ == "__main__":
    main()
