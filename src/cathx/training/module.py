"""LightningModule of CathMTL training: forward, per-sample losses, KPIs, prioritization, loss.

Lightning owns the loop, devices, precision, checkpoints and logging; this module only says what
one step is. The prioritization state (EMA values, KPI bank, step) is saved in every checkpoint
together with the RNG states, so a resumed run continues exactly.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from cathx.config import from_dict, to_dict
from cathx.training.config import LossConfig, OptimConfig, PrioritizationConfig, stage_prioritization
from cathx.training.weighting import Prioritizer, kpi_kinds

# loss component used by the loss-based KPI of each task (the ablation's CE / focal)
KPI_LOSS_COMPONENTS = {"segmentation": "bce", "detection": "focal"}


def batch_kpi_stats(outputs: dict[str, Tensor], batch: dict[str, Tensor], components: dict[str, Tensor],
                    tasks: tuple[str, ...], cfg: PrioritizationConfig) -> dict[str, Tensor]:
    """Per-sample KPI statistics (B, 2) [num, den] per task (cathx.metrics.kpi): kappa_{t,i} of a row
    and the KPI of a set of rows (Eq. 5) both follow from them. The loss-based ablation's rows are
    (CE or focal loss, 1). NaN rows where the sample has no label for the task."""
    from cathx.metrics.kpi import sample_kpi_stats

    kinds = kpi_kinds(cfg, tasks)
    wanted = {"mask"} if kinds.get("segmentation", "loss") != "loss" else set()
    wanted |= {"heatmap", "size"} if kinds.get("detection", "loss") != "loss" else set()
    measured = sample_kpi_stats({k: v for k, v in outputs.items() if k in wanted}, batch,
                                segmentation=cfg.segmentation_kpi if cfg.segmentation_kpi != "ce" else "iou",
                                detection=cfg.detection_kpi if cfg.detection_kpi != "focal" else "mae",
                                cap=cfg.error_cap_px, score_threshold=cfg.peak_threshold)
    stats = {}
    for task in tasks:
        if kinds[task] != "loss":
            stats[task] = measured[task].detach().float()
        else:
            loss = components[KPI_LOSS_COMPONENTS[task]].detach().float()
            stats[task] = torch.stack([loss, torch.ones_like(loss)], dim=1)
    return stats


def batch_kpis(outputs: dict[str, Tensor], batch: dict[str, Tensor], components: dict[str, Tensor],
               tasks: tuple[str, ...], cfg: PrioritizationConfig) -> dict[str, Tensor]:
    """Per-sample KPI kappa_{t,i} (B,) per task (Eq. 5): precision metrics from cathx.metrics
    (IoU / Dice, 1 / (1 + MAE or RMSE / tau)) or, for the loss-based ablation, exp(-CE) / exp(-focal).
    NaN where the sample has no label for the task."""
    return kpis_from_stats(batch_kpi_stats(outputs, batch, components, tasks, cfg), tasks, cfg)


def kpis_from_stats(stats: dict[str, Tensor], tasks: tuple[str, ...], cfg: PrioritizationConfig) -> dict[str, Tensor]:
    """Per-sample KPIs (B,) from batch_kpi_stats' rows (NaN rows stay NaN)."""
    from cathx.metrics.kpi import kpi_from_stats

    kinds = kpi_kinds(cfg, tasks)
    return {t: kpi_from_stats(stats[t], kinds[t], cfg.tau_px) for t in tasks}


def last_shared_parameter(model: nn.Module) -> Tensor | None:
    """Weight of the last convolution before the task heads (GradNorm's W)."""
    decoder = getattr(model, "decoder", model)
    convs = [m for m in decoder.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].weight if convs else None


def parameter_groups(named_parameters, fresh: frozenset[str] | set[str], lr: float,
                     fresh_lr_factor: float) -> list[dict[str, Any]]:
    """Optimizer parameter groups: every parameter at ``lr``, except those named in ``fresh``
    (started fresh by --init-matching), which get ``lr * fresh_lr_factor`` in a group of their own
    (none when the factor is 1 or nothing is fresh). An LR scheduler scales each group's own rate."""
    named = list(named_parameters)
    if fresh_lr_factor == 1.0 or not fresh:
        return [{"params": [p for _, p in named], "lr": lr}]
    groups = [{"params": [p for n, p in named if n not in fresh], "lr": lr},
              {"params": [p for n, p in named if n in fresh], "lr": lr * fresh_lr_factor}]
    return [g for g in groups if g["params"]]


