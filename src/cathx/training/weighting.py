"""Multi-level dynamic resource prioritization (CathMTL, Xi et al. 2025, Eqs. 1-8) and the
alternatives of the paper's ablation tables. Pure torch: nothing here knows of Lightning.

Notation follows the paper. For task t and sample i in a batch of N:

* kappa_{t,i} in [0, 1]: per-sample KPI (IoU / Dice for segmentation; 1 / (1 + MAE / tau) or
  1 / (1 + RMSE / tau) for electrode localisation, from cathx.metrics.sample_kpis; exp(-loss)
  for the loss-based ablation). NaN KPIs (unlabelled samples) are treated as unavailable.
* kappa_bar_t: exponential moving average of the batch's task KPI, kappa_bar = a * kappa + (1 - a) * kappa_bar,
  where the batch's KPI is that of the batch as a set (Eq. 5, ``task_kpi="set"``: pooled IoU, MAE over
  all electrodes of the batch) or the mean of the per-sample KPIs (``"mean-of-samples"``).
* bank: per-dataset-sample EMA of kappa_{t,i} (the "momentum update" of the paper's Fig. 3b),
  gathered across DDP ranks so every rank ranks the same samples.
* delta_{t,i}: availability of the label times the sample-level selection (Top-K hard by default:
  exactly K bank entries, ties broken by a step-seeded permutation, then the hard threshold eta).
* L_t = 1/N sum_i delta_{t,i} L_t(i)  (Eq. 1),  L_total = sum_t w_t L_t with w_t = 1 / kappa_bar_t (Eq. 6).

The maths are small pure functions (tested on hand-computed values); ``Prioritizer`` holds the
state (EMA values, KPI bank, step, GradNorm weights) with ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

# ----------------------------------------------------------------------------- KPI maths


def ema(previous: Tensor, value: Tensor, alpha: float) -> Tensor:
    """kappa_bar(tau) = alpha * kappa(tau) + (1 - alpha) * kappa_bar(tau - 1)."""
    return alpha * value + (1.0 - alpha) * previous



def kpi_from_loss(loss: Tensor) -> Tensor:
    """Loss-based KPI of the ablation (focal / CE): exp(-loss), 1 for a perfect prediction."""
    return torch.exp(-loss.clamp(min=0.0))





# ----------------------------------------------------------------------------- task weights


def task_weight_inverse_kpi(kappa_bar: Tensor, floor: float) -> Tensor:
    """The paper's task weight (Eq. 4/6): 1 / kappa_bar, with kappa_bar clamped to ``floor``."""
    return 1.0 / kappa_bar.clamp(min=floor, max=1.0)


def task_weight_dtp(kappa_bar: Tensor, gamma: float, floor: float) -> Tensor:
    """Dynamic task prioritization (Guo et al. 2018): -(1 - kappa)^gamma * log(kappa)."""
    kappa = kappa_bar.clamp(min=floor, max=1.0)
    return -((1.0 - kappa) ** gamma) * torch.log(kappa)


def gradnorm_step(
    weights: Tensor, grad_norms: Tensor, losses: Tensor, initial_losses: Tensor, alpha: float, lr: float
) -> Tensor:
    """One GradNorm update (Chen et al. 2018) of the task weights, renormalised to sum to T.

    grad_norms: ||d L_t / d W|| at the last shared layer W (so G_t = w_t * grad_norms_t);
    losses / initial_losses give the inverse training rates r_t. The target G_bar * r_t^alpha is
    held constant, as in the paper, so d|G_t - target_t| / d w_t = sign(G_t - target_t) * grad_norms_t.
    """
    g = weights * grad_norms
    ratio = losses / initial_losses.clamp(min=1e-12)
    rate = ratio / ratio.mean().clamp(min=1e-12)
    target = g.mean() * rate**alpha
    grad = torch.sign(g - target) * grad_norms
    updated = (weights - lr * grad).clamp(min=1e-3)
    return updated * len(weights) / updated.sum()


# ----------------------------------------------------------------------------- sample selection


def keep_fraction(step: int, total_steps: int, start: float, end: float) -> float:
    """K schedule: fraction of the bank kept, linear from ``start`` at step 0 to ``end`` at the last step."""
    if total_steps <= 1:
        return end
    progress = min(max(step / (total_steps - 1), 0.0), 1.0)
    return start + (end - start) * progress


