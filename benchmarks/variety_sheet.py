"""Contact sheet of the synthetic engine's domain randomisation: one tile per factor, forced on.

    .venv/bin/python benchmarks/variety_sheet.py   # writes docs/images/synthetic_variety.png
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from cathx.data.synthetic import SynthConfig, render_frame
from cathx.data.synthetic.config import NOMINAL_LOOK
from cathx.data.synthetic.distractors import SAMPLERS
from cathx.fileio import atomic_write_bytes

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "synthetic_variety.png"
QUIET = dict(distractor_probability=dict.fromkeys(SAMPLERS, 0.0), text_probability=0.0, lut_probability=0.0,
             invert_probability=0.0, iris_probability=0.0, collimation_probability=0.0,
             collimator_rotation_probability=0.0, sternal_wire_probability=0.0, ecg_probability=0.0,
             clavicle_probability=0.0, scapula_probability=0.0, arm_probability=0.0, dose=(4000.0, 6000.0),
             **NOMINAL_LOOK)


def only(**change) -> SynthConfig:
    values = {**QUIET, **change}
    if "distractors" in values:
        values["distractor_probability"] = {**QUIET["distractor_probability"], **values.pop("distractors")}
    return dataclasses.replace(SynthConfig(), **values)


TILES = [
    ("plain (everything below off)", only()),
    ("sternal wires + ECG leads", only(sternal_wire_probability=1.0, ecg_probability=1.0, ecg_leads=(3, 4))),
    ("ICD lead with shock coils", only(distractors={"icd_lead": 1.0})),
    ("clips, stent, valve ring", only(distractors={"clips": 1.0, "stent": 1.0, "valve": 1.0})),
    ("TEE probe", only(distractors={"tee_probe": 1.0})),
    ("contrast-filled vessels", only(distractors={"contrast": 1.0})),
    ("wire bundle crossing the heart", only(distractors={"crossing_wires": 1.0})),
    ("clavicles, scapulae, arm, end plates", only(clavicle_probability=1.0, scapula_probability=1.0,
                                                 arm_probability=1.0, endplate=(0.25, 0.25))),
    ("circular field", only(iris_probability=1.0, iris_radius=(0.42, 0.45))),
    ("rotated collimator", only(collimation_probability=1.0, collimator_rotation_probability=1.0)),
    ("low dose, coarse grain", only(dose=(400.0, 450.0), detector_blur_px=(0.9, 1.0), electronic_noise=(2.5, 3.0))),
    ("S-curve LUT, burned-in text", only(lut_probability=1.0, text_probability=1.0)),
    ("inverted display", only(invert_probability=1.0)),
    ("strong edge enhancement", only(edge_enhance_probability=1.0, edge_enhance=(1.2, 1.2))),
    ("detector gain bands", only(gain_pattern=(0.03, 0.03), dose=(8000.0, 8000.0))),
    ("devices: thin, faint shaft, long rings", only(radius_scale=(0.85, 0.85), shaft_opacity_scale=(0.6, 0.6),
                                                     electrode_length_scale=(1.5, 1.5), electrode_spacing_scale=(1.2, 1.2))),
    ("devices: thick, dense shaft, short rings", only(radius_scale=(1.2, 1.2), shaft_opacity_scale=(1.5, 1.5),
                                                      electrode_opacity_scale=(0.7, 0.7), electrode_length_scale=(0.75, 0.75),
                                                      electrode_spacing_scale=(0.85, 0.85))),
    ("engine defaults (all randomised)", SynthConfig()),
]


def main() -> None:
    tile, columns = 256, 6
    rows = (len(TILES) + columns - 1) // columns
    sheet = np.zeros((rows * (tile + 22), columns * tile), np.uint8)
    for index, (caption, config) in enumerate(TILES):
        image = render_frame(41 + (index == len(TILES) - 1), tile, config).sample.image
        row, col = divmod(index, columns)
        y, x = row * (tile + 22), col * tile
        sheet[y + 22 : y + 22 + tile, x : x + tile] = np.round(image * 255).astype(np.uint8)
        cv2.putText(sheet, caption, (x + 4, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, 255, 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", sheet)
    atomic_write_bytes(OUT, png.tobytes())
    print(OUT)


if __name__ == "__main__":
    main()
