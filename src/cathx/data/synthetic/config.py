"""Parameters of the synthetic fluoroscopy engine.

Ranges are (low, high) sampled uniformly per frame (per sequence for scene parameters).
Lengths in millimetres; pixel quantities are quoted at 256 px and scaled with the image size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cathx.config import choices
from cathx.errors import ConfigError

TARGET_TYPES: tuple[str, ...] = ("cs_decapolar", "quadripolar", "ablation", "lasso", "pacing")


@dataclass(frozen=True)
class SynthConfig:
    """Everything the generator samples from. Defaults follow ../docs/synthetic.md."""

    # Target catheters that may appear, and how likely each is in a frame.
    catheter_types: tuple[str, ...] = field(default=TARGET_TYPES, metadata=choices(*TARGET_TYPES))
    catheter_probability: dict[str, float] = field(
        default_factory=lambda: {
            "cs_decapolar": 0.85,
            "ablation": 0.7,
            "lasso": 0.45,
            "quadripolar": 0.45,
            "pacing": 0.2,
        }
    )
    max_quadripolar: int = 2
    empty_probability: float = 0.02  # frames without any target catheter (negatives)

    # Geometry: mm per pixel at 256 px (includes geometric magnification); scales as 256 / size.
    pixel_spacing_mm: tuple[float, float] = (0.8, 1.2)
    view_angle_deg: tuple[float, float] = (-35.0, 35.0)  # RAO (-) to LAO (+)
    cranial_angle_deg: tuple[float, float] = (-12.0, 12.0)

    # Imaging chain.
    dose: tuple[float, float] = (500.0, 6000.0)  # photons per 256-px pixel with no attenuation
    electronic_noise: tuple[float, float] = (0.5, 3.0)  # detector read noise, photons
    focal_blur_px: tuple[float, float] = (0.35, 0.8)  # Gaussian sigma at 256 px
    detector_blur_px: tuple[float, float] = (0.25, 0.6)  # scintillator spread, after the noise
    scatter_fraction: tuple[float, float] = (0.05, 0.25)
    edge_enhance_probability: float = 0.5
    collimation_probability: float = 0.35
    iris_probability: float = 0.08
    wedge_probability: float = 0.12

    # Unlabelled distractors.
    ecg_leads: tuple[int, int] = (1, 4)
    ecg_probability: float = 0.9
    sternal_wire_probability: float = 0.3
    guidewire_probability: float = 0.3
    probe_probability: float = 0.2  # oesophageal temperature probe (banded, unlabelled)
    pacemaker_can_probability: float = 0.12
    sheath_probability: float = 0.5  # transseptal sheath around an ablation or lasso catheter

    # Labels.
    min_box_px: float = 3.0  # smallest electrode box side at 256 px
    mask_coverage_threshold: float = 0.5  # fraction of a pixel the catheter's own tube must cover

    # Sequences.
    respiration_hz: tuple[float, float] = (0.2, 0.33)
    respiration_mm: tuple[float, float] = (5.0, 15.0)
    heart_rate_hz: tuple[float, float] = (1.0, 1.7)
    cardiac_mm: tuple[float, float] = (2.0, 8.0)
    recursive_filter: tuple[float, float] = (0.55, 1.0)  # weight of the new frame (1 = no filtering)

    def __post_init__(self) -> None:
        for name in self.catheter_types:
            if name not in TARGET_TYPES:
                raise ConfigError(f"unknown catheter type {name!r}; choose from {', '.join(TARGET_TYPES)}")
