"""Training configuration: small frozen dataclasses loaded strictly from YAML.

``load_train_config(path)`` rejects unknown keys and values outside the declared choices with a
ConfigError naming the file, the key and the valid choices (see cathx.config).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cathx.config import choices, from_dict, read_yaml_mapping, to_dict
from cathx.errors import ConfigError

TASK_WEIGHTINGS = ("dtp-kpi", "constant", "gradnorm", "dtp", "self-paced")
SAMPLE_SELECTIONS = ("none", "soft", "hard", "fixed-30", "fixed-50", "fixed-70", "topk-soft", "topk-hard")
DETECTION_KPIS = ("mae", "rmse", "focal")
SEGMENTATION_KPIS = ("iou", "dice", "ce")
SEGMENTATION_LOSSES = ("bce-iou", "dice")  # kept in step with cathx.losses.SEGMENTATION_LOSSES (a test checks)
FOCAL_NORMALISATIONS = ("batch", "image")  # kept in step with cathx.losses.detection.FOCAL_NORMALISATIONS
NOISE_KINDS = ("white", "correlated", "quantum")  # kept in step with cathx.data.transforms.NOISE_KINDS (tested)
TASK_KPIS = ("set", "mean-of-samples")
PRIORITIZED_STAGES = ("multitask-only", "all")
TOPK_HARD_MODES = ("threshold", "filter-only")
TOPK_TIES = ("strict", "keep-all")

# Named presets of the choices where cathx's first implementation departed from the paper (issue 13,
# item 6). A preset fills in the keys a config does not set; keys set explicitly win. "legacy" is the
# behaviour before presets existed (runs and results recorded until then).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "prioritization": {"task_kpi": "set", "stages": "multitask-only", "topk_hard": "threshold",
                           "topk_ties": "strict"},
        "loss": {"focal_normalisation": "batch"},
    },
    "legacy": {
        "prioritization": {"task_kpi": "mean-of-samples", "stages": "all", "topk_hard": "filter-only",
                           "topk_ties": "keep-all"},
        "loss": {"focal_normalisation": "image"},
    },
}


@dataclass(frozen=True)
class PrioritizationConfig:
    """Multi-level dynamic resource prioritization (paper Eqs. 1-8) and its ablation alternatives.

    task_weighting: dtp-kpi = the paper (1 / EMA of the task KPI); constant = ``constant_weights``;
        gradnorm = Chen et al. 2018; dtp = Guo et al. 2018, -(1 - k)^gamma log k; self-paced = Kumar
        et al. 2010 (easiest samples first, pace growing to all samples; task weights 1).
    sample_selection: none; soft (weight = 1 - kappa_i); hard (1 - kappa_i > 0.5); fixed-30/50/70
        (hardest 30/50/70 % of the KPI bank); topk-soft / topk-hard (hardest K, K scheduled from
        ``topk_start`` to ``topk_end`` of the bank over the stage; topk-soft weights them by 1 - kappa_i).
    detection_kpi / segmentation_kpi: kappa_d = 1 / (1 + E / tau) with E the MAE or RMSE of electrode
        localisation (cathx.metrics.kpi); kappa_s = IoU or Dice; focal / ce = exp(-per-sample focal / BCE).
    preset: "paper" or "legacy" (PRESETS): fills in task_kpi, stages, topk_hard, topk_ties and
        loss.focal_normalisation where the config leaves them out (done by load_train_config /
        train_config_from_dict; `prioritization: paper` is shorthand for `prioritization: {preset: paper}`).
    task_kpi: set = the KPI of the batch as a set (Eq. 5: pooled IoU, MAE of all electrodes);
        mean-of-samples = the mean of the per-sample KPIs.
    stages: multitask-only = single-task stages (pretraining) train unweighted, every sample, task
        weight 1 (the paper prioritizes in the multi-task stage); all = every stage prioritizes.
    topk_hard: threshold = Top-K filter, then delta = [1 - kappa_i > eta] (Eq. 3's "threshold after
        top-k filtering"); filter-only = Top-K membership alone.
    topk_ties: strict = exactly K samples, ties at the K-th difficulty broken by a permutation drawn
        from the step number (deterministic, the same on every DDP rank, rotating over steps);
        keep-all = every sample tied with the K-th is kept.
    """

    preset: str = field(default="paper", metadata=choices(*PRESETS))
    task_kpi: str = field(default="set", metadata=choices(*TASK_KPIS))
    stages: str = field(default="multitask-only", metadata=choices(*PRIORITIZED_STAGES))
    topk_hard: str = field(default="threshold", metadata=choices(*TOPK_HARD_MODES))
    topk_ties: str = field(default="strict", metadata=choices(*TOPK_TIES))
    eta: float = 0.5  # hard-assignment threshold on the difficulty 1 - kappa_i (hard, and topk-hard with threshold)
    task_weighting: str = field(default="dtp-kpi", metadata=choices(*TASK_WEIGHTINGS))
    sample_selection: str = field(default="topk-hard", metadata=choices(*SAMPLE_SELECTIONS))
    detection_kpi: str = field(default="mae", metadata=choices(*DETECTION_KPIS))
    segmentation_kpi: str = field(default="iou", metadata=choices(*SEGMENTATION_KPIS))
    alpha: float = 0.1  # EMA discount of the task KPI (larger = more weight on recent iterations)
    sample_alpha: float = 0.5  # EMA discount of each sample's KPI in the bank (momentum update)
    topk_start: float = 1.0  # fraction of the bank kept at the first iteration
    topk_end: float = 0.7  # fraction kept at the last iteration (the paper retains about 70 %)
    kpi_floor: float = 0.05  # task KPIs are clamped here before 1/kappa (caps a weight at 20)
    tau_px: float = 2.0  # kappa_d = 1 / (1 + E / tau): 1 at zero error, 0.5 at tau pixels
    error_cap_px: float = 10.0  # a missed or spurious electrode counts as this error (and match radius)
    peak_threshold: float = 0.3  # heatmap probability for a predicted electrode in the KPI
    normalize: str = field(default="batch", metadata=choices("batch", "selected"))  # Eq. 1 divides by N
    constant_weights: dict[str, float] = field(default_factory=lambda: {"segmentation": 1.0, "detection": 1.0})
    dtp_gamma: float = 2.0
    gradnorm_alpha: float = 1.5
    gradnorm_lr: float = 0.025
    self_paced_start: float = 0.5  # fraction of easiest samples kept at the start, growing to 1


@dataclass(frozen=True)
class SyntheticDataConfig:
    """Synthetic set generated when no --data is given (cathx.data.synthetic.write_dataset)."""

    n: int = 200  # frames in total, split by the writer into train/val/test
    seed: int = 0
    sequences: int = 0
    frames: int = 8


@dataclass(frozen=True)
class DataConfig:
    size: int = 256  # training resolution (square)
    crop: int = 0  # train on random crop x crop patches holding catheter pixels (0 = whole frames)
    batch_size: int = 8
    num_workers: int = 0
    max_electrodes: int = 64
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"  # what `cathx demo` and the benchmark suites evaluate on
    scale: float = 0.15  # augmentation: scale jitter, rotation in degrees, horizontal flip
    rotate: float = 15.0
    flip: bool = True
    intensity: float = 0.8  # probability of each intensity/artefact augmentation group (0 = off)
    # kinds of noise that augmentation adds (cathx.data.transforms.NOISE_KINDS)
    noise: str = field(default="white", metadata=choices(*NOISE_KINDS))
    limit_train: int = 0  # use only the first N training samples (0 = all); for tiny runs
    limit_val: int = 0
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)


@dataclass(frozen=True)
class StageConfig:
    """One training stage: segmentation-only pretraining or multi-task training."""

    name: str = "multitask"
    tasks: str = field(default="multitask", metadata=choices("multitask", "segmentation", "detection"))
    epochs: int = 1
    max_steps: int = -1  # stop the stage after this many optimizer steps (-1 = epochs decide)
    sources: tuple[str, ...] = ()  # dataset paths; empty = the run's --data (or the synthetic set)
    lr: float | None = None  # this stage's (peak) learning rate; None: optim.lr (stage_lr)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4  # the learning rate of every stage that sets none of its own (stage_lr)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-4
    schedule: str = field(default="constant", metadata=choices("constant", "cosine"))
    # learning-rate factor for the parameters `--init-matching` left fresh (blocks the checkpoint
    # lacks) in the stage that starts from it: a block grown onto a trained network starts at zero
    # (timm's zero_init_last) and, fine-tuned at the trained weights' low rate, barely leaves it
    fresh_lr_factor: float = 1.0


@dataclass(frozen=True)
class TrainerConfig:
    accelerator: str = field(default="cpu", metadata=choices("cpu", "gpu", "auto"))
    devices: int = 1  # processes per node; under torchrun or srun their environment decides
    num_nodes: int = 1  # nodes; under torchrun or srun their environment decides
    strategy: str = field(default="auto", metadata=choices("auto", "ddp", "ddp_spawn"))
    precision: str = field(default="32-true", metadata=choices("32-true", "16-mixed", "bf16-mixed"))
    deterministic: bool = True
    log_every_n_steps: int = 10
    checkpoint_every_n_steps: int = 0  # mid-epoch checkpoints for exact resume (0 = end of epoch only)
    # last.ckpt at least this often by the wall clock as well (0 = off), so that a long run on a slow
    # CPU, where a step count means half an hour, never loses more than this when it is stopped
    checkpoint_every_minutes: float = 10.0
    val_every_n_epochs: int = 1
    loggers: tuple[str, ...] = field(default=("csv",), metadata=choices("csv", "tensorboard"))
    progress_bar: bool = True
    threads: int = 0  # torch threads per process (0 = leave torch's default)
    channels_last: bool = False  # NHWC memory format: measured 1.5-2x faster training steps on this CPU
    # Wall-clock budget of the training stages, checkpoint and stop when spent (0 = none); the
    # synthetic data generation before them is not counted; on --resume a stage's time so far counts
    # (resume with a larger --max-minutes, which replaces this, to train on after a budget stop).
    max_minutes: float = 0.0
    # exponential moving average of the weights (Lightning weight averaging, timm warm-up, per step):
    # validation, best.ckpt and the exported weights are the average; 0 = off. 0.998 settles to
    # about the last 500 steps once past the warm-up (before that the average is shorter)
    ema_decay: float = 0.0


@dataclass(frozen=True)
class LossConfig:
    """segmentation: "bce-iou" (the paper's Eq. 8) or "dice" (the catheter-segmentation seed's U-Net);
    size_weight: lambda of the L1 size term in the detection loss (1 in the paper);
    focal_normalisation: "batch" (CenterNet) or "image" (set by the prioritization preset unless given);
    min_sigma: floor of the electrode heatmap Gaussians' sigma, in heatmap cells (cathx.heatmap: at
    output stride 1 most electrodes get the floor, so it sets how far apart two rings must lie for
    their targets to keep a dip between them)."""

    segmentation: str = field(default="bce-iou", metadata=choices(*SEGMENTATION_LOSSES))
    size_weight: float = 1.0
    # focal heatmap loss divided by the batch's positives (CenterNet, the paper) or each image's own
    focal_normalisation: str = field(default="batch", metadata=choices(*FOCAL_NORMALISATIONS))
    min_sigma: float = 0.75  # equal to cathx.heatmap.DEFAULT_MIN_SIGMA (tested); this module imports no torch


@dataclass(frozen=True)
class TrainConfig:
    """A whole experiment: model, data, optimiser, prioritization, stages and trainer."""

    name: str = "cathx"
    seed: int = 0
    model: dict[str, Any] = field(default_factory=dict)  # cathx.models.ModelConfig fields
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    prioritization: PrioritizationConfig = field(default_factory=PrioritizationConfig)
    stages: tuple[StageConfig, ...] = (StageConfig(),)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def validate(cfg: TrainConfig, where: str = "config") -> TrainConfig:
    """Cross-field checks the dataclass types cannot express; returns ``cfg``."""
    p = cfg.prioritization
    for name in ("alpha", "sample_alpha", "topk_start", "topk_end", "self_paced_start"):
        value = getattr(p, name)
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"{where}.prioritization.{name}: must be in (0, 1], got {value}")
    if not 0.0 <= p.eta < 1.0:
        raise ConfigError(f"{where}.prioritization.eta: must be in [0, 1), got {p.eta}")
    unknown = sorted(set(p.constant_weights) - {"segmentation", "detection"})
    if unknown:
        raise ConfigError(
            f"{where}.prioritization.constant_weights: unknown task {unknown[0]!r}; choose from detection, segmentation"
        )
    if not cfg.stages:
        raise ConfigError(f"{where}.stages: at least one stage is needed")
    names = [stage.name for stage in cfg.stages]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.stages: stage names must be unique, got {names}")
    if cfg.data.size % 32:
        raise ConfigError(f"{where}.data.size: must be a multiple of 32, got {cfg.data.size}")
    if cfg.data.crop and (cfg.data.crop % 32 or not 0 < cfg.data.crop <= cfg.data.size):
        raise ConfigError(f"{where}.data.crop: must be 0 or a multiple of 32 up to data.size ({cfg.data.size}), "
                          f"got {cfg.data.crop}")
    if not 0.0 <= cfg.data.intensity <= 1.0:
        raise ConfigError(f"{where}.data.intensity: must be in [0, 1], got {cfg.data.intensity}")
    if not 0.0 <= cfg.trainer.ema_decay < 1.0:
        raise ConfigError(f"{where}.trainer.ema_decay: must be in [0, 1) (0 = no weight average), "
                          f"got {cfg.trainer.ema_decay}")
    _check_ranges(cfg, where)
    return cfg


# (section, key, smallest allowed value): counts and sizes a negative or zero value would turn into a
# traceback deep in torch, or into a run that trains nothing and still writes best.pt.
MINIMUMS = (
    ("data", "size", 32), ("data", "batch_size", 1), ("data", "num_workers", 0), ("data", "max_electrodes", 1),
    ("data", "limit_train", 0), ("data", "limit_val", 0), ("seed", None, 0),
    ("trainer", "devices", 1), ("trainer", "num_nodes", 1), ("trainer", "log_every_n_steps", 1), ("trainer", "checkpoint_every_n_steps", 0),
    ("trainer", "checkpoint_every_minutes", 0),
    ("trainer", "val_every_n_epochs", 1), ("trainer", "threads", 0), ("trainer", "max_minutes", 0),
)


def _check_ranges(cfg: TrainConfig, where: str) -> None:
    for section, key, low in MINIMUMS:
        value = getattr(cfg, section) if key is None else getattr(getattr(cfg, section), key)
        if value < low:
            name = section if key is None else f"{section}.{key}"
            raise ConfigError(f"{where}.{name}: must be at least {low}, got {value}")
    if not cfg.optim.lr > 0:
        raise ConfigError(f"{where}.optim.lr: must be positive, got {cfg.optim.lr}")
    if not cfg.loss.min_sigma > 0:
        raise ConfigError(f"{where}.loss.min_sigma: must be positive (heatmap cells), got {cfg.loss.min_sigma}")
    if not cfg.optim.fresh_lr_factor > 0:
        raise ConfigError(f"{where}.optim.fresh_lr_factor: must be positive, got {cfg.optim.fresh_lr_factor}")
    for stage in cfg.stages:
        if stage.epochs < 1:
            raise ConfigError(f"{where}.stages.{stage.name}.epochs: must be at least 1, got {stage.epochs}")
        if stage.max_steps == 0 or stage.max_steps < -1:
            raise ConfigError(f"{where}.stages.{stage.name}.max_steps: must be -1 (epochs decide) or at least 1, "
                              f"got {stage.max_steps}")
        if not stage_lr(cfg, stage) > 0:
            raise ConfigError(f"{where}.stages.{stage.name}.lr: must be positive, got {stage.lr}")


def stage_lr(cfg: TrainConfig, stage: StageConfig) -> float:
    """The learning rate ``stage`` trains at: its own ``lr``, else ``optim.lr``."""
    return cfg.optim.lr if stage.lr is None else stage.lr


def _check_model(cfg: TrainConfig, where: str) -> None:
    """Validate the model section against cathx.models.ModelConfig (strict keys and choices)."""
    from cathx.models import ModelConfig

    from_dict(ModelConfig, dict(cfg.model), where=f"{where}.model")


def apply_preset(data: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """``data`` (a TrainConfig mapping) with its prioritization preset's values filled in where the
    mapping leaves them out; `prioritization: NAME` is shorthand for `{preset: NAME}`. No preset
    named means "paper". Returns a new dict; ConfigError for an unknown preset lists the names."""
    if not isinstance(data, dict):
        return data
    section = data.get("prioritization", {})
    if isinstance(section, str):
        section = {"preset": section}
    if not isinstance(section, dict):
        return data  # from_dict reports the wrong type
    name = section.get("preset", "paper")
    if name not in PRESETS:
        raise ConfigError(f"{where}.prioritization.preset: invalid value {name!r}; choose from {', '.join(PRESETS)}")
    out = dict(data)
    out["prioritization"] = {**PRESETS[name]["prioritization"], **section, "preset": name}
    loss = data.get("loss", {})
    if isinstance(loss, dict):
        out["loss"] = {**PRESETS[name]["loss"], **loss}
    return out


def preset_config(name: str, **overrides: Any) -> PrioritizationConfig:
    """PrioritizationConfig of preset ``name`` (its loss part is not included) with ``overrides``."""
    data = apply_preset({"prioritization": {"preset": name, **overrides}}, where="preset")
    return from_dict(PrioritizationConfig, data["prioritization"], where="prioritization")


def stage_prioritization(p: PrioritizationConfig, tasks: tuple[str, ...]) -> PrioritizationConfig:
    """The prioritization a stage training ``tasks`` runs. With ``stages: multitask-only`` a
    single-task stage trains unweighted: task weight 1, every sample, loss averaged over the batch
    (KPIs are still tracked and logged); otherwise ``p`` itself."""
    if p.stages == "all" or len(tasks) > 1:
        return p
    return replace(p, task_weighting="constant", constant_weights={t: 1.0 for t in ("segmentation", "detection")},
                   sample_selection="none", normalize="batch")


def upgrade_saved_config(data: dict[str, Any]) -> dict[str, Any]:
    """A saved config.yaml as a current config would write it: keys added since it was written take
    their defaults (as the run used them), and one written before presets existed (no
    prioritization.preset) ran what is now the "legacy" preset, whose keys are filled in."""
    import yaml

    section = data.get("prioritization")
    upgraded = data
    if isinstance(section, dict) and "preset" not in section:
        upgraded = apply_preset({**data, "prioritization": {**section, "preset": "legacy"}})
    try:  # keys added since (eta, optim.fresh_lr_factor, ...) take their defaults, as the run used them
        full = to_dict(from_dict(TrainConfig, upgraded, where="saved config"))
    except ConfigError:
        return upgraded
    return yaml.safe_load(yaml.safe_dump(full, sort_keys=False))  # tuples -> lists, as in the saved file


def load_train_config(path: Path | str) -> TrainConfig:
    """Read a YAML experiment config strictly; ConfigError names the file and the problem."""
    data = read_yaml_mapping(path)
    if not data:
        raise ConfigError(f"{path}: config is empty; see configs/demo.yaml for the keys")
    try:
        return train_config_from_dict(data, where=str(path))
    except ConfigError as exc:
        # A dataclass's own checks (ModelConfig.__post_init__, ...) name the field, not the file.
        if str(exc).startswith(str(path)):
            raise
        raise ConfigError(f"{path}: {exc}") from None


def train_config_from_dict(data: dict[str, Any], where: str = "config") -> TrainConfig:
    """TrainConfig from a mapping (the YAML's content), its preset applied (apply_preset)."""
    cfg = from_dict(TrainConfig, apply_preset(data, where), where=where)
    _check_model(cfg, where)
    return validate(cfg, where)


def train_config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return to_dict(cfg)
