"""Prioritization maths on hand-computed cases, and the Prioritizer's state handling."""

from __future__ import annotations

import math

import pytest
import torch

from cathx.errors import ConfigError
from cathx.training.config import preset_config
from cathx.training.weighting import (
    Prioritizer,
    ema,
    gradnorm_step,
    keep_fraction,
    kpi_from_loss,
    masked_task_loss,
    select_samples,
    self_paced_mask,
    task_weight_dtp,
    task_weight_inverse_kpi,
    topk_threshold,
)

T = torch.tensor


def legacy(tasks: tuple[str, ...], num_samples: int, total_steps: int = 1, **overrides) -> Prioritizer:
    """A Prioritizer of the legacy preset (the old constructor's defaults) with ``overrides``."""
    return Prioritizer(preset_config("legacy", **overrides), tasks, num_samples, total_steps)


def test_ema_weights_recent_value_by_alpha():
    assert float(ema(T(0.5), T(1.0), 0.1)) == pytest.approx(0.55)
    assert float(ema(T(0.5), T(1.0), 1.0)) == pytest.approx(1.0)


def test_kpi_from_loss():
    assert float(kpi_from_loss(T(math.log(4.0)))) == pytest.approx(0.25)





def test_task_weights_inverse_kpi_and_dtp():
    kappa = T([0.5, 0.8, 0.01])
    assert task_weight_inverse_kpi(kappa, floor=0.05).tolist() == pytest.approx([2.0, 1.25, 20.0])
    expected = -(0.5**2) * math.log(0.5)
    assert float(task_weight_dtp(T(0.5), gamma=2.0, floor=0.05)) == pytest.approx(expected)
    assert float(task_weight_dtp(T(1.0), gamma=2.0, floor=0.05)) == pytest.approx(0.0)


def test_gradnorm_step_moves_weight_towards_slower_task():
    weights = T([1.0, 1.0])
    norms = T([2.0, 1.0])  # G = [2, 1], G_bar = 1.5
    losses, initial = T([1.0, 1.0]), T([1.0, 1.0])  # equal rates: target = 1.5 for both
    updated = gradnorm_step(weights, norms, losses, initial, alpha=1.5, lr=0.1)
    # grads: sign(2-1.5)*2 = 2, sign(1-1.5)*1 = -1 -> [0.8, 1.1] -> renormalised to sum 2
    assert updated.tolist() == pytest.approx([0.8 * 2 / 1.9, 1.1 * 2 / 1.9])


def test_keep_fraction_schedule_is_linear():
    assert keep_fraction(0, 11, 1.0, 0.7) == pytest.approx(1.0)
    assert keep_fraction(5, 11, 1.0, 0.7) == pytest.approx(0.85)
    assert keep_fraction(10, 11, 1.0, 0.7) == pytest.approx(0.7)
    assert keep_fraction(99, 11, 1.0, 0.7) == pytest.approx(0.7)


def test_topk_threshold_ranks_seen_samples_only():
    bank = T([0.1, 0.9, 0.5, 0.7, 0.0])
    seen = T([True, True, True, True, False])
    # 70 % of 4 seen -> K = 3: difficulties 0.9, 0.7, 0.5 -> threshold 0.5
    assert float(topk_threshold(bank, seen, 0.7)) == pytest.approx(0.5)
    assert float(topk_threshold(bank, torch.zeros(5, dtype=torch.bool), 0.7)) == float("-inf")


def test_select_samples_modes():
    bank = T([0.1, 0.9, 0.5, 0.7])
    seen = torch.ones(4, dtype=torch.bool)
    batch = T([0.1, 0.9, 0.5, 0.7])
    assert select_samples("none", batch, bank, seen, 0.5).tolist() == [1, 1, 1, 1]
    assert select_samples("soft", batch, bank, seen, 0.5).tolist() == pytest.approx([0.1, 0.9, 0.5, 0.7])
    assert select_samples("hard", batch, bank, seen, 0.5).tolist() == [0, 1, 0, 1]
    assert select_samples("topk-hard", batch, bank, seen, 0.5).tolist() == [0, 1, 0, 1]
    assert select_samples("topk-hard", batch, bank, seen, 0.75).tolist() == [0, 1, 1, 1]
    assert select_samples("topk-soft", batch, bank, seen, 0.5).tolist() == pytest.approx([0, 0.9, 0, 0.7])
    with pytest.raises(ConfigError, match="unknown sample selection 'random'; choose from none, soft, hard, fixed-30"):
        select_samples("random", batch, bank, seen, 0.5)


