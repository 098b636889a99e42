"""Suites mirror the paper's tables; overrides land on the right config keys."""

from __future__ import annotations

import pytest

from cathx.benchmarking.suites import ALL_SUITES, PAPER_STRATEGY, apply_overrides, build_suite, suite_names
from cathx.errors import ConfigError


def test_every_suite_has_unique_variant_names():
    for name in suite_names():
        variants = build_suite(name)
        assert variants, name
        if name != "all":
            assert len({v.name for v in variants}) == len(variants), name
            assert {v.suite for v in variants} == {name}


def test_paper_table_sizes():
    assert len(build_suite("task-weights")) == 9  # 7 constant pairs, GradNorm, ours (Table 5)
    assert len(build_suite("kpi")) == 5  # Table 6
    assert len(build_suite("sample-selection")) == 8  # Table 7 plus the no-selection reference
    assert len(build_suite("convergence")) == 5  # Table 4
    names = [v.name for v in build_suite("methods")]
    assert names[0] == "cathmtl" and "seed_unet_effb2" in names and "segformer-resnet34" in names


def test_all_runs_each_distinct_experiment_once():
    every = sum(len(build_suite(s)) for s in ALL_SUITES)
    merged = build_suite("all")
    assert len(merged) < every  # "ours" appears in several suites
    assert len({v.key() for v in merged}) == len(merged)
    # a name is one experiment: DTP is in the mtl and convergence suites, spelled two ways, and runs once
    assert len({v.name for v in merged}) == len(merged) == 45
    assert [v.suite for v in merged if v.name == "dtp"] == ["mtl"]


def test_unknown_suite_lists_choices():
    with pytest.raises(ConfigError, match=r"unknown suite 'method'; choose from methods, backbones"):
        build_suite("method")


def test_apply_overrides_sets_nested_and_every_stage():
    base = {"model": {"name": "cathmtl"}, "stages": ({"name": "a", "tasks": "multitask"}, {"name": "b"})}
    result = apply_overrides(base, {"model.name": "unet", "stages.*.tasks": "segmentation", "optim.lr": 0.1})
    assert result["model"] == {"name": "unet"}
    assert [s["tasks"] for s in result["stages"]] == ["segmentation", "segmentation"]
    assert result["optim"] == {"lr": 0.1}
    assert base["model"]["name"] == "cathmtl"  # the input is untouched
    with pytest.raises(ConfigError, match="is not inside a mapping"):
        apply_overrides({"model": 3}, {"model.name": "x"})


def test_single_task_variants_switch_model_and_stages():
    rows = {v.name: v.overrides for v in build_suite("mtl")}
    assert rows["single-task detection"]["model.tasks"] == ["detection"]
    assert rows["single-task detection"]["stages.*.tasks"] == "detection"
    assert rows["cathmtl (ours)"] == PAPER_STRATEGY
    # the demo's own recipe is a row too, so the table compares the default with the paper
    assert rows["constant"] == {"prioritization.task_weighting": "constant", "prioritization.sample_selection": "none"}


def test_the_seed_variants_run_what_the_seed_baseline_spec_records():
    from cathx.benchmarking.suites import methods, mtl
    from cathx.models.baselines import BASELINES

    spec = BASELINES["seed_unet_effb2"]
    seeds = [v for v in (*methods(), *mtl()) if v.overrides.get("model.name") == "seed_unet_effb2"]
    assert len(seeds) == 2
    for variant in seeds:
        assert variant.overrides["model.encoder"] == spec.encoder
        assert variant.overrides["loss.segmentation"] == spec.segmentation_loss
    single = [v for v in seeds if v.suite == "mtl"][0]
    assert single.overrides["model.tasks"] == [spec.tasks]