class CathxModule(L.LightningModule):
    """Trains a CathMTL network on ``tasks`` with the configured prioritization.

    model_config: cathx.models.ModelConfig fields; prioritization, optim: their config dicts;
    tasks: the tasks trained in this stage (a subset of the model's); num_samples: training set
    size (KPI bank); total_steps: optimizer steps of the stage (Top-K schedule, LR schedule).
    """

    def __init__(self, model_config: dict[str, Any], prioritization: dict[str, Any], optim: dict[str, Any],
                 tasks: tuple[str, ...], num_samples: int, total_steps: int, channels_last: bool = False,
                 loss: dict[str, Any] | None = None) -> None:
        super().__init__()
        from cathx.losses import MultiTaskCriterion
        from cathx.models import ModelConfig, build_model

        self.save_hyperparameters()
        self.model_config = from_dict(ModelConfig, dict(model_config), where="model")
        unknown = [t for t in tasks if t not in self.model_config.tasks]
        if unknown:
            raise ValueError(f"stage trains {unknown} but the model has only {list(self.model_config.tasks)}")
        self.model = build_model(self.model_config)
        self.channels_last = channels_last
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        loss_cfg = from_dict(LossConfig, dict(loss or {}), where="loss")
        self.criterion = MultiTaskCriterion(size_weight=loss_cfg.size_weight, segmentation_loss=loss_cfg.segmentation,
                                            focal_normalisation=loss_cfg.focal_normalisation,
                                            min_sigma=loss_cfg.min_sigma)
        self.tasks = tuple(tasks)
        self.optim = from_dict(OptimConfig, dict(optim), where="optim")
        # prioritization.stages: multitask-only (the paper) trains single-task stages unweighted
        self.priority = stage_prioritization(from_dict(PrioritizationConfig, dict(prioritization),
                                                       where="prioritization"), self.tasks)
        self.prioritizer = Prioritizer(self.priority, self.tasks, num_samples, total_steps)
        self.total_steps = total_steps
        # parameter names that --init-matching left fresh; they train at optim.fresh_lr_factor x lr
        self.fresh_parameters: frozenset[str] = frozenset()
        self._val: dict[str, list[Tensor]] = {}

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        return self.model(self._layout(image))

    def _layout(self, image: Tensor) -> Tensor:
        return image.contiguous(memory_format=torch.channels_last) if self.channels_last else image

    # -- one step --------------------------------------------------------------------------------
    def _losses_and_kpis(self, batch: dict[str, Tensor]) -> tuple[dict, dict, dict, dict, dict]:
        outputs = self.model(self._layout(batch["image"]))
        parts = self.criterion.compute(outputs, batch)
        losses = {t: parts.losses[t] for t in self.tasks}
        available = {t: parts.available[t] for t in self.tasks}
        stats = batch_kpi_stats(outputs, batch, parts.components, self.tasks, self.priority)
        kpis = kpis_from_stats(stats, self.tasks, self.priority)
        return outputs, losses, kpis, available, stats

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        _, losses, kpis, available, stats = self._losses_and_kpis(batch)
        weights = self.prioritizer(losses, kpis, available, batch["index"],
                                   shared_parameter=last_shared_parameter(self.model), stats=stats)
        size = len(batch["image"])
        self.log("train/loss", weights.total.detach(), prog_bar=True, batch_size=size)
        self.log_dict({f"train/{k}": v for k, v in weights.log.items()}, batch_size=size)
        return weights.total

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        _, losses, kpis, available, _ = self._losses_and_kpis(batch)
        for task in self.tasks:
            avail = available[task].bool()
            self._val.setdefault(f"kpi/{task}", []).append(kpis[task][avail].detach().cpu())
            self._val.setdefault(f"loss/{task}", []).append(losses[task][avail].detach().cpu())

    def on_validation_epoch_end(self) -> None:
        """Per-sample means over the validation set; val/score = mean of the task KPIs (checkpoint key)."""
        means = {}
        for key, values in self._val.items():
            joined = torch.cat(values) if values else torch.zeros(0)
            means[key] = float(joined.mean()) if joined.numel() else 0.0
        self._val.clear()
        if not means:
            return
        logged = {f"val/{k}": v for k, v in means.items()}
        if "kpi/segmentation" in means:
            logged["val/mean_j" if self.priority.segmentation_kpi == "iou" else "val/kpi_seg"] = means["kpi/segmentation"]
        logged["val/score"] = float(np.mean([means[f"kpi/{t}"] for t in self.tasks]))
        # every rank saw the whole validation set, so the values agree without a reduction
        score = logged.pop("val/score")
        self.log_dict(logged, prog_bar=False, sync_dist=False)
        self.log("val/score", score, prog_bar=True)

    # -- optimisation ------------------------------------------------------------------------------
    def configure_optimizers(self):
        groups = parameter_groups(self.model.named_parameters(), self.fresh_parameters, self.optim.lr,
                                  self.optim.fresh_lr_factor)
        optimizer = torch.optim.AdamW(groups, lr=self.optim.lr, betas=tuple(self.optim.betas),
                                      weight_decay=self.optim.weight_decay)
        if self.optim.schedule == "constant":
            return optimizer
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(self.total_steps, 1))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- state -------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["prioritizer"] = self.prioritizer.state_dict()
        checkpoint["model_config"] = to_dict(self.model_config)
        kind, keys, position, has_gauss, gauss = np.random.get_state()
        # plain tensors and numbers only, so the checkpoint loads with torch.load(weights_only=True)
        checkpoint["rng"] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss),
                                       float(gauss)]}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "prioritizer" in checkpoint:
            self.prioritizer.load_state_dict(checkpoint["prioritizer"])
        rng = checkpoint.get("rng")
        if rng:
            torch.set_rng_state(rng["torch"])
            kind, keys, position, has_gauss, gauss = rng["numpy"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
            random.setstate(rng["python"])