def test_self_paced_keeps_easiest_available():
    losses = T([0.4, 0.1, 0.3, 0.2])
    available = T([True, True, True, False])
    assert self_paced_mask(losses, available, 0.5).tolist() == [0, 1, 1, 0]
    assert self_paced_mask(losses, torch.zeros(4, dtype=torch.bool), 0.5).tolist() == [0, 0, 0, 0]


def test_masked_task_loss_drops_nan_of_unavailable_samples():
    losses = T([1.0, float("nan"), 3.0, 5.0])
    delta = T([1.0, 0.0, 1.0, 0.0])
    assert float(masked_task_loss(losses, delta)) == pytest.approx(1.0)  # (1 + 3) / 4  (Eq. 1)
    assert float(masked_task_loss(losses, delta, "selected")) == pytest.approx(2.0)
    assert float(masked_task_loss(losses, torch.zeros(4))) == 0.0


def _step(prioritizer, kpi_seg, kpi_det, indices, avail_det=None):
    seg = T(kpi_seg)
    det = T(kpi_det)
    losses = {"segmentation": (1 - seg).requires_grad_(), "detection": (1 - det).requires_grad_()}
    available = {"segmentation": torch.ones(len(seg), dtype=torch.bool),
                 "detection": torch.ones(len(det), dtype=torch.bool) if avail_det is None else T(avail_det)}
    return prioritizer(losses, {"segmentation": seg, "detection": det}, available, T(indices))


def test_prioritizer_paper_defaults_hand_computed():
    p = legacy(("segmentation", "detection"), 4, total_steps=3, alpha=0.5, sample_alpha=0.5, topk_start=1.0,
               topk_end=0.5)
    out = _step(p, [0.8, 0.4], [0.5, 0.5], [0, 1])
    # first observation initialises the EMA: kappa_bar_s = 0.6, kappa_bar_d = 0.5
    assert float(out.task["segmentation"]) == pytest.approx(1 / 0.6)
    assert float(out.task["detection"]) == pytest.approx(2.0)
    assert out.sample["segmentation"].tolist() == [1, 1]  # K = 100 % at step 0
    seg_loss = (0.2 + 0.6) / 2
    assert float(out.total.detach()) == pytest.approx(seg_loss / 0.6 + 0.5 / 0.5)
    out = _step(p, [0.6, 0.2], [1.0, 0.9], [2, 3], avail_det=[True, False])
    # EMA: 0.5 * 0.4 + 0.5 * 0.6 = 0.5; detection only sample 2 available: 0.5 * 1.0 + 0.5 * 0.5 = 0.75
    assert float(p.kappa_bar["segmentation"]) == pytest.approx(0.5)
    assert float(p.kappa_bar["detection"]) == pytest.approx(0.75)
    assert out.sample["detection"].tolist() == [1, 0]  # unavailable is masked out
    out = _step(p, [0.9, 0.6], [0.5, 0.5], [0, 1])
    # bank seg: 0 -> 0.85, 1 -> 0.5, 2 -> 0.6, 3 -> 0.2; K = 50 % of 4 -> hardest 2 (indices 3, 1)
    assert p.bank["segmentation"].tolist() == pytest.approx([0.85, 0.5, 0.6, 0.2])
    assert out.sample["segmentation"].tolist() == [0, 1]
    assert p.step == 3


