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
    assert demo.model.kind == "seg_aided" and demo.template_first.epochs > 0  # the two-part quick recipe


BAD_CONFIGS = [
    ("data: {bacth_size: 4}\n", r"c.yaml.*unknown key 'bacth_size'; valid keys: .*batch_size"),
    ("precision: 16-mixed\n", "precision.*32-true.*bf16-mixed"),
    ("data: {synth: {core_depth: [0.5, 1.5]}}\n", r"c.yaml: data.synth.core_depth: must be"),
    ("data: {intensity: 1.5}\n", r"c.yaml: data.intensity: must be between 0 and 1, got 1.5"),
    ("template_first: {epochs: -1}\n", r"c.yaml: template_first.epochs: must be 0 \(off\) or more, got -1"),
    ("template_first: {lr: 0}\n", r"c.yaml: template_first.lr: must be positive, got 0"),
    ("template_first: {epoch: 3}\n", r"unknown key 'epoch'; valid keys: .*epochs"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_unknown_keys_and_bad_values_name_the_file_and_key(tmp_path, text, message):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_cls_config(config)


def test_fold_outside_the_folds_is_an_error():
    check_fold(load_cls_config(None, fold=4))
    with pytest.raises(ConfigError, match="fold: must be between 0 and 4, got 5"):
        check_fold(load_cls_config(None, fold=5))


def test_template_part_switches_the_variety_and_intensity_off_and_keeps_the_scenes(tmp_path):
    from cathx.data.chest.synthetic import VARIETY_OFF
    from cathx.training.chest_config import template_part

    config = tmp_path / "c.yaml"
    config.write_text("data: {synth_n: 40, synth_seed: 7, path: /data, intensity: 0.5}\n"
                      "epochs: 5\nlr: 0.001\ntemplate_first: {epochs: 3, lr: 0.004, max_minutes: 2}\n")
    cfg = load_cls_config(config)
    part = template_part(cfg)
    assert (part.epochs, part.lr, part.max_minutes, part.template_first.epochs) == (3, 0.004, 2.0, 0)
    assert part.data.path == "" and part.data.intensity == 0.0
    assert (part.data.synth_n, part.data.synth_seed) == (40, 7)
    assert all(getattr(part.data.synth, key) == value for key, value in VARIETY_OFF.items())
    assert part.data.synth.cvc_prob == cfg.data.synth.cvc_prob and part.model == cfg.model
