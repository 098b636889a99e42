"""Shipped models by name: where their weights and cards are inside the package.

Kept apart from ``cathx.checkpoint`` (which needs torch) so that naming a model costs no torch
import: an ONNX Runtime predictor, such as a Ray actor's with ``--backend onnx``, never loads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cathx.errors import CathxError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # shipped models (package data)
SHIPPED_MODELS: dict[str, str] = {
    "cathx-fluoro": "cathx-fluoro.safetensors",  # CathMTL: catheter mask + electrodes in fluoroscopy
    "cathx-chest": "cathx-chest.safetensors",  # seg-aided line/tube position classifier, chest X-ray
}


def resolve_weights(spec: Path | str) -> Path:
    """A shipped model's name or a path -> the weights file; CathxError for an unknown name or a
    shipped model missing from this install. Paths are returned as given (existing or not)."""
    text = str(spec)
    if text in SHIPPED_MODELS:
        path = WEIGHTS_DIR / SHIPPED_MODELS[text]
        if not path.is_file():
            raise CathxError(f"{text}: this install has no weights for the shipped model ({path} is missing)")
        return path
    path = Path(spec)
    if not path.exists() and path.suffix and path.stem in SHIPPED_MODELS and "/" not in text and "\\" not in text:
        raise CathxError(f"{text}: no such weights file; the shipped model is named {path.stem!r}, "
                         f"without {path.suffix}; shipped models: {', '.join(SHIPPED_MODELS)}")
    if not path.exists() and not path.suffix and "/" not in text and "\\" not in text:
        raise CathxError(f"{text}: no such weights file or shipped model; shipped models: {', '.join(SHIPPED_MODELS)}")
    return path


def model_card(name: str) -> dict[str, Any]:
    """The JSON model card beside a shipped model's weights ({} when absent)."""
    path = resolve_weights(name).with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else {}