def test_prioritizer_state_round_trip_continues_identically():
    def run(p, steps):
        outs = []
        for s in steps:
            outs.append(float(_step(p, *s).total.detach()))
        return outs

    steps = [([0.8, 0.4], [0.5, 0.2], [0, 1]), ([0.3, 0.7], [0.9, 0.1], [2, 3]),
             ([0.5, 0.5], [0.6, 0.6], [1, 2]), ([0.2, 0.9], [0.3, 0.8], [3, 0])]
    reference = legacy(("segmentation", "detection"), 4, total_steps=4, topk_end=0.5)
    expected = run(reference, steps)
    first = legacy(("segmentation", "detection"), 4, total_steps=4, topk_end=0.5)
    run(first, steps[:2])
    second = legacy(("segmentation", "detection"), 4, total_steps=1, topk_end=0.5)
    second.load_state_dict(first.state_dict())
    assert run(second, steps[2:]) == pytest.approx(expected[2:])
    with pytest.raises(ValueError, match="another size"):
        legacy(("segmentation", "detection"), 5).load_state_dict(first.state_dict())


@pytest.mark.parametrize("weighting", ["constant", "dtp", "self-paced", "gradnorm"])
@pytest.mark.parametrize("selection", ["none", "soft", "hard", "fixed-30", "topk-soft", "topk-hard"])
def test_every_switch_gives_a_finite_differentiable_loss(weighting, selection):
    shared = torch.nn.Parameter(torch.ones(3))
    p = legacy(("segmentation", "detection"), 6, total_steps=2, task_weighting=weighting, sample_selection=selection,
               constant_weights={"segmentation": 1.0, "detection": 5.0})
    for step in range(2):
        seg = (shared.sum() * T([0.1, 0.5, 0.9]))
        # a NaN value (no gradient path) on an unlabelled sample must not leak into the loss
        det = shared.prod() * T([0.2, 0.0, 0.4]) + T([0.0, float("nan"), 0.0])
        out = p({"segmentation": seg, "detection": det},
                {"segmentation": T([0.9, 0.5, 0.1]), "detection": T([0.8, float("nan"), 0.6])},
                {"segmentation": T([True, True, True]), "detection": T([True, False, True])},
                T([3 * step, 3 * step + 1, 3 * step + 2]), shared_parameter=shared)
        assert torch.isfinite(out.total)
        out.total.backward()
        assert torch.isfinite(shared.grad).all()
    if weighting == "constant":
        assert float(out.task["detection"]) == 5.0
    if weighting == "gradnorm":
        assert float(sum(out.task.values())) == pytest.approx(2.0)




def test_gradnorm_step_unequal_loss_ratios_hand_computed():
    weights = T([1.0, 1.0])
    norms = T([1.2, 0.9])  # G = [1.2, 0.9], G_bar = 1.05
    # Task 0 trains slower: L/L0 = [2, 1], mean 1.5 -> inverse rates r = [4/3, 2/3].
    losses, initial = T([2.0, 1.0]), T([1.0, 1.0])
    updated = gradnorm_step(weights, norms, losses, initial, alpha=1.5, lr=0.1)
    # target = 1.05 * r^1.5 = [1.617, 0.572]: G_0 is below its target and G_1 above, so the
    # gradient is [-1.2, +0.9] -> weights [1.12, 0.91], renormalised to sum 2.
    target = 1.05 * T([4 / 3, 2 / 3]) ** 1.5
    assert target.tolist() == pytest.approx([1.6166, 0.5715], abs=1e-4)
    assert updated.tolist() == pytest.approx([1.12 * 2 / 2.03, 0.91 * 2 / 2.03])
    assert updated[0] > updated[1]  # the slower task gains weight


