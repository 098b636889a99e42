"""The chest experiment config: strict YAML, data overrides, fold check."""

from __future__ import annotations

import pytest

from cathx.errors import ConfigError
from cathx.training.chest_config import ClsTrainConfig, check_fold, load_cls_config


def test_defaults_overrides_and_the_shipped_demo():
    assert load_cls_config(None) == ClsTrainConfig()
    cfg = load_cls_config(None, path="/data", fold=2, synth_n=None)
    assert cfg.data.path == "/data" and cfg.data.fold == 2 and cfg.data.synth_n == ClsTrainConfig().data.synth_n
    from cathx.config import resolve_config

    demo = load_cls_config(resolve_config("chest_demo"))
    assert demo.model.kind == "seg_aided"


def test_unknown_keys_bad_choices_and_folds_are_errors(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data: {bacth_size: 4}\n")
    with pytest.raises(ConfigError, match=r"c.yaml.*unknown key 'bacth_size'; valid keys: .*batch_size"):
        load_cls_config(config)
    config.write_text("precision: 16-mixed\n")
    with pytest.raises(ConfigError, match="precision.*32-true.*bf16-mixed"):
        load_cls_config(config)
    config.write_text("data: {synth: {core_depth: [0.5, 1.5]}}\n")
    with pytest.raises(ConfigError, match=r"c.yaml: data.synth.core_depth: must be"):
        load_cls_config(config)
    config.write_text("data: {intensity: 1.5}\n")
    with pytest.raises(ConfigError, match=r"c.yaml: data.intensity: must be between 0 and 1, got 1.5"):
        load_cls_config(config)
    check_fold(load_cls_config(None, fold=4))
    with pytest.raises(ConfigError, match="fold: must be between 0 and 4, got 5"):
        check_fold(load_cls_config(None, fold=5))
