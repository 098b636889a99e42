"""The one sample schema every reader returns and every model consumes.

Coordinates are in pixels of the image as stored in the sample, x to the right and y down,
with (0, 0) the centre of the top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Catheter types known to the synthetic engine and the type classifier. "unknown" is for
# real data where the type is not annotated.
CATHETER_TYPES: tuple[str, ...] = ("cs_decapolar", "quadripolar", "ablation", "lasso", "pacing", "unknown")
# Every output a CathMTL network can return (cathx.models.cathmtl), in the order ONNX export
# lists them; here so that the ONNX predictor reads them without importing torch.
OUTPUT_NAMES: tuple[str, ...] = ("mask", "heatmap", "size", "type")
# The types a network's catheter-type head tells apart ("unknown" is what is left undecided).
TYPE_HEAD_CLASSES: tuple[str, ...] = CATHETER_TYPES[:-1]
# A network's square input side divides by its deepest stride (32: the encoders' last stage).
INPUT_MULTIPLE = 32
MAX_INPUT_SIZE = 4096


def input_size_problem(value: int) -> str | None:
    """Why ``value`` cannot be a network's input side, or None: a multiple of 32 from 32 to 4096."""
    if not INPUT_MULTIPLE <= value <= MAX_INPUT_SIZE or value % INPUT_MULTIPLE:
        return f"must be a multiple of {INPUT_MULTIPLE} from {INPUT_MULTIPLE} to {MAX_INPUT_SIZE}"
    return None


@dataclass
class Sample:
    """One frame with whatever labels its source provides.

    image: (H, W) float32 in [0, 1], dense = dark (the usual fluoroscopy display).
    mask: (H, W) uint8 {0, 1} of the target catheters, or None when the source has no masks.
    electrodes: (N, 2) float32 electrode centres (x, y) in pixels, or None when the source has
        no electrode labels (an empty (0, 2) array means "labelled, and there are none").
    electrode_sizes: (N, 2) float32 box width and height in pixels, or None.
    electrode_catheter_ids: (N,) int64 index into ``catheter_types`` / ``centrelines``, -1 if unknown.
    catheter_types: one entry of CATHETER_TYPES per catheter in the frame.
    centrelines: one ordered (M, 2) float32 polyline (x, y) per catheter.
    meta: free-form provenance: source path, dataset name, sequence id, frame index, fps, pixel spacing.
    """

    image: np.ndarray
    mask: np.ndarray | None = None
    electrodes: np.ndarray | None = None
    electrode_sizes: np.ndarray | None = None
    electrode_catheter_ids: np.ndarray | None = None
    catheter_types: list[str] = field(default_factory=list)
    centrelines: list[np.ndarray] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def has_mask(self) -> bool:
        return self.mask is not None

    @property
    def has_electrodes(self) -> bool:
        return self.electrodes is not None

    def validate(self) -> None:
        """Raise ValueError if arrays disagree in shape or dtype (a reader bug, not a user error)."""
        if self.image.ndim != 2 or self.image.dtype != np.float32:
            raise ValueError(f"image must be (H, W) float32, got {self.image.shape} {self.image.dtype}")
        if self.mask is not None and self.mask.shape != self.image.shape:
            raise ValueError(f"mask shape {self.mask.shape} != image shape {self.image.shape}")
        if self.mask is not None and self.mask.dtype != np.uint8:
            raise ValueError(f"mask must be uint8 {{0, 1}}, got {self.mask.dtype}")
        if self.electrodes is not None:
            count = len(self.electrodes)
            if self.electrodes.shape != (count, 2):
                raise ValueError(f"electrodes must be (N, 2), got {self.electrodes.shape}")
            for name in ("electrode_sizes", "electrode_catheter_ids"):
                value = getattr(self, name)
                if value is not None and len(value) != count:
                    raise ValueError(f"{name} has {len(value)} rows for {count} electrodes")
            if self.electrode_sizes is not None and self.electrode_sizes.shape != (count, 2):
                raise ValueError(f"electrode_sizes must be (N, 2), got {self.electrode_sizes.shape}")
