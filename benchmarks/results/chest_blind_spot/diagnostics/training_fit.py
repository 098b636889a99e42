"""One-off check (2026-12-05): does a network fit the horizontal course on the studies it was
trained on? Share of annotated across-upper / descending centreline points with line probability
above 0.5 within 2 px, on 60 studies of runs/DATA/synthetic (cached at 256 px; fold 0 of 5 is
validation, so about a fifth are not training studies). From the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/chest_blind_spot/diagnostics/training_fit.py DATA WEIGHTS...
"""

import glob
import json
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, "benchmarks")
from chest_transfer import course_maps

from cathx.data.chest.cache import ChestCache
from cathx.data.chest.ranzcr import read_annotations
from cathx.inference.chest_model import load_chest

torch.set_num_threads(1)
data, weights = sys.argv[1], sys.argv[2:]
root = f"runs/{data}/synthetic"
cdir = glob.glob(root + "/.cathx-cache/*/")[0]
cache = ChestCache.open(cdir)
meta = json.load(open(cdir + "meta.json"))
ann = read_annotations(root)
models = {w: load_chest(w) for w in weights}
res = {w: [[], []] for w in weights}
n = 0
for i, uid in enumerate(meta["uids"][:400]):
    lines = ann.get(uid)
    if not lines:
        continue
    maps = course_maps(lines, (256, 256))
    if maps[0].sum() < 10:
        continue
    img = cache.images[i].astype(np.float32) / 255
    for w, chest in models.items():
        with torch.no_grad():
            out = chest.model(chest.input_tensor(img))
        p = (
            torch.sigmoid(F.interpolate(out["mask"].float(), size=(256, 256), mode="bilinear"))[0]
            .numpy()
            .max(0)
        )
        near = cv2.dilate(p, np.ones((5, 5)))
        res[w][0].append((near[maps[0] > 0] > 0.5).mean())
        res[w][1].append((near[maps[2] > 0] > 0.5).mean())
    n += 1
    if n == 60:
        break
for w, (a, d) in res.items():
    print(f"{w}: training studies {n}, across-upper covered {np.mean(a):.2f}, down {np.mean(d):.2f}")
