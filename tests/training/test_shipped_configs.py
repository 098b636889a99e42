"""Every YAML config in configs/ loads strictly with the loader of its command (a typo in a
shipped recipe, e.g. an unknown key, fails here rather than minutes into a training run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cathx.cli.benchmark import load_benchmark_config
from cathx.training.chest_config import load_cls_config
from cathx.training.config import load_train_config

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIGS = sorted(CONFIGS_DIR.glob("*.yaml"))


def _loader(path: Path):
    if path.name.startswith("benchmark"):
        return load_benchmark_config
    if "chest" in path.name:
        return load_cls_config
    return load_train_config


def test_configs_folder_is_found():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path: Path):
    assert _loader(path)(path) is not None


def test_a_typo_in_a_training_config_is_refused(tmp_path: Path):
    from cathx.config import ConfigError

    text = (CONFIGS_DIR / "cathx_fluoro_continue6.yaml").read_text().replace("type_head:", "type_haed:")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    with pytest.raises(ConfigError, match="type_haed"):
        load_train_config(broken)


def test_a_model_check_names_the_config_file(tmp_path: Path):
    import yaml

    from cathx.config import ConfigError

    broken = tmp_path / "broken.yaml"
    data = yaml.safe_load((CONFIGS_DIR / "demo.yaml").read_text())
    data["model"] = {**data.get("model", {}), "output_stride": 3}
    broken.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_train_config(broken)
    assert str(info.value).startswith(f"{broken}: ") and "output_stride" in str(info.value)
