"""Parameters of the synthetic fluoroscopy engine.

Ranges are (low, high) sampled uniformly per frame (per sequence for scene parameters; the dose
log-uniformly with ``dose_sampling: log_uniform``).
Lengths in millimetres; pixel quantities are quoted at 256 px and scaled with the image size.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields

from cathx.config import choices
from cathx.errors import ConfigError

TARGET_TYPES: tuple[str, ...] = ("cs_decapolar", "quadripolar", "ablation", "lasso", "pacing")
DOSE_SAMPLING: tuple[str, ...] = ("uniform", "log_uniform")


@dataclass(frozen=True)
class SynthConfig:
    """Everything the generator samples from. Defaults follow ../docs/synthetic.md."""

    # Target catheters that may appear, and how likely each is in a frame.
    catheter_types: tuple[str, ...] = field(default=TARGET_TYPES, metadata=choices(*TARGET_TYPES))
    catheter_probability: dict[str, float] = field(default_factory=lambda: {
        "cs_decapolar": 0.85, "ablation": 0.7, "lasso": 0.45, "quadripolar": 0.45, "pacing": 0.2})
    max_quadripolar: int = 2
    empty_probability: float = 0.02  # frames without any target catheter (negatives)

    # Geometry: mm per pixel at 256 px (includes geometric magnification); scales as 256 / size.
    pixel_spacing_mm: tuple[float, float] = (0.8, 1.2)
    view_angle_deg: tuple[float, float] = (-35.0, 35.0)  # RAO (-) to LAO (+)
    cranial_angle_deg: tuple[float, float] = (-12.0, 12.0)

    # Imaging chain.
    dose: tuple[float, float] = (400.0, 8000.0)  # photons per 256-px pixel with no attenuation
    # How dose is drawn from its range: uniform, or log-uniform (every doubling of the photon count
    # equally likely: 23 % of frames below 800 photons instead of 5 %, i.e. more noisy, low-dose frames).
    dose_sampling: str = field(default="uniform", metadata=choices(*DOSE_SAMPLING))
    electronic_noise: tuple[float, float] = (0.5, 3.0)  # detector read noise, photons
    focal_blur_px: tuple[float, float] = (0.35, 0.8)  # Gaussian sigma at 256 px
    detector_blur_px: tuple[float, float] = (0.2, 1.0)  # scintillator spread after the noise (grain size)
    scatter_fraction: tuple[float, float] = (0.05, 0.35)
    gain_pattern: tuple[float, float] = (0.0, 0.03)  # detector gain non-uniformity (row/column bands)
    edge_enhance_probability: float = 0.5
    edge_enhance: tuple[float, float] = (0.2, 1.2)  # unsharp-mask strength when enhancement is on
    gamma: tuple[float, float] = (0.7, 1.4)
    lut_probability: float = 0.3  # an S-shaped display LUT instead of a plain window
    invert_probability: float = 0.05  # displayed with dense = bright (some systems, "black bone")
    text_probability: float = 0.4  # burned-in text, side markers and a ruler
    collimation_probability: float = 0.35
    collimation_depth: tuple[float, float] = (0.04, 0.2)  # how far each blade reaches in, fraction of the side
    collimator_rotation_probability: float = 0.3
    collimator_rotation_deg: tuple[float, float] = (-45.0, 45.0)
    iris_probability: float = 0.25  # circular (image-intensifier) field
    iris_radius: tuple[float, float] = (0.42, 0.7)  # fraction of the side; above 0.71 the circle leaves the frame
    wedge_probability: float = 0.12

    # Anatomy beyond the chest model's defaults (bone and soft-tissue edges a model must ignore).
    clavicle_probability: float = 0.5
    scapula_probability: float = 0.5
    arm_probability: float = 0.35
    endplate: tuple[float, float] = (0.0, 0.25)  # cortical end plates of the vertebral bodies

    # Unlabelled distractors.
    ecg_leads: tuple[int, int] = (1, 4)
    ecg_probability: float = 0.9
    sternal_wire_probability: float = 0.3
    guidewire_probability: float = 0.3
    # Multiplier of every unlabelled wire's width (tubes under 0.9 mm: ECG, sternal, crossing and
    # guide wires), one per frame. (1, 1), the default, takes no draw from the random stream; above
    # 1 wires reach catheter widths, so that width alone does not tell a catheter from a wire.
    wire_width_scale: tuple[float, float] = (1.0, 1.0)
    probe_probability: float = 0.2  # oesophageal temperature probe (banded, unlabelled)
    pacemaker_can_probability: float = 0.12
    sheath_probability: float = 0.5  # transseptal sheath around an ablation or lasso catheter
    # Look-alikes from cathx.data.synthetic.distractors, each drawn with its own probability.
    distractor_probability: dict[str, float] = field(default_factory=lambda: {
        "icd_lead": 0.12, "clips": 0.2, "stent": 0.12, "valve": 0.08, "tee_probe": 0.06, "contrast": 0.12,
        "crossing_wires": 0.35, "look_alikes": 0.0})

    # Device look beyond each catheter type's own ranges (other manufacturers' models), drawn per
    # catheter and sequence as multipliers of the type's values; (1.0, 1.0) everywhere is the look
    # of the engine before this variety.
    radius_scale: tuple[float, float] = (0.85, 1.2)  # shaft and ring diameter (about 4-9 French)
    shaft_opacity_scale: tuple[float, float] = (0.6, 1.5)  # radio-opacity of the shaft (braid, filler)
    electrode_opacity_scale: tuple[float, float] = (0.7, 1.4)  # metal of the rings and tip
    electrode_length_scale: tuple[float, float] = (0.75, 1.5)  # ring and tip length
    electrode_spacing_scale: tuple[float, float] = (0.85, 1.2)  # gaps between rings (not the lasso's loop)

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
        check_synth_config(self)


SIGNED_RANGES = ("view_angle_deg", "cranial_angle_deg", "collimator_rotation_deg")  # may be negative
# The device-look multipliers, in the order geometry.vary_device_look takes them, and the look of
# every catheter type's own ranges (each multiplier 1).
DEVICE_LOOK = ("radius_scale", "shaft_opacity_scale", "electrode_opacity_scale", "electrode_length_scale",
               "electrode_spacing_scale")
NOMINAL_LOOK: dict[str, tuple[float, float]] = dict.fromkeys(DEVICE_LOOK, (1.0, 1.0))
POSITIVE_RANGES = ("pixel_spacing_mm", "dose", "respiration_hz", "heart_rate_hz", "wire_width_scale", *DEVICE_LOOK)  # must be > 0


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_range_field(spec) -> bool:
    """A (low, high) parameter: its default is a pair of numbers."""
    default = spec.default
    return isinstance(default, tuple) and len(default) == 2 and all(_is_number(v) for v in default)


def check_synth_config(config: SynthConfig) -> None:
    """Raise ConfigError naming the parameter for an out-of-range or contradictory value (a value
    that is not a finite number where one is expected, a range that is not two numbers)."""
    from cathx.data.synthetic.distractors import SAMPLERS

    def probability(name: str, value: object) -> None:
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
            raise ConfigError(f"synthetic parameter {name}: a probability must be a number in [0, 1], got {value!r}")

    for spec in fields(config):
        name, value = spec.name, getattr(config, spec.name)
        if name.endswith("_probability") and not isinstance(value, dict):
            probability(name, value)
        elif _is_range_field(spec):
            if not (isinstance(value, tuple) and len(value) == 2 and all(_is_number(v) for v in value)):
                raise ConfigError(f"synthetic parameter {name}: a range must be two finite numbers [low, high], "
                                  f"got {list(value) if isinstance(value, tuple) else value!r}")
            low, high = value
            if low > high:
                raise ConfigError(f"synthetic parameter {name}: low {low} is above high {high}")
            if name in POSITIVE_RANGES and low <= 0:
                raise ConfigError(f"synthetic parameter {name}: must be positive, got {low}")
            if name not in SIGNED_RANGES and low < 0:
                raise ConfigError(f"synthetic parameter {name}: must not be negative, got {low}")
        elif isinstance(spec.default, (int, float)) and not isinstance(spec.default, bool) and not _is_number(value):
            raise ConfigError(f"synthetic parameter {name}: must be a finite number, got {value!r}")
    for table, known in (("catheter_probability", TARGET_TYPES), ("distractor_probability", tuple(SAMPLERS))):
        for key, value in getattr(config, table).items():
            if key not in known:
                raise ConfigError(f"synthetic parameter {table}: unknown name {key!r}; choose from {', '.join(known)}")
            probability(f"{table}.{key}", value)
    if not config.catheter_types:
        raise ConfigError(f"synthetic parameter catheter_types: name at least one of {', '.join(TARGET_TYPES)}")
    if not 0.0 < config.mask_coverage_threshold <= 1.0:
        raise ConfigError(f"synthetic parameter mask_coverage_threshold: the share of a pixel the tube must cover, "
                          f"in (0, 1], got {config.mask_coverage_threshold}")
    if config.recursive_filter[0] <= 0.0 or config.recursive_filter[1] > 1.0:
        raise ConfigError(f"synthetic parameter recursive_filter: the new frame's weight, in (0, 1] (1 = no "
                          f"filtering; 0 would freeze the image), got {list(config.recursive_filter)}")
    if config.max_quadripolar < 1:
        raise ConfigError(f"synthetic parameter max_quadripolar: at least 1, got {config.max_quadripolar} (leave "
                          "quadripolars out with catheter_probability.quadripolar: 0)")
    if config.dose_sampling not in DOSE_SAMPLING:
        raise ConfigError(f"synthetic parameter dose_sampling: unknown value {config.dose_sampling!r}; "
                          f"choose from {', '.join(DOSE_SAMPLING)}")
    if config.iris_radius[1] > 0.71:
        raise ConfigError(f"synthetic parameter iris_radius: {config.iris_radius[1]} of the frame side puts the "
                          "circular field outside the frame (at most 0.71)")
    if config.collimation_depth[1] >= 0.5:
        raise ConfigError(f"synthetic parameter collimation_depth: {config.collimation_depth[1]} of the side "
                          "from each edge leaves no open field (must be below 0.5)")
    if config.ecg_leads[0] < 0:
        raise ConfigError("synthetic parameter ecg_leads: counts must not be negative")
