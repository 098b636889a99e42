"""Build the Lightning Trainer of a stage: devices and nodes (from torchrun's or SLURM's environment,
read by Lightning's cluster environments, else the config), DDP (gloo on CPU), precision, atomic
checkpoints (last + best + mid-epoch, written by global rank 0 only), CSV / TensorBoard loggers and
Lightning's progress bar."""

from __future__ import annotations

import csv
import io
import logging
import os
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, Timer, TQDMProgressBar, WeightAveraging
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
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


class BudgetTimer(Timer):
    """Lightning's time budget (``Trainer(max_time=...)`` builds the same Timer; a stage's training
    time, restored from the checkpoint on ``--resume``, so a run interrupted and resumed trains for
    its budget in all, as the benchmarks' equal-budget comparisons need), stopping mid-epoch with
    its checkpoint written at that step.

    Lightning's own stop wrote no checkpoint; the one cathx wrote after ``fit`` returned recorded
    the cut epoch as finished, so the resumed run skipped the rest of that epoch's batches and
    ended at ``max_epochs`` short of its steps. Its state key is Lightning's Timer's, so runs
    saved before this class resume with their time."""

    def __init__(self, *args, last: Path | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last = last
        self.saved_step: int | None = None

    @property
    def state_key(self) -> str:
        return "Timer"

    def on_train_batch_end(self, trainer: L.Trainer, *args, **kwargs) -> None:
        super().on_train_batch_end(trainer, *args, **kwargs)
        if trainer.should_stop and self.last is not None and self.time_remaining() <= 0:
            trainer.save_checkpoint(self.last, weights_only=False)
            self.saved_step = trainer.global_step


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


class _ContinuedMetricsWriter(ExperimentWriter):
    """Lightning's metrics.csv writer, except that an existing file (a stage resumed with `--resume`)
    is continued, not deleted: at the first save its rows from the first step being logged on are
    dropped (those steps are trained again), the rows before it are kept."""

    def _check_log_dir_exists(self) -> None:
        self._continue = self._fs.isfile(self.metrics_file_path)
        if self._continue:
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                self.metrics_keys = sorted(next(csv.reader(handle), []))

    def save(self) -> None:
        if getattr(self, "_continue", False) and self.metrics:
            self._continue = False
            first = min(int(row["step"]) for row in self.metrics)
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if _step(row) < first]
            with self._fs.open(self.metrics_file_path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)
        super().save()


def _step(row: dict[str, str]) -> int:
    try:
        return int(float(row.get("step") or 0))
    except ValueError:
        return 0


class ResumableCSVLogger(CSVLogger):
    """CSVLogger whose metrics.csv survives `--resume` (Lightning's deletes an existing one)."""

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuedMetricsWriter(log_dir=self.log_dir)
        return self._experiment


class MovableCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that keeps its best score when the run folder was moved (another machine,
    another path): Lightning's forgets it when the saved dirpath differs, and the first validation
    after the resume then replaces best.ckpt even with a worse score. Paths are re-rooted here."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("dirpath")
        if saved is not None and self.dirpath is not None and saved != self.dirpath:
            def moved(path: Any) -> Any:
                return os.path.join(self.dirpath, os.path.basename(path)) if path else path

            state_dict = {**state_dict, "dirpath": self.dirpath,
                          **{key: moved(state_dict.get(key)) for key in
                             ("best_model_path", "kth_best_model_path", "last_model_path")},
                          "best_k_models": {moved(k): v for k, v in (state_dict.get("best_k_models") or {}).items()}}
        super().load_state_dict(state_dict)

    def _should_skip_saving_checkpoint(self, trainer: L.Trainer) -> bool:
        # A budget stop wrote last.ckpt at its step (BudgetTimer); the end-of-epoch save that
        # follows would overwrite it with the cut epoch marked finished.
        if self.filename == LAST and any(isinstance(c, BudgetTimer) and c.saved_step == trainer.global_step
                                         for c in trainer.callbacks):
            return True
        return super()._should_skip_saving_checkpoint(trainer)


def checkpoint_callbacks(directory: Path, every_n_steps: int, monitor_best: bool,
                         every_minutes: float = 0.0) -> list[ModelCheckpoint]:
    """last.ckpt after every epoch, every n steps when n > 0 and every ``every_minutes`` of training
    when > 0 (Lightning checks the clock after each step); best.ckpt by val/score."""
    callbacks = [MovableCheckpoint(dirpath=directory, filename=LAST, every_n_epochs=1, save_top_k=1,
                                   enable_version_counter=False, save_on_train_epoch_end=True)]
    if every_n_steps > 0:
        callbacks.append(MovableCheckpoint(dirpath=directory, filename=LAST, every_n_train_steps=every_n_steps,
                                           save_top_k=1, enable_version_counter=False))
    if every_minutes > 0:
        callbacks.append(MovableCheckpoint(dirpath=directory, filename=LAST,
                                           train_time_interval=timedelta(minutes=every_minutes),
                                           save_top_k=1, enable_version_counter=False))
    if monitor_best:
        callbacks.append(MovableCheckpoint(dirpath=directory, filename=BEST, monitor="val/score", mode="max",
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
        loggers.append(ResumableCSVLogger(save_dir=str(out), name="logs", version=stage_name))
    if "tensorboard" in cfg.loggers:
        loggers.append(TensorBoardLogger(save_dir=str(out), name="tensorboard", version=stage_name))
    callbacks: list[Callback] = [*checkpoint_callbacks(stage_dir / "checkpoints", cfg.checkpoint_every_n_steps,
                                                       validate, cfg.checkpoint_every_minutes)]
    if cfg.ema_decay > 0:
        callbacks.append(WeightEMA(decay=cfg.ema_decay))
    if max_minutes:
        callbacks.append(BudgetTimer(duration=timedelta(minutes=max_minutes), interval="step",
                                     last=stage_dir / "checkpoints" / f"{LAST}.ckpt"))
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
