"""Issue 16: building the Prioritizer from its config must not change a single weight.

``prioritizer_golden.json`` holds what the construction before issue 16 (``build_prioritizer``
copying the config's fields into a 22-argument constructor) produced on a fixed sequence of seven
batches (KPI statistics with ties, unlabelled samples, one validation batch) for the ``paper`` and
``legacy`` presets, their single-task stages and every task-weighting and sample-selection
alternative. Each case is run through today's construction and compared value for value: exactly
for everything but floats, floats within a relative 1e-6 (a few float32 steps: the same operations
in the same order give the same bits on one CPU, but transcendentals are vectorised differently on
others; the DTP weights differed in their last bit on an Intel Xeon, 2026-12-04).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cathx.metrics.kpi import kpi_from_stats
from cathx.training.config import preset_config, stage_prioritization
from cathx.training.weighting import kpi_kinds

GOLDEN = Path(__file__).parent / "data" / "prioritizer_golden.json"
BOTH = ("segmentation", "detection")
NUM_SAMPLES, BATCH, TRAIN_STEPS = 10, 4, 6


def cases() -> dict[str, tuple[str, dict, tuple[str, ...]]]:
    """name -> (preset, overrides, tasks); a tasks tuple of one task runs that stage's prioritization."""
    out = {"paper": ("paper", {}, BOTH), "legacy": ("legacy", {}, BOTH),
           "paper-pretrain": ("paper", {}, ("segmentation",)), "legacy-pretrain": ("legacy", {}, ("segmentation",))}
    for preset in ("paper", "legacy"):
        out[f"{preset}-constant"] = (preset, {"task_weighting": "constant",
                                              "constant_weights": {"segmentation": 0.5, "detection": 3.0}}, BOTH)
        for weighting in ("gradnorm", "dtp", "self-paced"):
            out[f"{preset}-{weighting}"] = (preset, {"task_weighting": weighting}, BOTH)
        for selection in ("none", "soft", "hard", "fixed-30", "fixed-50", "fixed-70", "topk-soft"):
            out[f"{preset}-{selection}"] = (preset, {"sample_selection": selection}, BOTH)
        out[f"{preset}-selected-rmse-ce"] = (preset, {"normalize": "selected", "detection_kpi": "rmse",
                                                      "segmentation_kpi": "ce", "eta": 0.3}, BOTH)
    out["paper-focal-dice"] = ("paper", {"detection_kpi": "focal", "segmentation_kpi": "dice", "alpha": 0.3,
                                         "sample_alpha": 0.8, "topk_end": 0.4, "kpi_floor": 0.2, "tau_px": 3.0}, BOTH)
    return out


def config(name: str):
    """The stage's PrioritizationConfig of case ``name`` and its tasks."""
    preset, overrides, tasks = cases()[name]
    return stage_prioritization(preset_config(preset, **overrides), tasks), tasks


def batches():
    """Seven batches: (indices (B,), stats per task (B, 2), available per task (B,), train flag).
    Errors are multiples of 2.5 px and IoUs of 0.25, so KPIs tie across samples."""
    g = torch.Generator().manual_seed(16)
    out = []
    for step in range(TRAIN_STEPS + 1):
        indices = torch.randperm(NUM_SAMPLES, generator=g)[:BATCH]
        union = torch.randint(20, 100, (BATCH,), generator=g).float()
        iou = torch.randint(0, 5, (BATCH,), generator=g).float() / 4
        seg = torch.stack([union * (1 - iou), union], dim=1)
        count = torch.randint(0, 4, (BATCH,), generator=g).float()
        error = torch.randint(0, 5, (BATCH,), generator=g).float() * 2.5
        det = torch.stack([error * count, count], dim=1)
        available = {"segmentation": torch.ones(BATCH, dtype=torch.bool),
                     "detection": torch.rand(BATCH, generator=g) > 0.25}
        det[~available["detection"]] = float("nan")
        out.append((indices, {"segmentation": seg, "detection": det}, available, step != 3))
    return out


def run(make, name: str) -> dict:
    """Feed batches() to ``make(cfg, tasks, num_samples, total_steps)``'s prioritizer for case
    ``name``: every value it returns, per step, and its final state."""
    cfg, tasks = config(name)
    prioritizer = make(cfg, tasks, NUM_SAMPLES, TRAIN_STEPS)
    shared = torch.nn.Parameter(torch.tensor([1.0, 0.5, 2.0]))
    kinds = kpi_kinds(cfg, tasks)
    steps = []
    for indices, stats, available, train in batches():
        kpis = {t: kpi_from_stats(stats[t], kinds[t], cfg.tau_px) for t in tasks}
        base = {t: torch.nan_to_num(1.05 - kpis[t], nan=0.0) for t in tasks}
        losses = {"segmentation": base["segmentation"] * shared[0] * shared[1],
                  "detection": base.get("detection", torch.zeros(BATCH)) * shared[2]}
        losses = {t: torch.where(available[t], losses[t], torch.full_like(losses[t], float("nan")))
                  for t in tasks}
        out = prioritizer(losses, kpis, {t: available[t] for t in tasks}, indices,
                          shared_parameter=shared, train=train, stats={t: stats[t] for t in tasks})
        steps.append({"total": float(out.total.detach()),
                      "task": {t: float(v) for t, v in out.task.items()},
                      "sample": {t: v.tolist() for t, v in out.sample.items()},
                      "task_loss": {t: float(v.detach()) for t, v in out.task_loss.items()},
                      "log": out.log})
    state = prioritizer.state_dict()
    return {"steps": steps, "step": state["step"],
            "kappa_bar": {t: float(v) for t, v in state["kappa_bar"].items()},
            "bank": {t: v.tolist() for t, v in state["bank"].items()},
            "gradnorm_weights": state["gradnorm_weights"].tolist()}


def _as_stored(value):
    return json.loads(json.dumps(value))  # tuples -> lists, as in the file


def current(cfg, tasks, num_samples, total_steps):
    from cathx.training.weighting import Prioritizer

    return Prioritizer(cfg, tasks, num_samples, total_steps)


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


def test_golden_covers_every_case(golden):
    assert sorted(golden) == sorted(cases())


def assert_same(found, recorded, path: str = "") -> None:
    """``found`` equals ``recorded`` in structure and every value; floats within 1e-6 relative."""
    if isinstance(recorded, dict):
        assert isinstance(found, dict) and sorted(found) == sorted(recorded), path
        for key in recorded:
            assert_same(found[key], recorded[key], f"{path}/{key}")
    elif isinstance(recorded, list):
        assert isinstance(found, list) and len(found) == len(recorded), path
        for i, (a, b) in enumerate(zip(found, recorded)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(recorded, float) and not isinstance(found, bool):
        assert found == pytest.approx(recorded, rel=1e-6, abs=1e-12, nan_ok=True), path
    else:
        assert found == recorded, path


def test_assert_same_tells_a_changed_weight():
    assert_same({"w": [1.0, 2.0], "n": 3}, {"w": [1.0, 2.0 * (1 + 1e-7)], "n": 3})  # a last-bit difference
    with pytest.raises(AssertionError):
        assert_same({"w": [1.0, 2.001]}, {"w": [1.0, 2.0]})
    with pytest.raises(AssertionError):
        assert_same({"n": 3}, {"n": 4})


@pytest.mark.parametrize("name", sorted(cases()))
def test_config_construction_gives_the_recorded_weights(golden, name):
    assert_same(_as_stored(run(current, name)), golden[name])
