"""cathx: catheter segmentation, electrode detection and line/tube position classification in X-ray images.

    import cathx
    model = cathx.load("cathx-fluoro")      # a shipped model (`cathx models`) or a weights path
    results = model.predict("frame.png")    # Results: .plot(), .save(dir), .to_json(), .electrodes
    chest = cathx.load("cathx-chest")       # chest line/tube classifier: ChestResults, same methods

``import cathx`` stays light: torch and the readers load on the first ``cathx.load``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cathx.inference.chest_model import ChestModel
    from cathx.inference.model import Model

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def load(weights: Any = "cathx-fluoro", **kwargs: Any) -> Model | ChestModel:
    """Load a model by shipped name or weights path; see ``cathx.inference.model.load`` for the
    catheter models' options (device, backend, input_size, thresholds). ``cathx-chest`` gives a
    ChestModel (``cathx.inference.chest_model``), which takes ``device`` and ``mask_threshold``."""
    from cathx.inference.model import CHEST_MODELS
    from cathx.inference.model import load as _load

    if isinstance(weights, str) and weights in CHEST_MODELS:
        from cathx.errors import CathxError
        from cathx.inference.chest_model import load_chest

        extra = sorted(set(kwargs) - {"device", "mask_threshold"})
        if extra:
            raise CathxError(f"cathx.load({weights!r}): unexpected option {extra[0]!r}; the chest model takes "
                             "device and mask_threshold")
        return load_chest(weights, **kwargs)
    return _load(weights, **kwargs)
