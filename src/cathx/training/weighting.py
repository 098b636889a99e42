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
Length (about 550 lines): one module per paper section keeps every equation and its ablation
alternatives side by side; most of it is small pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import Tensor

from cathx.errors import ConfigError
from cathx.training.config import PrioritizationConfig

T = TypeVar("T")

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


def in_top_k(difficulty: Tensor, bank_difficulty: Tensor, seen: Tensor, fraction: float,
             indices: Tensor | None = None, order: Tensor | None = None) -> Tensor:
    """Bool (B,): is each batch sample inside Top^K of the bank (K = ceil(fraction * seen))?

    With ``indices`` (B,) dataset indices and ``order`` (tie_order) exactly K bank entries are
    members (topk_members; a batch sample not in the bank is compared with the K-th difficulty);
    without, every sample at least as hard as the K-th is inside, ties included.
    """
    inside = difficulty >= topk_threshold(bank_difficulty, seen, fraction)
    if indices is not None and order is not None:
        members = topk_members(bank_difficulty, seen, fraction, order)
        idx = indices.long().cpu()
        inside = torch.where(seen[idx], members[idx], inside)
    return inside


# A sample selection turns the difficulties 1 - kappa_i (B,) into delta_i (B,). It is called as
# select(difficulty, top_k, eta, hard_threshold): top_k() gives the bool Top^K membership (B,)
# (computed only by the selections that rank), eta the hard threshold applied after Top-K (None = none).
TopK = Callable[[], Tensor]
SampleSelection = Callable[[Tensor, TopK, "float | None", float], Tensor]


def _select_every(difficulty: Tensor, top_k: TopK, eta: float | None, hard: float) -> Tensor:
    return torch.ones_like(difficulty)


def _select_soft(difficulty: Tensor, top_k: TopK, eta: float | None, hard: float) -> Tensor:
    return difficulty.clone()


def _select_hard(difficulty: Tensor, top_k: TopK, eta: float | None, hard: float) -> Tensor:
    return (difficulty > hard).float()


def _select_top_k(difficulty: Tensor, top_k: TopK, eta: float | None, hard: float) -> Tensor:
    return top_k().float()


def _select_top_k_hard(difficulty: Tensor, top_k: TopK, eta: float | None, hard: float) -> Tensor:
    inside = top_k().float()
    return inside if eta is None else inside * (difficulty > eta).float()


def _select_top_k_soft(difficulty: Tensor, top_k: TopK, eta: float | None, hard: float) -> Tensor:
    return top_k().float() * difficulty


# name -> selection (PrioritizationConfig.sample_selection; a test keeps the two in step)
SAMPLE_SELECTIONS: dict[str, SampleSelection] = {
    "none": _select_every,
    "soft": _select_soft,
    "hard": _select_hard,
    "fixed-30": _select_top_k,
    "fixed-50": _select_top_k,
    "fixed-70": _select_top_k,
    "topk-soft": _select_top_k_soft,
    "topk-hard": _select_top_k_hard,
}
# selections keeping a fixed share of the bank instead of the K schedule
FIXED_FRACTIONS = {"fixed-30": 0.3, "fixed-50": 0.5, "fixed-70": 0.7}


def lookup(registry: Mapping[str, T], kind: str, name: str) -> T:
    """``registry[name]``; on a miss a ConfigError ``unknown KIND 'name'; choose from ...``."""
    try:
        return registry[name]
    except KeyError:
        raise ConfigError(f"unknown {kind} {name!r}; choose from {', '.join(registry)}") from None


def select_samples(
    mode: str, difficulty: Tensor, bank_difficulty: Tensor, seen: Tensor, fraction: float,
    indices: Tensor | None = None, order: Tensor | None = None, eta: float | None = None,
    hard_threshold: float = 0.5,
) -> Tensor:
    """Sample-level weights delta_i (B,) from per-sample difficulty 1 - kappa_i in [0, 1].

    none: 1; soft: 1 - kappa_i; hard: [1 - kappa_i > hard_threshold]; fixed-*, topk-hard:
    [i in Top^K], and with ``eta`` also [1 - kappa_i > eta] for topk-hard (Eq. 3: the hard
    threshold after Top-K); topk-soft: [i in Top^K] * (1 - kappa_i). ``fraction`` is K / bank size
    for Top-K modes; ``indices`` and ``order`` make Top^K strict (in_top_k).
    """
    select = lookup(SAMPLE_SELECTIONS, "sample selection", mode)
    return select(difficulty, lambda: in_top_k(difficulty, bank_difficulty, seen, fraction, indices, order),
                  eta, hard_threshold)


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