def test_prioritizer_task_and_bank_ema_with_unequal_alphas():
    p = legacy(("segmentation", "detection"), 2, total_steps=2, alpha=0.2, sample_alpha=0.25, sample_selection="none")
    _step(p, [0.8, 0.4], [0.5, 0.5], [0, 1])  # first observation: kappa_bar = 0.6, bank = [0.8, 0.4]
    out = _step(p, [1.0, 0.0], [0.5, 0.5], [0, 1])
    # task EMA: 0.2 * 0.5 (batch mean) + 0.8 * 0.6 = 0.58 (arguments swapped would give 0.52)
    assert float(p.kappa_bar["segmentation"]) == pytest.approx(0.58)
    assert float(out.task["segmentation"]) == pytest.approx(1 / 0.58)
    # bank EMA per sample: 0.25 * new + 0.75 * old -> [0.25 + 0.6, 0 + 0.3] (swapped: [0.95, 0.1])
    assert p.bank["segmentation"].tolist() == pytest.approx([0.85, 0.3])


# ----------------------------------------------------------------------------- paper fidelity (issue 13, item 6)


def test_set_task_kpi_eq5_errors_0_and_10_px():
    # (b) two one-electrode samples with errors 0 and 10 px, tau = 2: the KPI of the set is
    # 1 / (1 + 5 / 2) = 0.286; the mean of the per-sample KPIs (1 and 1/6) would be 0.583.
    stats = {"segmentation": T([[0.0, 1.0], [0.0, 1.0]]), "detection": T([[0.0, 1.0], [10.0, 1.0]])}
    kpis = {"segmentation": T([1.0, 1.0]), "detection": T([1.0, 1 / 6])}
    available = {t: torch.ones(2, dtype=torch.bool) for t in kpis}
    losses = {t: torch.ones(2) for t in kpis}
    paper = legacy(("segmentation", "detection"), 2, task_kpi="set", segmentation_kpi="iou", detection_kpi="mae",
                   tau_px=2.0, sample_selection="none")
    out = paper(losses, kpis, available, T([0, 1]), stats=stats)
    assert float(paper.kappa_bar["detection"]) == pytest.approx(1 / 3.5)
    assert float(out.task["detection"]) == pytest.approx(3.5)
    mean = legacy(("segmentation", "detection"), 2, task_kpi="mean-of-samples", sample_selection="none")
    mean(losses, kpis, available, T([0, 1]))
    assert float(mean.kappa_bar["detection"]) == pytest.approx(7 / 12)
    # the set KPI pools only available samples: without sample 1 it is sample 0's alone
    paper(losses, kpis, {**available, "detection": T([True, False])}, T([0, 1]), stats=stats)
    assert float(paper.kappa_bar["detection"]) == pytest.approx(0.1 * 1.0 + 0.9 / 3.5)
    with pytest.raises(ValueError, match="statistics"):
        paper(losses, kpis, available, T([0, 1]))


def test_topk_hard_applies_the_eta_threshold_after_the_filter():
    # (c) bank difficulties [0.1, 0.9, 0.5, 0.7], K = 3 of 4: Top-K = {0.9, 0.7, 0.5}; then
    # delta = [D > eta = 0.5] drops the 0.5 sample (Top-K x hard), as topk-soft is Top-K x soft.
    bank = T([0.1, 0.9, 0.5, 0.7])
    seen = torch.ones(4, dtype=torch.bool)
    assert select_samples("topk-hard", bank, bank, seen, 0.75).tolist() == [0, 1, 1, 1]  # filter only
    assert select_samples("topk-hard", bank, bank, seen, 0.75, eta=0.5).tolist() == [0, 1, 0, 1]
    assert select_samples("topk-hard", bank, bank, seen, 0.75, eta=0.4).tolist() == [0, 1, 1, 1]
    hard = select_samples("hard", bank, bank, seen, 0.75)
    topk = select_samples("topk-hard", bank, bank, seen, 0.75)
    assert select_samples("topk-hard", bank, bank, seen, 0.75, eta=0.5).tolist() == (topk * hard).tolist()
    assert select_samples("hard", bank, bank, seen, 0.75, hard_threshold=0.6).tolist() == [0, 1, 0, 1]


