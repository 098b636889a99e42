"""Prioritization presets: `prioritization: paper` (the default) and `legacy`, each choice validated."""

from __future__ import annotations

import pytest
import yaml

from cathx.config import to_dict
from cathx.errors import ConfigError
from cathx.training.config import PRESETS, load_train_config, preset_config, train_config_from_dict


def test_default_is_the_paper_preset():
    cfg = train_config_from_dict({})
    p = cfg.prioritization
    assert (p.preset, p.task_kpi, p.stages, p.topk_hard, p.topk_ties) == (
        "paper", "set", "multitask-only", "threshold", "strict")
    assert cfg.loss.focal_normalisation == "batch"
    assert p.task_weighting == "dtp-kpi" and p.sample_selection == "topk-hard" and p.eta == 0.5


def test_shorthand_and_legacy_preset_with_explicit_keys_winning(tmp_path):
    path = tmp_path / "legacy.yaml"
    path.write_text("prioritization: legacy\n")
    cfg = load_train_config(path)
    p = cfg.prioritization
    assert (p.preset, p.task_kpi, p.stages, p.topk_hard, p.topk_ties) == (
        "legacy", "mean-of-samples", "all", "filter-only", "keep-all")
    assert cfg.loss.focal_normalisation == "image"
    mixed = train_config_from_dict({"prioritization": {"preset": "paper", "task_kpi": "mean-of-samples"},
                                    "loss": {"focal_normalisation": "image"}})
    assert mixed.prioritization.task_kpi == "mean-of-samples" and mixed.prioritization.topk_ties == "strict"
    assert mixed.loss.focal_normalisation == "image"
    # the saved form round-trips to the same config
    again = train_config_from_dict(yaml.safe_load(yaml.safe_dump(to_dict(cfg))))
    assert again == cfg
    assert preset_config("legacy", eta=0.3).eta == 0.3


@pytest.mark.parametrize(("key", "valid"), [
    ("task_kpi", "set, mean-of-samples"),
    ("stages", "multitask-only, all"),
    ("topk_hard", "threshold, filter-only"),
    ("topk_ties", "strict, keep-all"),
])
def test_unknown_choice_is_a_config_error_listing_the_valid_ones(key, valid):
    with pytest.raises(ConfigError, match=rf"prioritization\.{key}: invalid value 'x'; choose from {valid}"):
        train_config_from_dict({"prioritization": {key: "x"}})


def test_unknown_preset_focal_normalisation_and_eta_are_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("prioritization: cathx\n")
    with pytest.raises(ConfigError, match=rf"{path}\.prioritization\.preset: invalid value 'cathx'; "
                                          f"choose from {', '.join(PRESETS)}"):
        load_train_config(path)
    with pytest.raises(ConfigError, match=r"loss\.focal_normalisation: invalid value 'sample'; choose from batch, image"):
        train_config_from_dict({"loss": {"focal_normalisation": "sample"}})
    with pytest.raises(ConfigError, match=r"prioritization\.eta: must be in \[0, 1\)"):
        train_config_from_dict({"prioritization": {"eta": 1.5}})


def test_a_run_saved_before_presets_resumes_only_as_legacy(tmp_path):
    from cathx.errors import CathxError
    from cathx.training.run import check_same_experiment

    legacy = train_config_from_dict({"prioritization": "legacy", "model": {"encoder": "resnet18"}})
    saved = to_dict(legacy)
    del saved["prioritization"]["preset"], saved["prioritization"]["eta"]
    for key in ("task_kpi", "stages", "topk_hard", "topk_ties"):
        del saved["prioritization"][key]
    del saved["loss"]["focal_normalisation"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(saved, sort_keys=False))
    check_same_experiment(legacy, path)
    paper = train_config_from_dict({"model": {"encoder": "resnet18"}})
    with pytest.raises(CathxError, match=r"loss, prioritization differ .*preset 'legacy'"):
        check_same_experiment(paper, path)


def test_a_stage_without_its_own_lr_trains_at_optim_lr():
    from cathx.training.config import stage_lr

    cfg = train_config_from_dict({"optim": {"lr": 3.0e-3},
                                  "stages": [{"name": "a", "lr": 5.0e-4}, {"name": "b"}]})
    assert [stage_lr(cfg, s) for s in cfg.stages] == [5.0e-4, 3.0e-3]
    with pytest.raises(ConfigError, match=r"stages\.a\.lr: must be positive, got -0\.001"):
        train_config_from_dict({"stages": [{"name": "a", "lr": -1e-3}, {"name": "b"}]})
