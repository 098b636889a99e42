"""Line-mask threshold of cathx-chest: chosen on cathx's own studies (FIT_SEED), reported on the rest."""
import json
import sys
from pathlib import Path
from types import SimpleNamespace
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import chest_transfer as T
import cathx.postprocess.line_tips as LT
from cathx.inference.chest_model import load_chest

THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
captured = []
orig = LT.upscale_mask
def capture(prob, shape, threshold=0.5):
    captured.append((np.asarray(prob).copy(), tuple(shape)))
    return orig(prob, shape, threshold)
LT.upscale_mask = capture
chest = load_chest("cathx-chest")
which, count = sys.argv[1], int(sys.argv[2])
size = 512
if which == "fit":
    studies = list(T.own_studies(count, size, seed=T.FIT_SEED))
elif which == "own":
    studies = list(T.own_studies(count, size))
else:
    studies = list(T.independent_studies(count, size))
# one network pass per study; masks at every threshold from the captured probabilities
probs = []
for image, _ in studies:
    captured.clear()
    chest.predict_grey((np.round(image * 255) / 255).astype(np.float32), "s")
    probs.append(captured[-1])
class Fixed:
    def __init__(self, t): self.t, self.k = t, 0
    def predict_grey(self, image, name):
        p, shape = probs[self.k]; self.k += 1
        return SimpleNamespace(mask=orig(p, shape, self.t))
out = {}
for t in THRESHOLDS:
    r = T.score(Fixed(t), studies, size, 3.0, None)
    out[t] = r
    print(which, t, f"P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}", flush=True)
(Path(__file__).parent / f"{which}.json").write_text(json.dumps({str(k): v for k, v in out.items()}, indent=1) + "\n")