def test_strict_topk_keeps_exactly_k_of_tied_samples():
    # (e) every KPI at the floor (difficulty 5/6): K = ceil(0.5 * 4) = 2, so exactly 2 are kept
    from cathx.training.weighting import tie_order, topk_members

    bank = torch.full((4,), 5 / 6)
    seen = torch.ones(4, dtype=torch.bool)
    assert select_samples("topk-hard", bank, bank, seen, 0.5).tolist() == [1, 1, 1, 1]  # keep-all ties
    order = T([0, 1, 2, 3])
    strict = select_samples("topk-hard", bank, bank, seen, 0.5, indices=T([0, 1, 2, 3]), order=order)
    assert strict.tolist() == [1, 1, 0, 0]  # ties broken by the order, lower first
    assert topk_members(bank, seen, 0.5, T([3, 2, 1, 0])).tolist() == [False, False, True, True]
    # a strictly harder sample still wins over the order; unseen entries are never ranked
    bank2 = T([0.5, 0.5, 0.9, 0.5, 0.0])
    seen2 = T([True, True, True, True, False])
    assert topk_members(bank2, seen2, 0.5, T([0, 1, 2, 3, 4])).tolist() == [True, False, True, False, False]
    # the order is a permutation drawn from the step: reproducible, and it rotates over steps
    assert tie_order(6, 3).tolist() == tie_order(6, 3).tolist()
    assert sorted(tie_order(6, 3).tolist()) == list(range(6))
    assert any(tie_order(6, s).tolist() != tie_order(6, 0).tolist() for s in range(1, 4))


def test_prioritizer_strict_ties_select_k_over_the_bank():
    # 8 samples all at the detection floor 1/6, K = 50 %: over the bank exactly 4 are members,
    # and the selected ones of each batch are members
    from cathx.training.weighting import tie_order, topk_members

    p = legacy(("detection",), 8, total_steps=2, topk_start=0.5, topk_end=0.5, topk_ties="strict",
               topk_hard="threshold")
    floor = torch.full((4,), 1 / 6)
    for indices in ([0, 1, 2, 3], [4, 5, 6, 7]):
        step = p.step
        out = p({"detection": torch.ones(4)}, {"detection": floor}, {"detection": torch.ones(4, dtype=torch.bool)},
                T(indices))
        members = topk_members(1 - p.bank["detection"], p.bank_seen["detection"], 0.5, tie_order(8, step))
        assert int(members.sum()) == math.ceil(0.5 * int(p.bank_seen["detection"].sum()))
        assert out.sample["detection"].tolist() == members[T(indices)].float().tolist()
    keep_all = legacy(("detection",), 8, total_steps=2, topk_start=0.5, topk_end=0.5)
    out = keep_all({"detection": torch.ones(4)}, {"detection": floor}, {"detection": torch.ones(4, dtype=torch.bool)},
                 T([0, 1, 2, 3]))
    assert out.sample["detection"].tolist() == [1, 1, 1, 1]  # keep-all: nothing filtered at the floor


def test_single_task_stage_is_unweighted_under_multitask_only():
    # (a) a segmentation-only stage trains every sample with task weight 1 under the paper preset
    from cathx.training.config import PrioritizationConfig, stage_prioritization

    paper = PrioritizationConfig()
    pretrain = stage_prioritization(paper, ("segmentation",))
    assert (pretrain.task_weighting, pretrain.sample_selection) == ("constant", "none")
    assert stage_prioritization(paper, ("segmentation", "detection")) == paper
    old = preset_config("legacy")
    assert stage_prioritization(old, ("segmentation",)) == old
    p = Prioritizer(pretrain, ("segmentation",), num_samples=2, total_steps=2)
    losses = {"segmentation": T([0.8, 0.2])}
    kpis = {"segmentation": T([0.2, 0.9])}
    stats = {"segmentation": T([[8.0, 10.0], [1.0, 10.0]])}
    out = p(losses, kpis, {"segmentation": T([True, True])}, T([0, 1]), stats=stats)
    assert float(out.task["segmentation"]) == 1.0
    assert out.sample["segmentation"].tolist() == [1, 1]
    assert float(out.total) == pytest.approx(0.5)  # (0.8 + 0.2) / 2, where 1/kappa_bar would give 0.5 / 0.45
    everywhere = Prioritizer(stage_prioritization(old, ("segmentation",)), ("segmentation",), 2, 2)
    out = everywhere(losses, kpis, {"segmentation": T([True, True])}, T([0, 1]))
    assert float(out.task["segmentation"]) == pytest.approx(1 / 0.55)  # all: 1 / mean KPI


