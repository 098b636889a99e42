"""CathMTL training: prioritization (weighting), Lightning module / data / trainer, train and evaluate.

``train(config, data=None, out=..., resume=False) -> Path`` (best weights) and
``evaluate(weights, data, out, split="test") -> dict`` are the library entry points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Imported eagerly so that the package attribute ``evaluate`` is the function, not the submodule.
from cathx.training.evaluate import evaluate


def train(config: Any, data: Any = None, out: Path | str = "runs/cathx", resume: bool = False, **kwargs: Any) -> Path:
    """Train every stage of ``config`` into ``out``; returns OUT/best.pt. See cathx.training.run.train."""
    from cathx.training.run import train as _train

    return _train(config, data=data, out=out, resume=resume, **kwargs)


__all__ = ["evaluate", "train"]
