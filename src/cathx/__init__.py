"""cathx: catheter segmentation, electrode detection and line/tube position classification in X-ray images.

    import cathx
    model = cathx.load("cathx-fluoro")      # a shipped model (`cathx models`) or a weights path
    results = model.predict("frame.png")    # Results: .plot(), .save(dir), .to_json(), .electrodes

``import cathx`` stays light: torch and the readers load on the first ``cathx.load``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cathx.inference.model import Model

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def load(weights: Any = "cathx-fluoro", **kwargs: Any) -> Model:
    """Load a catheter model by shipped name or weights path; see ``cathx.inference.model.load``
    for the options (device, backend, input_size, thresholds)."""
    from cathx.inference.model import load as _load

    return _load(weights, **kwargs)