# ----------------------------------------------------------------------------- strategies (issue 16)


def test_strategy_registries_match_the_config_choices():
    from cathx.training import config
    from cathx.training.weighting import SAMPLE_SELECTIONS, TASK_WEIGHTINGS

    assert tuple(TASK_WEIGHTINGS) == config.TASK_WEIGHTINGS
    assert tuple(SAMPLE_SELECTIONS) == config.SAMPLE_SELECTIONS


@pytest.mark.parametrize(("key", "value", "message"), [
    ("task_weighting", "uncertainty",
     "unknown task weighting 'uncertainty'; choose from dtp-kpi, constant, gradnorm, dtp, self-paced"),
    ("sample_selection", "fixed-40", "unknown sample selection 'fixed-40'; choose from none, soft, hard, fixed-30"),
    ("task_kpi", "median", "unknown task KPI 'median'; choose from set, mean-of-samples"),
    ("topk_hard", "both", "unknown topk_hard 'both'; choose from threshold, filter-only"),
    ("topk_ties", "random", "unknown topk_ties 'random'; choose from strict, keep-all"),
])
def test_unknown_strategy_fails_at_construction_listing_the_names(key, value, message):
    # a config built in code skips from_dict's choice check; the Prioritizer still names the choices
    import dataclasses

    from cathx.training.config import PrioritizationConfig

    cfg = dataclasses.replace(PrioritizationConfig(), **{key: value})
    with pytest.raises(ConfigError, match=message):
        Prioritizer(cfg, ("segmentation", "detection"), 4)


def test_fixed_selection_keeps_its_share_whatever_the_schedule():
    p = legacy(("segmentation",), 10, total_steps=5, sample_selection="fixed-30", topk_start=1.0, topk_end=0.9)
    assert p.keep_fraction() == pytest.approx(0.3)
    scheduled = legacy(("segmentation",), 10, total_steps=5, topk_start=1.0, topk_end=0.6)
    scheduled.step = 2
    assert scheduled.keep_fraction() == pytest.approx(0.8)


# ----------------------------------------------------------------------------- surviving mutants (issue 19)


def test_kpi_and_task_weights_clamp_to_their_ranges():
    assert float(kpi_from_loss(T(0.5))) == pytest.approx(math.exp(-0.5))  # not clamped up to a loss of 1
    assert float(kpi_from_loss(T(-2.0))) == pytest.approx(1.0)  # a negative loss is a perfect prediction
    # a KPI above 1 weighs as 1, below the floor as the floor
    assert task_weight_inverse_kpi(T([1.5, 0.0]), floor=0.05).tolist() == pytest.approx([1.0, 20.0])
    assert float(task_weight_dtp(T(1.5), gamma=2.0, floor=0.05)) == pytest.approx(0.0)
    assert float(task_weight_dtp(T(0.0), gamma=2.0, floor=0.05)) == pytest.approx(-(0.95**2) * math.log(0.05))


def test_keep_fraction_of_a_two_step_stage_runs_from_start_to_end():
    assert keep_fraction(0, 2, 1.0, 0.5) == pytest.approx(1.0)
    assert keep_fraction(1, 2, 1.0, 0.5) == pytest.approx(0.5)
    assert keep_fraction(0, 1, 1.0, 0.5) == pytest.approx(0.5)  # a one-step stage is at its end


