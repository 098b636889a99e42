"""The pure parts of benchmarks/generalisation.py (the script itself trains for minutes)."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "generalisation.py"
spec = importlib.util.spec_from_file_location("generalisation", SCRIPT)
generalisation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generalisation)


def test_the_oracle_trains_on_the_frames_the_randomised_model_never_saw():
    train, in_dist, held = generalisation.engines("noise", "oracle")
    assert train == in_dist == held and held.dose == (400.0, 800.0)
    randomised_train, randomised_in_dist, randomised_held = generalisation.engines("noise", "randomised")
    assert randomised_held == held  # both are tested on the same held-out engine
    assert randomised_train == randomised_in_dist and randomised_train.dose == (3000.0, 8000.0)


def test_look_alikes_are_added_to_training_frames_only():
    plain = generalisation.engines("wires_and_leads", "local_norm")
    train, in_dist, held = generalisation.engines("wires_and_leads", "look_alikes")
    assert train.distractor_probability["look_alikes"] == 0.5
    assert (in_dist, held) == plain[1:]  # tested on exactly local_norm's frames
    assert in_dist.distractor_probability["look_alikes"] == 0.0
    assert train.distractor_probability["crossing_wires"] == 0.0  # the family stays held out


def _run(family, variant, seed, j, ap):
    return {"family": family, "variant": variant, "seed": seed, "held_out": {"mean_j": j, "ap50": ap}}


def test_oracle_ratios_pair_runs_by_seed():
    rows = [_run("noise", "randomised", 0, 0.12, 0.02), _run("noise", "oracle", 0, 0.24, 0.08),
            _run("noise", "randomised", 1, 0.15, 0.03), _run("noise", "oracle", 1, 0.20, 0.06),
            _run("noise", "randomised", 2, 0.5, 0.5),  # no oracle for seed 2: left out
            _run("display", "randomised", 0, 0.3, 0.3)]  # no oracle at all: no row
    ratios = generalisation.oracle_ratios(rows)
    assert list(ratios) == ["noise"]
    j, ap = ratios["noise"]
    assert j == pytest.approx([0.5, 0.75]) and ap == pytest.approx([0.25, 0.5])


def test_every_variant_builds_a_valid_training_config():
    for name, variant in generalisation.VARIANTS.items():
        cfg = generalisation.train_config(0, (10, 20), variant, 1)
        assert (cfg.data.intensity, cfg.data.noise, cfg.data.scale, cfg.model["input_norm"]) == (
            variant.intensity, variant.noise, variant.scale, variant.input_norm), name
        assert [stage.max_steps for stage in cfg.stages] == [10, 20]
    assert generalisation.VARIANTS["correlated_noise"].noise == "correlated"
    assert generalisation.VARIANTS["wide_scale"].scale == 0.3
    assert generalisation.VARIANTS["local_norm"].input_norm == "local"
    assert generalisation.train_config(0, (1, 1), generalisation.VARIANTS["local_norm_15"], 1).model["input_norm_window"] == 15
    assert generalisation.VARIANTS["randomised"].scale == 0.15  # the recipes' own jitter


def test_every_family_has_settings_beyond_the_default_ranges():
    from cathx.data.synthetic import SynthConfig

    default = SynthConfig()
    assert set(generalisation.BEYOND) == set(generalisation.FAMILIES)
    for family, overrides in generalisation.BEYOND.items():
        engine = generalisation.engine_config("randomised", overrides)  # a valid engine
        outside = [key for key, value in overrides.items()
                   if isinstance(value, tuple) and (value[0] >= getattr(default, key)[1] or value[1] <= getattr(default, key)[0])]
        assert outside, family  # at least one range no default training draws from
        assert all(getattr(engine, key) == overrides[key] for key in outside)


def test_weights_markdown_gives_each_set_relative_to_the_models_default_frames():
    report = {"cpu": "test cpu", "command": "c", "test_frames": 10, "scores": {
        "a": {"default": {"mean_j": 0.5, "ap50": 0.4}, "noise/beyond": {"mean_j": 0.25, "ap50": 0.1}},
        "b": {"default": {"mean_j": 0.8, "ap50": 0.5}, "noise/beyond": {"mean_j": 0.6, "ap50": 0.5}}}}
    text = generalisation.weights_markdown(report)
    assert "| default | 0.500 | 0.400 | 0.800 | 0.500 |" in text
    assert "| noise/beyond | 0.250 (0.50x) | 0.100 (0.25x) | 0.600 (0.75x) | 0.500 (1.00x) |" in text


def test_model_label_names_a_runs_checkpoint_by_its_folder():
    assert generalisation.model_label("runs/cathx_fluoro_lcn/best.pt") == "cathx_fluoro_lcn"
    assert generalisation.model_label("src/cathx/weights/cathx-fluoro.safetensors") == "cathx-fluoro"
    assert generalisation.model_label("best.pt") == "best"


def test_wide_wires_widen_training_wires_only():
    train, in_dist, held = generalisation.engines("circular_collimation", "wide_wires")
    assert train.wire_width_scale == (1.0, 2.5)
    assert in_dist.wire_width_scale == held.wire_width_scale == (1.0, 1.0)
    assert (in_dist, held) == generalisation.engines("circular_collimation", "local_norm")[1:]
