from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from cathx.config import choices, from_dict, load_yaml
from cathx.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    width: int = 8


@dataclass(frozen=True)
class Outer:
    name: str = "a"
    rate: float = 0.1
    mode: str = field(default="soft", metadata=choices("soft", "hard"))
    inner: Inner = field(default_factory=Inner)
    sizes: tuple[int, ...] = (1, 2)


def test_from_dict_builds_nested_values():
    cfg = from_dict(Outer, {"rate": 1, "inner": {"width": 3}, "sizes": [4, 5], "mode": "hard"})
    assert cfg == Outer(rate=1.0, inner=Inner(width=3), sizes=(4, 5), mode="hard")


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'ratee'; valid keys: inner, mode, name, rate, sizes"):
        from_dict(Outer, {"ratee": 1})


def test_invalid_choice_lists_choices():
    with pytest.raises(ConfigError, match=r"config.mode: invalid value 'medium'; choose from soft, hard"):
        from_dict(Outer, {"mode": "medium"})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"config.inner.width: expected an integer"):
        from_dict(Outer, {"inner": {"width": "wide"}})


def test_exponent_without_a_dot_is_the_float_it_means(tmp_path):
    path = tmp_path / "lr.yaml"
    path.write_text("rate: 1e-4\n")  # PyYAML reads this as the string '1e-4'
    assert load_yaml(Outer, path).rate == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match=r"config.rate: expected float, got '1e-4x'"):
        from_dict(Outer, {"rate": "1e-4x"})
    with pytest.raises(ConfigError, match=r"config.name: expected str, got 0.5"):
        from_dict(Outer, {"name": 0.5})


def test_load_yaml_names_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_yaml(Outer, path)
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_yaml(Outer, tmp_path / "missing.yaml")


def test_training_loss_choices_match_the_losses_package():
    from cathx.losses import SEGMENTATION_LOSSES
    from cathx.training import config as training_config

    assert training_config.SEGMENTATION_LOSSES == SEGMENTATION_LOSSES


def test_unknown_segmentation_loss_lists_the_choices(tmp_path):
    from cathx.errors import ConfigError
    from cathx.training.config import load_train_config

    path = tmp_path / "bad.yaml"
    path.write_text("loss: {segmentation: focal}\n")
    with pytest.raises(ConfigError, match="bce-iou, dice"):
        load_train_config(path)


@pytest.mark.parametrize("crop", [100, 512])
def test_bad_training_crop_is_refused(tmp_path, crop):
    from cathx.training.config import load_train_config

    path = tmp_path / "bad.yaml"
    path.write_text(f"data: {{size: 256, crop: {crop}}}\n")
    with pytest.raises(ConfigError, match="data.crop: must be 0 or a multiple of 32 up to data.size"):
        load_train_config(path)