@dataclass(frozen=True)
class TaskWeighting:
    """A task-weighting strategy. weights(prioritizer): the current weight per task (detached
    scalars); learned: updated from the task losses' gradients at every training step (GradNorm);
    paced: picks each batch's samples itself, by loss, in place of the sample selection
    (self-paced learning)."""

    weights: Callable[[Prioritizer], dict[str, Tensor]]
    learned: bool = False
    paced: bool = False


def _inverse_kpi_weights(p: Prioritizer) -> dict[str, Tensor]:
    return {t: task_weight_inverse_kpi(p.kappa_bar[t], p.cfg.kpi_floor) for t in p.tasks}


def _dtp_weights(p: Prioritizer) -> dict[str, Tensor]:
    return {t: task_weight_dtp(p.kappa_bar[t], p.cfg.dtp_gamma, p.cfg.kpi_floor) for t in p.tasks}


def _constant_weights(p: Prioritizer) -> dict[str, Tensor]:
    return {t: torch.tensor(float(p.cfg.constant_weights.get(t, 1.0))) for t in p.tasks}


def _gradnorm_weights(p: Prioritizer) -> dict[str, Tensor]:
    return {t: p.gradnorm_weights[i].clone() for i, t in enumerate(p.tasks)}


def _unit_weights(p: Prioritizer) -> dict[str, Tensor]:
    return {t: torch.tensor(1.0) for t in p.tasks}


# name -> strategy (PrioritizationConfig.task_weighting; a test keeps the two in step)
TASK_WEIGHTINGS: dict[str, TaskWeighting] = {
    "dtp-kpi": TaskWeighting(_inverse_kpi_weights),
    "constant": TaskWeighting(_constant_weights),
    "gradnorm": TaskWeighting(_gradnorm_weights, learned=True),
    "dtp": TaskWeighting(_dtp_weights),
    "self-paced": TaskWeighting(_unit_weights, paced=True),
}
# task_kpi -> whether the batch's task KPI is that of the batch as a set (else the mean of the samples')
TASK_KPI_OF_SET = {"set": True, "mean-of-samples": False}
# topk_hard -> whether topk-hard applies the hard threshold eta after the Top-K filter
TOPK_HARD_THRESHOLD = {"threshold": True, "filter-only": False}
# topk_ties -> whether Top-K keeps exactly K samples (ties broken by tie_order)
TOPK_STRICT = {"strict": True, "keep-all": False}


