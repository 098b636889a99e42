"""Build the Lightning Trainer of a stage: devices and nodes (from torchrun's or SLURM's environment,
read by Lightning's cluster environments, else the config), DDP (gloo on CPU), precision, atomic
checkpoints (last + best + mid-epoch, written by global rank 0 only), CSV / TensorBoard loggers,
Lightning's progress bar, and a stage length fitted to a wall-clock budget."""

from __future__ import annotations

import io
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar, WeightAveraging
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from cathx.fileio import atomic_write_bytes
from cathx.system import training_precision
from cathx.training.config import TrainerConfig

LAST = "last"
BEST = "best"


class _LightningChatter(logging.Filter):
    """Drops Lightning's advertisement for its cloud logger, printed at every stage of every run;
    its device lines ("GPU available: ...") and warnings pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("\N{ELECTRIC LIGHT BULB} Tip:")


def quiet_lightning() -> None:
    """Keep a training log to what a user acts on (idempotent)."""
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _LightningChatter) for f in log.filters):
        log.addFilter(_LightningChatter())
    # Lightning's own pytree helper calls an API torch deprecated; nothing a cathx user can change.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary sibling, fsynced, then renamed: a kill never leaves a
    truncated checkpoint under the final name."""

    def __init__(self) -> None:
        super().__init__()
        self.saved = 0  # checkpoints this process wrote (DDP: only global rank 0 writes any)

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        self.saved += 1
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(path, buffer.getvalue())


def warmup_decay(decay: float, updates: int, warmup: float = 10.0) -> float:
    """The EMA decay after ``updates`` averaged steps: min(decay, (1 + n) / (warmup + n)), timm's
    warm-up. Early weights are far apart and an average of them is no network at all (a plain 0.99
    average still held 13 % of a stage's random detection head 200 steps in, and scored as an empty
    predictor), so the average follows the weights closely at first and settles to ``decay``."""
    return min(decay, (1.0 + updates) / (warmup + updates))


