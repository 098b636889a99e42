"""One-off check (2026-12-05): are the image and the line label aligned on the horizontal course?
Mean grey value of the cached 256 px training images along the annotated centreline points of
across-upper segments shifted up/down by -6..6 px (and of descending segments shifted left/right),
first 600 studies of each run's synthetic set. From the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/chest_blind_spot/diagnostics/alignment.py cathx_chest_v2 cathx_chest_template
"""

import sys

import numpy as np

sys.path.insert(0, "benchmarks")
import glob

from chest_transfer import course_maps

from cathx.data.chest.cache import ChestCache
from cathx.data.chest.ranzcr import read_annotations

for name in sys.argv[1:]:
    root = f"runs/{name}/synthetic"
    cdir = glob.glob(root + "/.cathx-cache/*/")[0]
    cache = ChestCache.open(cdir)
    import json

    meta = json.load(open(cdir + "meta.json"))
    ann = read_annotations(root)
    prof = {d: [] for d in range(-6, 7)}
    profd = {d: [] for d in range(-6, 7)}
    n = 0
    for i, uid in enumerate(meta["uids"][:600]):
        lines = ann.get(uid)
        if not lines:
            continue
        img = cache.images[i].astype(np.float32) / 255
        maps = course_maps(lines, img.shape)
        if maps[0].sum() < 5:
            continue
        n += 1
        ys, xs = np.nonzero(maps[0])
        yd, xd = np.nonzero(maps[2])
        for d in prof:
            ok = (ys + d >= 0) & (ys + d < 256)
            prof[d].append(img[ys[ok] + d, xs[ok]].mean())
            ok = (xd + d >= 0) & (xd + d < 256)
            profd[d].append(img[yd[ok], xd[ok] + d].mean())
    print(name, "studies", n)
    print(" across-upper, vertical offset:", " ".join(f"{d}:{np.mean(prof[d]):.3f}" for d in prof))
    print(" down, horizontal offset:      ", " ".join(f"{d}:{np.mean(profd[d]):.3f}" for d in profd))
