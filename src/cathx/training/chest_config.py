"""Configuration of a chest classification experiment (``cathx cls train``): frozen dataclasses
loaded strictly from YAML, like the fluoroscopy task's ``cathx.training.config``.

Unknown keys and values outside the declared choices are ConfigErrors naming the file and the key
(see ``cathx.config``); ``configs/chest_demo.yaml`` is the shipped example.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cathx.config import choices, from_dict, load_yaml, to_dict
from cathx.data.chest.synthetic import VARIETY_OFF, ChestSynthConfig
from cathx.errors import ConfigError
from cathx.models.classifier import ClassifierConfig


@dataclass(frozen=True)
class ClsDataConfig:
    """Where the studies come from and how they are fed."""

    # Same shape as Tracker's fields (`duplicates` pairs them): typed defaults, no shared logic.
    path: str = ""  # RANZCR CLiP folder; empty = write a synthetic set into OUT/synthetic first
    synth_n: int = 1200
    synth_size: int = 256
    synth_seed: int = 0
    synth: ChestSynthConfig = field(default_factory=ChestSynthConfig)  # the generator's factors and ranges
    image_size: int = 128
    cache_dir: str = ""  # default: DATA/.cathx-cache
    folds: int = 5
    fold: int = 0
    fold_seed: int = 0
    batch_size: int = 32
    workers: int = 0
    augment: bool = True
    intensity: float = 0.5  # with augment: probability of each intensity_transforms group (0 = off)

    def __post_init__(self) -> None:
        if not 0.0 <= self.intensity <= 1.0:
            raise ConfigError(f"data.intensity: must be between 0 and 1, got {self.intensity!r}")


@dataclass(frozen=True)
class TemplateFirstConfig:
    """The first part of a two-part curriculum (docs/chest.md): fit on the engine's plain template
    (``VARIETY_OFF``, no intensity augmentation; the same number, size and seed of studies) before
    the config's own data, which then starts from those weights. From random weights on the
    variety directly the network never learns the horizontal course of a CVC
    (benchmarks/results/chest_blind_spot/README.md)."""

    epochs: int = 0  # 0 = no first part: the config's data from random weights
    lr: float = 3e-3
    max_minutes: float = 0.0  # wall-clock cap on this part; 0 = none

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ConfigError(f"template_first.epochs: must be 0 (off) or more, got {self.epochs}")
        if self.lr <= 0:
            raise ConfigError(f"template_first.lr: must be positive, got {self.lr}")


@dataclass(frozen=True)
class ClsTrainConfig:
    """A classification experiment: model, data and optimisation."""

    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    data: ClsDataConfig = field(default_factory=ClsDataConfig)
    epochs: int = 10
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seg_weight: float = 1.0  # auxiliary line-mask loss weight (seg_aided only)
    max_minutes: float = 0.0  # wall-clock cap on fitting; 0 = none
    seed: int = 0
    threads: int = 0  # torch threads; 0 = torch's default
    precision: str = field(default="32-true", metadata=choices("32-true", "bf16-mixed"))
    template_first: TemplateFirstConfig = field(default_factory=TemplateFirstConfig)


def template_part(cfg: ClsTrainConfig) -> ClsTrainConfig:
    """The config of ``cfg``'s first part (``TemplateFirstConfig``): synthetic studies of the same
    number, size and seed drawn from the template, no intensity augmentation, the part's epochs,
    rate and cap, and no first part of its own."""
    part = cfg.template_first
    data = replace(cfg.data, path="", synth=replace(cfg.data.synth, **VARIETY_OFF), intensity=0.0)
    return replace(cfg, data=data, epochs=part.epochs, lr=part.lr, max_minutes=part.max_minutes,
                   template_first=TemplateFirstConfig())


def load_cls_config(config_path: Path | str | None, **overrides: Any) -> ClsTrainConfig:
    """Load a YAML experiment (defaults when ``config_path`` is None); non-None ``overrides`` replace data fields."""
    try:
        cfg = load_yaml(ClsTrainConfig, config_path) if config_path else ClsTrainConfig()
    except ConfigError as exc:
        if str(exc).startswith("synth."):  # raised by ChestSynthConfig itself, which knows no file
            raise ConfigError(f"{config_path}: data.{exc}") from None
        if str(exc).startswith(("data.", "template_first.")):  # raised by the section's dataclass itself
            raise ConfigError(f"{config_path}: {exc}") from None
        raise
    data = {k: v for k, v in overrides.items() if v is not None}
    if data:
        cfg = from_dict(ClsTrainConfig, {**to_dict(cfg), "data": {**to_dict(cfg.data), **data}})
    return cfg


def check_fold(cfg: ClsTrainConfig) -> None:
    """ConfigError early if the fold index cannot exist."""
    if not 0 <= cfg.data.fold < cfg.data.folds:
        raise ConfigError(f"fold: must be between 0 and {cfg.data.folds - 1}, got {cfg.data.fold}")
