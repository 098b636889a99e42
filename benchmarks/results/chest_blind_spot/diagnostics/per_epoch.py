"""One-off monitor (2026-12-05): after each epoch of a running `cathx cls train`, the share of
across-upper / descending centreline points covered (probability > 0.5 within 2 px) on 30
template and 30 variety studies of the hold-out seed at 256 px, from OUT/checkpoints/last.ckpt
(our own file, read by cathx's checkpoint reader). Appends a line per epoch to OUTFILE:

    nice .venv/bin/python benchmarks/results/chest_blind_spot/diagnostics/per_epoch.py runs/cathx_chest_NAME OUTFILE
"""

import os
import shutil
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, "benchmarks")
from chest_transfer import course_maps, own_studies

from cathx.inference.chest_model import load_chest

torch.set_num_threads(1)
run, outfile = sys.argv[1], sys.argv[2]
sets = {"template": list(own_studies(30, 256, template=True)), "own": list(own_studies(30, 256))}
seen = None


def cover(chest, studies):
    a, d = [], []
    for image, lines in studies:
        maps = course_maps(lines, image.shape)
        with torch.no_grad():
            o = chest.model(chest.input_tensor(image))
        p = (
            torch.sigmoid(F.interpolate(o["mask"].float(), size=image.shape, mode="bilinear"))[0]
            .numpy()
            .max(0)
        )
        near = cv2.dilate(p, np.ones((5, 5))) > 0.5
        if maps[0].sum() >= 5:
            a.append(near[maps[0] > 0].mean())
        if maps[2].sum() >= 5:
            d.append(near[maps[2] > 0].mean())
    return np.mean(a), np.mean(d)


epoch = 0
while True:
    ck = os.path.join(run, "checkpoints", "last.ckpt")
    if os.path.exists(ck) and os.path.getmtime(ck) != seen:
        time.sleep(5)
        seen = os.path.getmtime(ck)
        shutil.copy(ck, os.path.join(os.path.dirname(outfile) or ".", ".per_epoch.ckpt"))
        chest = load_chest(os.path.join(os.path.dirname(outfile) or ".", ".per_epoch.ckpt"))
        r = {k: cover(chest, v) for k, v in sets.items()}
        with open(outfile, "a") as f:
            f.write(
                f"{time.strftime('%H:%M')} ckpt {epoch}: "
                + " ".join(f"{k} across-upper {a:.2f} down {d:.2f}" for k, (a, d) in r.items())
                + "\n"
            )
        epoch += 1
    if os.path.exists(os.path.join(run, "classifier.safetensors")):
        break
    time.sleep(30)
