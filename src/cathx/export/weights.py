"""A training checkpoint (best.pt, a stage's model.pt, a Lightning .ckpt) as the shipped format:
safetensors with the model config and extras as JSON metadata (``cathx.checkpoint``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def export_safetensors(weights: Path | str, out: Path | str) -> dict[str, Any]:
    """Write the network of ``weights`` to ``out`` (.safetensors), float32, with its extras (type
    decision, report) and the input side it was trained at, which a file taken out of its run folder
    could no longer read from the run's config.yaml; reload it and check every tensor came back."""
    from cathx.checkpoint import load_model, read_checkpoint, save_safetensors, trained_input_size
    from cathx.errors import CathxError

    weights, out = Path(weights), Path(out)
    if out.suffix.lower() != ".safetensors":
        raise CathxError(f"{out}: the output name must end in .safetensors")
    model, config = load_model(weights)
    extra = dict(read_checkpoint(weights).get("extra") or {})
    extra["input_size"] = trained_input_size(weights, extra)
    # Written under a hidden name and checked there: only a faithful copy ever takes the name ``out``.
    partial = out.with_name(f".{out.stem}.partial.safetensors")
    try:
        save_safetensors(partial, model.float(), config, extra)
        reloaded, _ = load_model(partial)
        expected = model.state_dict()
        for key, value in reloaded.state_dict().items():
            if not torch.equal(value, expected[key]):
                raise CathxError(f"{out}: tensor {key} differs after writing; not written (not a faithful copy)")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return {"weights": str(weights), "path": str(out), "input_size": extra["input_size"],
            "megabytes": round(out.stat().st_size / 1e6, 2), "tensors": len(expected)}