def warmup_ema_fn(decay: float):
    """torch AveragedModel ``avg_fn`` (averaged, current, num_averaged) -> new average with warmup_decay."""

    def average(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        d = warmup_decay(decay, int(num_averaged))
        return averaged * d + current * (1.0 - d)

    return average


class WeightEMA(WeightAveraging):
    """Lightning's weight averaging with an exponential moving average (``warmup_decay``) updated
    after every optimizer step: validation and every checkpoint's ``state_dict`` hold the average,
    the trained weights ride along for resuming. Unlike Lightning's callback, the average replaces
    the trained weights only when ``apply_average`` is called: Lightning copies it at the end of fit,
    and a checkpoint written after that (a run stopped by its time budget) would resume from the
    average instead of the trained weights."""

    def __init__(self, decay: float) -> None:
        super().__init__(use_buffers=True, avg_fn=warmup_ema_fn(decay))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass

    def average(self) -> L.LightningModule | None:
        """The running average (a copy of the trained module), None before fit has set it up."""
        return None if self._average_model is None else self._average_model.module

    def apply_average(self, pl_module: L.LightningModule) -> None:
        """Copy the averaged weights (and buffers: BatchNorm statistics) into ``pl_module``."""
        if self._average_model is not None:
            self._copy_average_to_current(pl_module)


def weight_ema(trainer: L.Trainer) -> WeightEMA | None:
    """The trainer's WeightEMA callback (trainer.ema_decay > 0), or None."""
    return next((c for c in trainer.callbacks if isinstance(c, WeightEMA)), None)


def averaged_module(trainer: L.Trainer, pl_module: L.LightningModule) -> L.LightningModule:
    """The module whose weights validation and the export use: the WeightEMA callback's running
    average (a copy of ``pl_module``) when the trainer has one, else ``pl_module`` itself."""
    ema = weight_ema(trainer)
    average = ema.average() if ema is not None else None
    return average if average is not None else pl_module


def apply_weight_average(trainer: L.Trainer, pl_module: L.LightningModule) -> None:
    """Give ``pl_module`` the averaged weights of the trainer's WeightEMA callback, if it has one."""
    ema = weight_ema(trainer)
    if ema is not None:
        ema.apply_average(pl_module)


def steps_within_budget(step: int, seconds_per_step: float, seconds_left: float, reserve: float = 0.02) -> int:
    """The stage length, in optimizer steps, that ends when ``seconds_left`` are spent: ``step``
    (done) plus what fits at ``seconds_per_step`` in all but ``reserve`` of the time left; at least
    one more step."""
    if seconds_per_step <= 0:
        raise ValueError(f"seconds_per_step must be positive, got {seconds_per_step}")
    more = math.floor(max(seconds_left, 0.0) * (1.0 - reserve) / seconds_per_step)
    return step + max(more, 1)


def to_epoch_end(total: int, step: int, steps_per_epoch: int) -> int:
    """``total`` rounded down to the end of an epoch, so that the stage's last weights are
    validated (and can be its best checkpoint); never before the end of the epoch ``step`` is in."""
    if steps_per_epoch <= 0:
        return total
    return max(total // steps_per_epoch, step // steps_per_epoch + 1) * steps_per_epoch


def cosine_lr(base_lr: float, min_lr: float, step: int, total_steps: int) -> float:
    """Cosine annealing's rate after ``step`` of ``total_steps`` (torch's CosineAnnealingLR)."""
    return min_lr + (base_lr - min_lr) * (1.0 + math.cos(math.pi * step / max(total_steps, 1))) / 2.0


# steps timed before the first re-plan: past the first steps' warm-up (allocations, oneDNN kernels)
CALIBRATION_STEPS = 20


class BudgetSchedule(Callback):
    """Fits the stage's length to a wall-clock budget (``trainer.fit_to_budget``, as Ultralytics'
    ``time``): after ``CALIBRATION_STEPS`` steps, then at every epoch start, it measures seconds per
    step since the stage began (training, validation and checkpoints, once an epoch has passed)
    and re-plans the stage to end when the budget is spent, moving the LR and Top-K schedules' end
    with it (the module's ``replan``). A faster machine trains longer; a slower one finishes its
    schedule instead of being cut in the middle of it.

    minutes: the stage's budget, counted from construction (just before fit)."""

    def __init__(self, minutes: float, reserve: float = 0.02) -> None:
        self.deadline = time.monotonic() + minutes * 60.0
        self.reserve = reserve
        self._mark: tuple[float, int] | None = None  # (time, step) at this fit's first step
        self._calibrated = False
        self._planned = 0  # the stage's length when this fit started

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a resumed stage keeps the length fitted before (restored with the module) until re-planned
        self._planned = int(pl_module.total_steps)
        self._set_limits(trainer, self._planned)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._mark is None:
            self._mark = (time.monotonic(), trainer.global_step)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self._calibrated and self._mark is not None and \
                trainer.global_step - self._mark[1] >= CALIBRATION_STEPS:
            self._calibrated = True
            self._replan(trainer, pl_module)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._mark is not None and trainer.global_step > self._mark[1]:
            self._replan(trainer, pl_module)

    def _replan(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        assert self._mark is not None
        now, step = time.monotonic(), trainer.global_step
        started, first_step = self._mark
        total = steps_within_budget(step, (now - started) / (step - first_step), self.deadline - now, self.reserve)
        per_epoch = trainer.num_training_batches
        if isinstance(per_epoch, int):  # inf for a dataset without a length
            total = to_epoch_end(total, step, per_epoch)
        total = int(trainer.strategy.broadcast(total, src=0))  # every rank plans the same length
        # the first plan is news (how long the stage will be); the epochs' corrections are not
        level = logging.INFO if pl_module.total_steps == self._planned else logging.DEBUG
        logging.getLogger(__name__).log(level, "trainer.fit_to_budget: %.3f s per step, the stage now ends at step "
                                        "%d (planned %d)", (now - started) / (step - first_step), total,
                                        self._planned)
        pl_module.replan(total)
        self._set_limits(trainer, total)

    @staticmethod
    def _set_limits(trainer: L.Trainer, total: int) -> None:
        trainer.fit_loop.max_epochs = -1  # the step count decides
        trainer.fit_loop.epoch_loop.max_steps = total


@dataclass(frozen=True)
class ClusterLayout:
    """Where this process sits: processes per node, nodes, its global rank, and who launched it
    ("torchrun", "slurm", or None when Lightning starts the processes itself from the config)."""

    devices: int
    num_nodes: int
    global_rank: int
    launcher: str | None

    @property
    def world_size(self) -> int:
        return self.devices * self.num_nodes


def cluster_layout(cfg: TrainerConfig | None = None) -> ClusterLayout:
    """The layout from the launcher's environment (Lightning's TorchElasticEnvironment for torchrun,
    SLURMEnvironment for srun), else ``cfg.devices`` x ``cfg.num_nodes``: the same command trains on
    one process, under `torchrun --nnodes N --nproc-per-node M` or under `srun` without a config change."""
    if TorchElasticEnvironment.detect():
        env = TorchElasticEnvironment()
        world = env.world_size()
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        return ClusterLayout(local, max(world // max(local, 1), 1), env.global_rank(), "torchrun")
    if SLURMEnvironment.detect():
        env = SLURMEnvironment()
        world = env.world_size()
        nodes = int(os.environ.get("SLURM_NNODES", "1"))
        return ClusterLayout(max(world // max(nodes, 1), 1), nodes, env.global_rank(), "slurm")
    devices = cfg.devices if cfg is not None else 1
    nodes = cfg.num_nodes if cfg is not None else 1
    return ClusterLayout(devices, nodes, int(os.environ.get("RANK", "0")), None)


def checkpoint_callbacks(directory: Path, every_n_steps: int, monitor_best: bool) -> list[ModelCheckpoint]:
    """last.ckpt after every epoch (and every n steps when n > 0); best.ckpt by val/score."""
    callbacks = [ModelCheckpoint(dirpath=directory, filename=LAST, every_n_epochs=1, save_top_k=1,
                                 enable_version_counter=False, save_on_train_epoch_end=True)]
    if every_n_steps > 0:
        callbacks.append(ModelCheckpoint(dirpath=directory, filename=LAST, every_n_train_steps=every_n_steps,
                                         save_top_k=1, enable_version_counter=False))
    if monitor_best:
        callbacks.append(ModelCheckpoint(dirpath=directory, filename=BEST, monitor="val/score", mode="max",
                                         save_top_k=1, enable_version_counter=False))
    return callbacks


def effective_precision(cfg: TrainerConfig) -> tuple[str, str | None]:
    """(precision the Trainer of ``cfg`` trains in, why it differs from ``cfg.precision`` or None):
    ``cathx.system.training_precision`` on the device ``cfg.accelerator`` resolves to."""
    on_cpu = cfg.accelerator == "cpu" or (cfg.accelerator == "auto" and not torch.cuda.is_available())
    return training_precision(cfg.precision, on_cpu)


_PRECISION_WARNINGS: set[str] = set()


def build_trainer(cfg: TrainerConfig, out: Path, stage_name: str, max_epochs: int, max_steps: int = -1,
                  max_minutes: float | None = None, validate: bool = True, find_unused: bool = False,
                  extra_callbacks: list[Callback] | None = None) -> L.Trainer:
    """The Trainer of one stage; checkpoints in ``out/stages/<stage>/checkpoints``, logs in ``out/logs``."""
    from lightning.pytorch.strategies import DDPStrategy

    stage_dir = Path(out) / "stages" / stage_name
    layout = cluster_layout(cfg)
    accelerator = cfg.accelerator
    precision, why = effective_precision(cfg)
    if why and why not in _PRECISION_WARNINGS:  # once per process, not once per training stage
        _PRECISION_WARNINGS.add(why)
        logging.getLogger(__name__).warning(why)
    strategy: Any = cfg.strategy
    if layout.world_size > 1 or layout.launcher or cfg.strategy in ("ddp", "ddp_spawn"):
        backend = "gloo" if accelerator == "cpu" or not torch.cuda.is_available() else "nccl"
        strategy = DDPStrategy(process_group_backend=backend, find_unused_parameters=find_unused,
                               start_method="spawn" if cfg.strategy == "ddp_spawn" else "popen")
    loggers: list[Any] = []
    if "csv" in cfg.loggers:
        loggers.append(CSVLogger(save_dir=str(out), name="logs", version=stage_name))
    if "tensorboard" in cfg.loggers:
        loggers.append(TensorBoardLogger(save_dir=str(out), name="tensorboard", version=stage_name))
    callbacks: list[Callback] = [*checkpoint_callbacks(stage_dir / "checkpoints", cfg.checkpoint_every_n_steps,
                                                       validate)]
    if cfg.ema_decay > 0:
        callbacks.append(WeightEMA(decay=cfg.ema_decay))
    if cfg.progress_bar:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, cfg.log_every_n_steps)))
    callbacks.extend(extra_callbacks or [])
    quiet_lightning()
    return L.Trainer(
        accelerator=accelerator,
        devices=layout.devices,
        num_nodes=layout.num_nodes,
        strategy=strategy,
        precision=precision,
        max_epochs=max_epochs,
        max_steps=max_steps,
        max_time=timedelta(minutes=max_minutes) if max_minutes else None,
        deterministic=cfg.deterministic,
        logger=loggers or False,
        callbacks=callbacks,
        log_every_n_steps=cfg.log_every_n_steps,
        check_val_every_n_epoch=cfg.val_every_n_epochs,
        limit_val_batches=None if validate else 0,  # None: all batches, without Lightning's notice
        num_sanity_val_steps=0,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        use_distributed_sampler=False,  # the datamodule shards by rank itself (exact resume)
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(stage_dir),
    )