def test_top_k_of_a_small_fraction_keeps_one_sample():
    from cathx.training.weighting import topk_members

    bank = T([0.9, 0.5, 0.3, 0.2, 0.1])
    seen = torch.ones(5, dtype=torch.bool)
    assert float(topk_threshold(bank, seen, 0.1)) == pytest.approx(0.9)  # K = ceil(0.5) = 1
    assert topk_members(bank, seen, 0.1, torch.arange(5)).tolist() == [True, False, False, False, False]
    one_seen = T([False, False, True, False, False])
    assert topk_members(bank, one_seen, 0.7, torch.arange(5)).tolist() == [False, False, True, False, False]
    nothing_seen = torch.zeros(5, dtype=torch.bool)
    members = topk_members(bank, nothing_seen, 0.7, torch.arange(5))
    assert members.dtype == torch.bool and members.all()


def test_in_top_k_without_an_order_keeps_ties():
    from cathx.training.weighting import in_top_k

    bank = torch.full((4,), 0.5)
    seen = torch.ones(4, dtype=torch.bool)
    # indices without a tie order: every sample tied with the K-th is inside (no strict ranking)
    assert in_top_k(bank, bank, seen, 0.5, indices=torch.arange(4), order=None).tolist() == [True] * 4


def test_self_paced_keeps_at_least_one_sample():
    kept = self_paced_mask(T([0.3, 0.1, 0.2]), torch.ones(3, dtype=torch.bool), 0.1)
    assert kept.tolist() == [0, 1, 0]  # ceil(0.3) = 1: the easiest


def test_masked_task_loss_defaults_to_the_batch_and_divides_by_a_fractional_selection():
    assert float(masked_task_loss(T([2.0, 4.0]), T([1.0, 1.0]))) == pytest.approx(3.0)  # default "batch"
    assert float(masked_task_loss(T([4.0]), T([1.0]))) == pytest.approx(4.0)  # one sample: / 1
    # soft selection: sum(delta * L) / sum(delta) = (0.25 * 4) / 0.25 (not clamped up to 1)
    assert float(masked_task_loss(T([4.0, 8.0]), T([0.25, 0.0]), "selected")) == pytest.approx(4.0)


def test_dtp_and_constant_weights_of_the_prioritizer():
    tasks = ("segmentation", "detection")
    dtp = legacy(tasks, 2, task_weighting="dtp", sample_selection="none")
    dtp.kappa_bar = {"segmentation": T(0.0), "detection": T(0.5)}  # segmentation below the floor
    weights = dtp.task_weights()
    assert float(weights["segmentation"]) == pytest.approx(-(0.95**2) * math.log(0.05))
    constant = legacy(tasks, 2, task_weighting="constant", constant_weights={"detection": 3.0})
    weights = constant.task_weights()
    assert (float(weights["segmentation"]), float(weights["detection"])) == (1.0, 3.0)  # a task left out: 1


def test_prioritizer_starts_at_weight_one_and_its_schedule_at_one_step():
    p = Prioritizer(preset_config("legacy", topk_start=1.0, topk_end=0.7), ("segmentation", "detection"), 4)
    assert p.total_steps == 1 and p.keep_fraction() == pytest.approx(0.7)
    assert {t: float(w) for t, w in p.task_weights().items()} == {"segmentation": 1.0, "detection": 1.0}
    assert Prioritizer(preset_config("legacy"), ("segmentation",), 4, total_steps=0).total_steps == 1


def test_a_task_without_labels_in_the_batch_does_not_stop_the_next_from_updating():
    p = legacy(("segmentation", "detection"), 2, sample_selection="none")
    kpis = {"segmentation": T([0.5, 0.5]), "detection": T([0.8, 0.4])}
    available = {"segmentation": T([False, False]), "detection": T([True, True])}
    p.observe(kpis, available, T([0, 1]))
    assert float(p.kappa_bar["segmentation"]) == 1.0  # untouched
    assert float(p.kappa_bar["detection"]) == pytest.approx(0.6)
    assert p.bank["detection"].tolist() == pytest.approx([0.8, 0.4])