def topk_threshold(bank_difficulty: Tensor, seen: Tensor, fraction: float) -> Tensor:
    """Smallest difficulty still inside Top^K of the seen bank entries, K = ceil(fraction * seen).

    Samples whose difficulty is >= this value are selected; with nothing seen every sample is.
    """
    values = bank_difficulty[seen]
    if values.numel() == 0:
        return torch.tensor(float("-inf"))
    k = max(1, math.ceil(fraction * values.numel() - 1e-9))
    return values.topk(min(k, values.numel())).values[-1]


def tie_order(num_samples: int, step: int) -> Tensor:
    """Rank (num_samples,) of every bank entry among equals: a permutation drawn from ``step``, so
    ties are broken the same way on every DDP rank and after a resume, and differently each step."""
    generator = torch.Generator().manual_seed(int(step))
    order = torch.empty(num_samples, dtype=torch.long)
    order[torch.randperm(num_samples, generator=generator)] = torch.arange(num_samples)
    return order


def topk_members(bank_difficulty: Tensor, seen: Tensor, fraction: float, order: Tensor) -> Tensor:
    """Strict Top^K of the seen bank entries: exactly K = ceil(fraction * seen) of them, the hardest,
    ties at the K-th difficulty broken by ``order`` (lower first). Bool (num_samples,); with nothing
    seen every entry is a member."""
    candidates = seen.nonzero().flatten()
    if candidates.numel() == 0:
        return torch.ones_like(seen, dtype=torch.bool)
    k = min(max(1, math.ceil(fraction * candidates.numel() - 1e-9)), candidates.numel())
    by_order = candidates[torch.argsort(order[candidates], stable=True)]
    by_difficulty = by_order[torch.argsort(bank_difficulty[by_order], descending=True, stable=True)]
    members = torch.zeros_like(seen, dtype=torch.bool)
    members[by_difficulty[:k]] = True
    return members


def select_samples(
    mode: str, difficulty: Tensor, bank_difficulty: Tensor, seen: Tensor, fraction: float,
    indices: Tensor | None = None, order: Tensor | None = None, eta: float | None = None,
    hard_threshold: float = 0.5,
) -> Tensor:
    """Sample-level weights delta_i (B,) from per-sample difficulty 1 - kappa_i in [0, 1].

    none: 1; soft: 1 - kappa_i; hard: [1 - kappa_i > hard_threshold]; fixed-*, topk-hard:
    [i in Top^K], and with ``eta`` also [1 - kappa_i > eta] (Eq. 3: the hard threshold after Top-K);
    topk-soft: [i in Top^K] * (1 - kappa_i). ``fraction`` is K / bank size for Top-K modes.
    Top^K: with ``indices`` (B,) dataset indices and ``order`` (tie_order) exactly K bank entries
    (topk_members; a batch sample not in the bank is compared with the K-th difficulty); without,
    every sample at least as hard as the K-th is kept, ties included.
    """
    ones = torch.ones_like(difficulty)
    if mode == "none":
        return ones
    if mode == "soft":
        return difficulty.clone()
    if mode == "hard":
        return (difficulty > hard_threshold).float()
    if mode.startswith("fixed-") or mode.startswith("topk-"):
        threshold = topk_threshold(bank_difficulty, seen, fraction)
        inside = difficulty >= threshold
        if indices is not None and order is not None:
            members = topk_members(bank_difficulty, seen, fraction, order)
            idx = indices.long().cpu()
            inside = torch.where(seen[idx], members[idx], inside)
        inside = inside.float()
        if mode == "topk-soft":
            return inside * difficulty
        if mode == "topk-hard" and eta is not None:
            return inside * (difficulty > eta).float()
        return inside
    raise ValueError(f"unknown sample selection {mode!r}")


def self_paced_mask(losses: Tensor, available: Tensor, fraction: float) -> Tensor:
    """Self-paced learning: keep the easiest ``fraction`` of available samples (lowest loss)."""
    mask = torch.zeros_like(losses)
    count = int(available.sum())
    if count == 0:
        return mask
    keep = max(1, math.ceil(fraction * count - 1e-9))
    values = losses.detach()[available]
    threshold = values.kthvalue(min(keep, count)).values
    return ((losses.detach() <= threshold) & available).float()


