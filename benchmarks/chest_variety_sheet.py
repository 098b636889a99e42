"""Contact sheet of the chest engine's factors: docs/images/chest_variety.jpg.

One row per factor, each at its extremes with everything else at the defaults, 512 px studies shown
at 256 px (crops of 256 px at full resolution in the last column show the line profile):

    nice -n 19 .venv/bin/python benchmarks/chest_variety_sheet.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cathx.data.chest.synthetic import VARIETY_OFF, ChestSynthConfig, generate_study

ROOT = Path(__file__).resolve().parents[1]
QUIET = {**VARIETY_OFF, "ecg_prob": 0.0, "text_prob": 0.0, "core_prob": 0.0, "picc_prob": 0.0}
ROWS = [
    ("defaults", {}),
    ("thin solid lines 1.5 px", {**QUIET, "line_width": (1.5, 1.5), "cvc_prob": 1.0}),
    ("tubes 4 px, radiolucent core", {**QUIET, "line_width": (4.0, 4.0), "core_prob": 1.0, "core_depth": (0.7, 0.7),
                                      "cvc_prob": 1.0}),
    ("PICC from an arm", {**QUIET, "picc_prob": 1.0, "cvc_prob": 1.0}),
    ("ECG wires crossing lines", {**QUIET, "ecg_prob": 1.0, "ecg_leads": (5, 5), "ecg_cross_prob": 1.0}),
    ("burned-in text", {**QUIET, "text_prob": 1.0}),
    ("fixed template (variety off)", {**QUIET, "cvc_prob": 1.0}),
    ("anatomy jitter, rib cortex 0.1, spine 0.12", {**QUIET, "anatomy_variety": 1.0, "rib_cortex": (0.1, 0.1),
                                                     "spine_detail": (0.12, 0.12), "cvc_prob": 1.0}),
    ("skin folds, pathology", {**QUIET, "skin_fold_prob": 1.0, "pathology_prob": 1.0, "cvc_prob": 1.0}),
    ("pacemaker/ICD, sternal wires, drain", {**QUIET, "implant_prob": 1.0, "sternal_wire_prob": 1.0, "drain_prob": 1.0,
                                             "cvc_prob": 1.0}),
    ("edge enhancement 1.5, grain", {**QUIET, "edge_enhance_prob": 1.0, "edge_enhance": (1.5, 1.5),
                                     "noise_grain_prob": 1.0, "noise": 0.04, "cvc_prob": 1.0}),
    ("sigmoid display curve", {**QUIET, "tone_curve_prob": 1.0, "cvc_prob": 1.0}),
    ("faint lines (density 0.08)", {**QUIET, "line_density": (0.08, 0.08), "cvc_prob": 1.0}),
    ("a line on a random course", {**QUIET, "free_line_prob": 1.0}),
]


def tile(image: np.ndarray, caption: str) -> np.ndarray:
    out = cv2.cvtColor(np.round(image * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    cv2.putText(out, caption, (6, out.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (40, 220, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    rows = []
    for name, change in ROWS:
        config = ChestSynthConfig(**change)
        studies = [generate_study(31, index, 512, config) for index in (1, 4, 6)]
        small = [tile(cv2.resize(s.image, (256, 256), interpolation=cv2.INTER_AREA), name if k == 0 else "")
                 for k, s in enumerate(studies)]
        crop = tile(studies[0].image[128:384, 128:384], "512 px, centre crop")
        rows.append(np.concatenate([*small, crop], axis=1))
    path = ROOT / "docs" / "images" / "chest_variety.jpg"
    ok, encoded = cv2.imencode(".jpg", np.concatenate(rows, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 88])
    assert ok
    path.write_bytes(encoded.tobytes())
    print(path)


if __name__ == "__main__":
    main()
