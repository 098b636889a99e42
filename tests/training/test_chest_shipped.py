"""The shipped cathx-chest model: it loads by name from the package and predicts labels and line masks."""

from __future__ import annotations

import json

import numpy as np
import torch

from cathx.checkpoint import load_classifier
from cathx.zoo import WEIGHTS_DIR
from cathx.data.chest.synthetic import generate_study
from cathx.training.chest import predict_arrays


def test_cathx_chest_loads_and_predicts_on_a_synthetic_study():
    weights = WEIGHTS_DIR / "cathx-chest.safetensors"
    assert weights.is_file(), f"{weights} is missing: the package ships cathx-chest"
    assert weights.stat().st_size <= 25 * 2**20
    model, cfg, size = load_classifier("cathx-chest")
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["name"] == "cathx-chest" and card["input_size"] == size and cfg.kind == "seg_aided"
    assert "real clinical radiographs" in card["not_validated_on"]
    study = generate_study(424_242, 0, size)
    probs = predict_arrays(model, study.image[None])
    assert probs.shape == (1, 11) and np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()
    with torch.no_grad():
        mask = model(torch.from_numpy(study.image)[None, None])["mask"]
    assert mask.shape == (1, 4, size // 4, size // 4)


def test_cls_predict_defaults_to_cathx_chest(run_cli, tmp_path):
    import cv2

    study = generate_study(424_242, 1, 200)
    cv2.imwrite(str(tmp_path / "study.png"), np.round(study.image * 255).astype(np.uint8))
    result = run_cli("cls", "predict", tmp_path / "study.png", "--out", tmp_path / "p", "--no-cam")
    assert result.exit_code == 0, result.stderr
    mask = cv2.imread(str(tmp_path / "p" / "masks" / "study.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (200, 200)
    assert (tmp_path / "p" / "tips.csv").read_text().startswith("image,line,x,y,score")