def masked_task_loss(losses: Tensor, delta: Tensor, normalize: str = "batch") -> Tensor:
    """Eq. 1: L_t = 1/N sum_i delta_i L_t(i); "selected" divides by sum(delta) instead of N.

    Unavailable samples must carry delta = 0; their (possibly NaN) losses are dropped, not multiplied.
    """
    safe = torch.where(delta > 0, losses, torch.zeros_like(losses))
    total = (delta * safe).sum()
    if normalize == "selected":
        return total / delta.sum().clamp(min=1e-12)
    return total / max(len(losses), 1)


# ----------------------------------------------------------------------------- distributed


def gather(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` (first dimension may differ per rank) from all DDP ranks, in rank order.

    Without an initialised process group returns the tensor itself.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    world = dist.get_world_size()
    size = torch.tensor([tensor.shape[0]], dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype)
    padded[: tensor.shape[0]] = tensor
    parts = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(s.item())] for part, s in zip(parts, sizes, strict=True)])


def _mean_across_ranks(tensor: Tensor) -> Tensor:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    out = tensor.clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


# ----------------------------------------------------------------------------- the stateful part


@dataclass
class Weights:
    """Result of one prioritization step.

    total: scalar loss to back-propagate; task: weight per task (scalar tensors, detached);
    sample: delta per task (B,) (availability times selection); task_loss: L_t of Eq. 1;
    log: scalars for the logger.
    """

    total: Tensor
    task: dict[str, Tensor]
    sample: dict[str, Tensor]
    task_loss: dict[str, Tensor]
    log: dict[str, float] = field(default_factory=dict)


class Prioritizer:
    """Holds the prioritization state and turns per-sample losses and KPIs into the total loss.

    tasks: task names (e.g. ("segmentation", "detection")); num_samples: size of the training set
    (the KPI bank is indexed by the dataset index); total_steps: the stage's optimizer steps, the
    length of the K schedule. Every rank of a DDP run holds identical state: batch KPIs are
    gathered before the EMA and the bank are updated.
    """

    def __init__(
        self,
        tasks: tuple[str, ...],
        num_samples: int,
        task_weighting: str = "dtp-kpi",
        sample_selection: str = "topk-hard",
        alpha: float = 0.1,
        sample_alpha: float = 0.5,
        topk_start: float = 1.0,
        topk_end: float = 0.7,
        kpi_floor: float = 0.05,
        normalize: str = "batch",
        constant_weights: Mapping[str, float] | None = None,
        dtp_gamma: float = 2.0,
        gradnorm_alpha: float = 1.5,
        gradnorm_lr: float = 0.025,
        self_paced_start: float = 0.5,
        total_steps: int = 1,
        task_kpi: str = "mean-of-samples",
        kpi_kinds: Mapping[str, str] | None = None,
        tau: float = 2.0,
        topk_hard: str = "filter-only",
        topk_ties: str = "keep-all",
        eta: float = 0.5,
    ) -> None:
        self.tasks = tuple(tasks)
        self.num_samples = int(num_samples)
        self.task_weighting = task_weighting
        self.sample_selection = sample_selection
        self.alpha = alpha
        self.sample_alpha = sample_alpha
        self.topk_start = topk_start
        self.topk_end = topk_end
        self.kpi_floor = kpi_floor
        self.normalize = normalize
        self.constant_weights = {t: float((constant_weights or {}).get(t, 1.0)) for t in self.tasks}
        self.dtp_gamma = dtp_gamma
        self.gradnorm_alpha = gradnorm_alpha
        self.gradnorm_lr = gradnorm_lr
        self.self_paced_start = self_paced_start
        self.total_steps = max(int(total_steps), 1)
        if task_kpi not in ("set", "mean-of-samples"):
            raise ValueError(f"unknown task KPI {task_kpi!r}; choose from set, mean-of-samples")
        if topk_hard not in ("threshold", "filter-only"):
            raise ValueError(f"unknown topk_hard {topk_hard!r}; choose from threshold, filter-only")
        if topk_ties not in ("strict", "keep-all"):
            raise ValueError(f"unknown topk_ties {topk_ties!r}; choose from strict, keep-all")
        self.task_kpi = task_kpi
        self.kpi_kinds = dict(kpi_kinds or {})
        if task_kpi == "set" and set(self.tasks) - set(self.kpi_kinds):
            raise ValueError(f"task_kpi 'set' needs kpi_kinds for every task {list(self.tasks)}")
        self.tau = tau
        self.topk_hard = topk_hard
        self.topk_ties = topk_ties
        self.eta = eta
        # state
        self.step = 0
        self.kappa_bar = {t: torch.tensor(1.0) for t in self.tasks}
        self.kappa_seen = {t: torch.tensor(False) for t in self.tasks}
        self.bank = {t: torch.ones(self.num_samples) for t in self.tasks}
        self.bank_seen = {t: torch.zeros(self.num_samples, dtype=torch.bool) for t in self.tasks}
        self.gradnorm_weights = torch.ones(len(self.tasks))
        self.gradnorm_initial = torch.zeros(len(self.tasks))
        self.gradnorm_ready = torch.tensor(False)

    # -- schedule -----------------------------------------------------------------------------
    def keep_fraction(self) -> float:
        """Fraction of the bank kept by the sample selection at the current step."""
        if self.sample_selection.startswith("fixed-"):
            return int(self.sample_selection.split("-")[1]) / 100.0
        return keep_fraction(self.step, self.total_steps, self.topk_start, self.topk_end)

    # -- update -------------------------------------------------------------------------------
    def observe(self, kpis: Mapping[str, Tensor], available: Mapping[str, Tensor], indices: Tensor,
                stats: Mapping[str, Tensor] | None = None) -> None:
        """Fold a batch's per-sample KPIs (gathered across ranks) into the task EMA and the bank.

        The task KPI of the batch is the KPI of the set of its available samples (task_kpi "set",
        pooled from ``stats``, (B, 2) rows of cathx.metrics.kpi) or the mean of their KPIs."""
        all_indices = gather(indices.detach().long().cpu())
        for task in self.tasks:
            kappa = gather(kpis[task].detach().float().cpu())
            avail = gather(available[task].detach().bool().cpu())
            if not bool(avail.any()):
                continue
            batch_kpi = self._task_kpi(task, kappa, avail, stats)
            if bool(self.kappa_seen[task]):
                self.kappa_bar[task] = ema(self.kappa_bar[task], batch_kpi, self.alpha)
            else:
                self.kappa_bar[task] = batch_kpi
                self.kappa_seen[task] = torch.tensor(True)
            idx = all_indices[avail]
            seen = self.bank_seen[task][idx]
            updated = torch.where(seen, ema(self.bank[task][idx], kappa[avail], self.sample_alpha), kappa[avail])
            self.bank[task][idx] = updated
            self.bank_seen[task][idx] = True

    def _task_kpi(self, task: str, kappa: Tensor, avail: Tensor, stats: Mapping[str, Tensor] | None) -> Tensor:
        if self.task_kpi == "mean-of-samples":
            return kappa[avail].mean()
        if stats is None or task not in stats:
            raise ValueError("task_kpi 'set' needs the per-sample KPI statistics (stats=...)")
        from cathx.metrics.kpi import pooled_kpi

        rows = gather(torch.nan_to_num(stats[task].detach().float().cpu(), nan=0.0))
        return pooled_kpi(rows[avail], self.kpi_kinds[task], self.tau)

    def task_weights(self, task_losses: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Current weight per task under the configured strategy (detached scalars)."""
        if self.task_weighting == "dtp-kpi":
            return {t: task_weight_inverse_kpi(self.kappa_bar[t], self.kpi_floor) for t in self.tasks}
        if self.task_weighting == "dtp":
            return {t: task_weight_dtp(self.kappa_bar[t], self.dtp_gamma, self.kpi_floor) for t in self.tasks}
        if self.task_weighting == "constant":
            return {t: torch.tensor(self.constant_weights[t]) for t in self.tasks}
        if self.task_weighting == "gradnorm":
            return {t: self.gradnorm_weights[i].clone() for i, t in enumerate(self.tasks)}
        if self.task_weighting == "self-paced":
            return {t: torch.tensor(1.0) for t in self.tasks}
        raise ValueError(f"unknown task weighting {self.task_weighting!r}")

    def sample_weights(
        self, losses: Mapping[str, Tensor], kpis: Mapping[str, Tensor], available: Mapping[str, Tensor],
        indices: Tensor,
    ) -> dict[str, Tensor]:
        """delta_{t,i}: availability times the sample-level selection, per task (B,)."""
        out = {}
        fraction = self.keep_fraction()
        for task in self.tasks:
            avail = available[task].bool()
            if self.task_weighting == "self-paced":
                start = self.self_paced_start
                pace = keep_fraction(self.step, self.total_steps, start, 1.0)
                out[task] = self_paced_mask(losses[task], avail, pace)
                continue
            idx = indices.long().cpu()
            # the bank already holds this batch (observe ran first); fall back to the raw KPI
            kappa = torch.where(self.bank_seen[task][idx], self.bank[task][idx], kpis[task].detach().float().cpu())
            difficulty = (1.0 - kappa).clamp(0.0, 1.0)
            bank_difficulty = 1.0 - self.bank[task]
            strict = self.topk_ties == "strict"
            delta = select_samples(
                self.sample_selection, difficulty, bank_difficulty, self.bank_seen[task], fraction,
                indices=idx if strict else None, order=tie_order(self.num_samples, self.step) if strict else None,
                eta=self.eta if self.topk_hard == "threshold" else None, hard_threshold=self.eta,
            )
            out[task] = (delta * avail.cpu().float()).to(losses[task].device)
        return out

    def _update_gradnorm(self, task_loss: dict[str, Tensor], shared_parameter: Tensor | None) -> None:
        if shared_parameter is None:
            raise ValueError("gradnorm needs the last shared parameter of the model")
        values = torch.stack([task_loss[t].detach().float().cpu() for t in self.tasks])
        if not bool(self.gradnorm_ready):
            self.gradnorm_initial = _mean_across_ranks(values)
            self.gradnorm_ready = torch.tensor(True)
        norms = []
        for task in self.tasks:
            loss = task_loss[task]
            if not loss.requires_grad:
                norms.append(torch.tensor(0.0))
                continue
            (grad,) = torch.autograd.grad(loss, shared_parameter, retain_graph=True, allow_unused=True)
            norms.append(torch.tensor(0.0) if grad is None else grad.detach().float().norm().cpu())
        updated = gradnorm_step(
            self.gradnorm_weights, torch.stack(norms), values, self.gradnorm_initial,
            self.gradnorm_alpha, self.gradnorm_lr,
        )
        self.gradnorm_weights = _mean_across_ranks(updated)

    def __call__(
        self,
        losses: Mapping[str, Tensor],
        kpis: Mapping[str, Tensor],
        available: Mapping[str, Tensor],
        indices: Tensor,
        shared_parameter: Tensor | None = None,
        train: bool = True,
        stats: Mapping[str, Tensor] | None = None,
    ) -> Weights:
        """One iteration: update the state from this batch, then weight samples and tasks.

        losses, kpis, available: per task, (B,) per-sample loss (with graph), KPI in [0, 1] and
        label availability. indices: (B,) dataset indices. stats: per task (B, 2) KPI statistics
        (cathx.metrics.kpi), needed by task_kpi "set". With train=False the state is left alone.
        """
        # a NaN KPI (no label, or nothing to measure) makes the sample unavailable for that task
        available = {t: available[t].bool() & ~torch.isnan(kpis[t].detach()).to(available[t].device)
                     for t in self.tasks}
        kpis = {t: torch.nan_to_num(kpis[t].detach().float(), nan=0.0) for t in self.tasks}
        if train:
            self.observe(kpis, available, indices, stats)
        sample = self.sample_weights(losses, kpis, available, indices)
        task_loss = {t: masked_task_loss(losses[t], sample[t], self.normalize) for t in self.tasks}
        if train and self.task_weighting == "gradnorm":
            self._update_gradnorm(task_loss, shared_parameter)
        task = self.task_weights(task_loss)
        total = sum(task[t].to(task_loss[t].device) * task_loss[t] for t in self.tasks)
        log = {"keep_fraction": self.keep_fraction()}
        for t in self.tasks:
            log[f"kappa_bar/{t}"] = float(self.kappa_bar[t])
            log[f"weight/{t}"] = float(task[t])
            log[f"selected/{t}"] = float((sample[t] > 0).float().mean()) if len(sample[t]) else 0.0
            log[f"loss/{t}"] = float(task_loss[t].detach())
        if train:
            self.step += 1
        return Weights(total=total, task=task, sample=sample, task_loss=task_loss, log=log)

    # -- persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "total_steps": self.total_steps,
            "tasks": list(self.tasks),
            "kappa_bar": {t: v.clone() for t, v in self.kappa_bar.items()},
            "kappa_seen": {t: v.clone() for t, v in self.kappa_seen.items()},
            "bank": {t: v.clone() for t, v in self.bank.items()},
            "bank_seen": {t: v.clone() for t, v in self.bank_seen.items()},
            "gradnorm_weights": self.gradnorm_weights.clone(),
            "gradnorm_initial": self.gradnorm_initial.clone(),
            "gradnorm_ready": self.gradnorm_ready.clone(),
        }

    def load_state_dict(self, state: Mapping) -> None:
        if tuple(state["tasks"]) != self.tasks:
            raise ValueError(f"prioritizer state is for tasks {state['tasks']}, not {list(self.tasks)}")
        if any(len(v) != self.num_samples for v in state["bank"].values()):
            raise ValueError("prioritizer state was saved for a training set of another size")
        self.step = int(state["step"])
        self.total_steps = int(state["total_steps"])
        self.kappa_bar = {t: v.clone() for t, v in state["kappa_bar"].items()}
        self.kappa_seen = {t: v.clone() for t, v in state["kappa_seen"].items()}
        self.bank = {t: v.clone() for t, v in state["bank"].items()}
        self.bank_seen = {t: v.clone() for t, v in state["bank_seen"].items()}
        self.gradnorm_weights = state["gradnorm_weights"].clone()
        self.gradnorm_initial = state["gradnorm_initial"].clone()
        self.gradnorm_ready = state["gradnorm_ready"].clone()


def kpi_kinds(cfg, tasks: tuple[str, ...]) -> dict[str, str]:
    """KPI kind per task (cathx.metrics.kpi.KPI_KINDS) of a ``PrioritizationConfig``: iou / dice /
    mae / rmse, or "loss" for the loss-based ablation (segmentation_kpi ce, detection_kpi focal)."""
    kinds = {"segmentation": "loss" if cfg.segmentation_kpi == "ce" else cfg.segmentation_kpi,
             "detection": "loss" if cfg.detection_kpi == "focal" else cfg.detection_kpi}
    return {t: kinds[t] for t in tasks}


def build_prioritizer(cfg, tasks: tuple[str, ...], num_samples: int, total_steps: int = 1) -> Prioritizer:
    """Prioritizer from a ``PrioritizationConfig`` (cathx.training.config); the config's defaults
    are the paper's (the constructor's defaults keep the legacy behaviour for direct callers)."""
    return Prioritizer(
        tasks=tasks,
        num_samples=num_samples,
        task_weighting=cfg.task_weighting,
        sample_selection=cfg.sample_selection,
        alpha=cfg.alpha,
        sample_alpha=cfg.sample_alpha,
        topk_start=cfg.topk_start,
        topk_end=cfg.topk_end,
        kpi_floor=cfg.kpi_floor,
        normalize=cfg.normalize,
        constant_weights=cfg.constant_weights,
        dtp_gamma=cfg.dtp_gamma,
        gradnorm_alpha=cfg.gradnorm_alpha,
        gradnorm_lr=cfg.gradnorm_lr,
        self_paced_start=cfg.self_paced_start,
        total_steps=total_steps,
        task_kpi=cfg.task_kpi,
        kpi_kinds=kpi_kinds(cfg, tasks),
        tau=cfg.tau_px,
        topk_hard=cfg.topk_hard,
        topk_ties=cfg.topk_ties,
        eta=cfg.eta,
    )