class Prioritizer:
    """Holds the prioritization state and turns per-sample losses and KPIs into the total loss.

    cfg: the stage's PrioritizationConfig (cathx.training.config; stage_prioritization gives it for
    a stage); tasks: task names (e.g. ("segmentation", "detection")); num_samples: size of the
    training set (the KPI bank is indexed by the dataset index); total_steps: the stage's optimizer
    steps, the length of the K schedule. The strategies are looked up once, here, so an unknown
    name fails at construction. Every rank of a DDP run holds identical state: batch KPIs are
    gathered before the EMA and the bank are updated.
    """

    def __init__(self, cfg: PrioritizationConfig, tasks: tuple[str, ...], num_samples: int,
                 total_steps: int = 1) -> None:
        self.cfg = cfg
        self.tasks = tuple(tasks)
        self.num_samples = int(num_samples)
        self.total_steps = max(int(total_steps), 1)
        self.weighting = lookup(TASK_WEIGHTINGS, "task weighting", cfg.task_weighting)
        self.selection = lookup(SAMPLE_SELECTIONS, "sample selection", cfg.sample_selection)
        self.set_kpi = lookup(TASK_KPI_OF_SET, "task KPI", cfg.task_kpi)
        self.topk_eta = cfg.eta if lookup(TOPK_HARD_THRESHOLD, "topk_hard", cfg.topk_hard) else None
        self.strict = lookup(TOPK_STRICT, "topk_ties", cfg.topk_ties)
        self.kpi_kinds = kpi_kinds(cfg, self.tasks)
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
        fixed = FIXED_FRACTIONS.get(self.cfg.sample_selection)
        if fixed is not None:
            return fixed
        return keep_fraction(self.step, self.total_steps, self.cfg.topk_start, self.cfg.topk_end)

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
                self.kappa_bar[task] = ema(self.kappa_bar[task], batch_kpi, self.cfg.alpha)
            else:
                self.kappa_bar[task] = batch_kpi
                self.kappa_seen[task] = torch.tensor(True)
            idx = all_indices[avail]
            seen = self.bank_seen[task][idx]
            bank = self.bank[task]
            bank[idx] = torch.where(seen, ema(bank[idx], kappa[avail], self.cfg.sample_alpha), kappa[avail])
            self.bank_seen[task][idx] = True

    def _task_kpi(self, task: str, kappa: Tensor, avail: Tensor, stats: Mapping[str, Tensor] | None) -> Tensor:
        if not self.set_kpi:
            return kappa[avail].mean()
        if stats is None or task not in stats:
            raise ValueError("task_kpi 'set' needs the per-sample KPI statistics (stats=...)")
        from cathx.metrics.kpi import pooled_kpi

        rows = gather(torch.nan_to_num(stats[task].detach().float().cpu(), nan=0.0))
        return pooled_kpi(rows[avail], self.kpi_kinds[task], self.cfg.tau_px)

    def task_weights(self) -> dict[str, Tensor]:
        """Current weight per task under the configured strategy (detached scalars)."""
        return self.weighting.weights(self)

    def sample_weights(
        self, losses: Mapping[str, Tensor], kpis: Mapping[str, Tensor], available: Mapping[str, Tensor],
        indices: Tensor,
    ) -> dict[str, Tensor]:
        """delta_{t,i}: availability times the sample-level selection, per task (B,)."""
        out = {}
        fraction = self.keep_fraction()
        for task in self.tasks:
            avail = available[task].bool()
            if self.weighting.paced:
                pace = keep_fraction(self.step, self.total_steps, self.cfg.self_paced_start, 1.0)
                out[task] = self_paced_mask(losses[task], avail, pace)
                continue
            idx = indices.long().cpu()
            # the bank already holds this batch (observe ran first); fall back to the raw KPI
            seen = self.bank_seen[task]
            kappa = torch.where(seen[idx], self.bank[task][idx], kpis[task].detach().float().cpu())
            difficulty = (1.0 - kappa).clamp(0.0, 1.0)
            bank_difficulty = 1.0 - self.bank[task]
            strict = (idx, tie_order(self.num_samples, self.step)) if self.strict else (None, None)

            def top_k() -> Tensor:
                return in_top_k(difficulty, bank_difficulty, seen, fraction, *strict)

            delta = self.selection(difficulty, top_k, self.topk_eta, self.cfg.eta)
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
            self.cfg.gradnorm_alpha, self.cfg.gradnorm_lr,
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
        task_loss = {t: masked_task_loss(losses[t], sample[t], self.cfg.normalize) for t in self.tasks}
        if train and self.weighting.learned:
            self._update_gradnorm(task_loss, shared_parameter)
        task = self.task_weights()
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


def kpi_kinds(cfg: PrioritizationConfig, tasks: tuple[str, ...]) -> dict[str, str]:
    """KPI kind per task (cathx.metrics.kpi.KPI_KINDS) of a ``PrioritizationConfig``: iou / dice /
    mae / rmse, or "loss" for the loss-based ablation (segmentation_kpi ce, detection_kpi focal)."""
    kinds = {"segmentation": "loss" if cfg.segmentation_kpi == "ce" else cfg.segmentation_kpi,
             "detection": "loss" if cfg.detection_kpi == "focal" else cfg.detection_kpi}
    return {t: kinds[t] for t in tasks}