def test_set_task_kpi_uses_the_configured_tau():
    # errors 0 and 10 px pooled: MAE 5 px; tau 4: 1 / (1 + 5 / 4) = 4 / 9 (tau 2 would give 2 / 7)
    stats = {"segmentation": T([[0.0, 1.0], [0.0, 1.0]]), "detection": T([[0.0, 1.0], [10.0, 1.0]])}
    kpis = {"segmentation": T([1.0, 1.0]), "detection": T([1.0, 1 / 6])}
    available = {t: torch.ones(2, dtype=torch.bool) for t in kpis}
    p = legacy(("segmentation", "detection"), 2, task_kpi="set", detection_kpi="mae", tau_px=4.0,
               sample_selection="none")
    p({t: torch.ones(2) for t in kpis}, kpis, available, T([0, 1]), stats=stats)
    assert float(p.kappa_bar["detection"]) == pytest.approx(4 / 9)
    with pytest.raises(ValueError, match=r"^task_kpi 'set' needs the per-sample KPI statistics \(stats=\.\.\.\)$"):
        p({t: torch.ones(2) for t in kpis}, kpis, available, T([0, 1]))


def test_soft_selection_clamps_the_difficulty_of_out_of_range_kpis():
    p = legacy(("segmentation",), 3, sample_selection="soft")
    kpis = {"segmentation": T([1.5, -0.5, 0.25])}
    out = p({"segmentation": torch.ones(3)}, kpis, {"segmentation": torch.ones(3, dtype=torch.bool)}, T([0, 1, 2]))
    assert out.sample["segmentation"].tolist() == pytest.approx([0.0, 1.0, 0.75])


def _gradnorm_step_with(seg_loss: torch.Tensor, shared: torch.Tensor) -> tuple[Prioritizer, torch.Tensor]:
    p = legacy(("segmentation", "detection"), 2, task_weighting="gradnorm", sample_selection="none",
               gradnorm_alpha=1.5, gradnorm_lr=0.1)
    losses = {"segmentation": seg_loss, "detection": shared.sum() * torch.ones(2)}
    kpis = {"segmentation": T([0.5, 0.5]), "detection": T([0.5, 0.5])}
    available = {t: torch.ones(2, dtype=torch.bool) for t in kpis}
    p(losses, kpis, available, T([0, 1]), shared_parameter=shared)
    return p, torch.stack([losses[t].detach().mean() for t in ("segmentation", "detection")])


def test_gradnorm_counts_a_task_without_gradient_at_the_shared_layer_as_zero():
    shared = torch.ones(2, requires_grad=True)  # d(detection)/d(shared) = (1, 1): norm sqrt(2)
    other = torch.tensor(3.0, requires_grad=True)
    for seg_loss in (torch.full((2,), 2.0), other * torch.ones(2)):  # no graph at all; a graph not through shared
        p, values = _gradnorm_step_with(seg_loss, shared)
        expected = gradnorm_step(torch.ones(2), T([0.0, math.sqrt(2.0)]), values, values, 1.5, 0.1)
        assert p.gradnorm_weights.tolist() == pytest.approx(expected.tolist())
    ones = {t: torch.ones(2) for t in p.tasks}
    available = {t: torch.ones(2, dtype=torch.bool) for t in p.tasks}
    with pytest.raises(ValueError, match="^gradnorm needs the last shared parameter of the model$"):
        p(ones, ones, available, T([0, 1]))  # no shared_parameter


def test_gradnorm_state_round_trip_and_mismatched_state_messages():
    shared = torch.ones(2, requires_grad=True)
    p, _ = _gradnorm_step_with(torch.full((2,), 2.0), shared)
    restored = legacy(("segmentation", "detection"), 2, task_weighting="gradnorm")
    restored.load_state_dict(p.state_dict())
    for key in ("gradnorm_weights", "gradnorm_initial", "gradnorm_ready"):
        assert torch.equal(restored.state_dict()[key], p.state_dict()[key])
    with pytest.raises(ValueError, match=r"prioritizer state is for tasks \['segmentation', 'detection'\], "
                                         r"not \['detection'\]"):
        legacy(("detection",), 2).load_state_dict(p.state_dict())
    with pytest.raises(ValueError, match="^prioritizer state was saved for a training set of another size$"):
        legacy(("segmentation", "detection"), 3).load_state_dict(p.state_dict())
