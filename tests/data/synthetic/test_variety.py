"""Domain randomisation of the synthetic engine: look-alike distractors, display processing,
anatomy edges, and the one-line errors for impossible parameters."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cathx.data.synthetic import SynthConfig, render_frame
from cathx.data.synthetic.distractors import SAMPLERS
from cathx.data.synthetic.geometry import View, rotation_matrix
from cathx.data.synthetic.render import display_processing, gain_bands
from cathx.errors import ConfigError


def _view(size: int = 128) -> View:
    return View(rotation=rotation_matrix(0.0, 0.0), px_per_mm=size / 256.0, centre=(size / 2, size / 2),
                source_object_mm=750.0)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_distractor_sampler_draws_something_inside_the_frame(name):
    items = SAMPLERS[name](np.random.default_rng(3), 128, _view())
    assert items, name
    points = np.concatenate([item.points for item in items])
    inside = np.all((points >= 0) & (points < 128), axis=1)
    assert inside.mean() > 0.2  # mostly placed over the heart, not off-screen
    assert all(item.radius > 0 and item.peak > 0 for item in items)


def test_distractors_are_unlabelled_but_visible():
    """With every look-alike forced on, the frame changes where they are but the labels do not."""
    only = dict.fromkeys(SAMPLERS, 0.0)
    plain = SynthConfig(distractor_probability=only, text_probability=0.0)
    busy = SynthConfig(distractor_probability=dict.fromkeys(SAMPLERS, 1.0), text_probability=0.0)
    a, b = render_frame(11, 128, plain), render_frame(11, 128, busy)
    assert set(SAMPLERS) <= set(b.sample.meta["distractors"])
    assert not set(SAMPLERS) & set(a.sample.meta["distractors"])
    assert b.distractor_coverage.sum() > a.distractor_coverage.sum() + 50


def test_display_processing_inverts_and_burns_in_text():
    image = np.full((128, 128), 0.4, np.float32)
    np.testing.assert_allclose(display_processing(image, invert=True), 0.6, atol=1e-6)
    lut = display_processing(np.array([[0.0, 0.5, 1.0]], np.float32), lut_slope=6.0)
    np.testing.assert_allclose(lut, [[0.0, 0.5, 1.0]], atol=1e-6)  # the S-curve keeps the end points and mid grey
    assert display_processing(np.array([[0.25]], np.float32), lut_slope=6.0)[0, 0] < 0.25  # and steepens
    burned = display_processing(image, text_seed=4)
    changed = np.abs(burned - image) > 0.05
    assert 20 < changed.sum() < 0.3 * image.size  # some annotation, not a painted-over frame


def test_gain_bands_are_zero_mean_structured_noise():
    bands = gain_bands(2, 64)
    assert bands.shape == (64, 64) and bands.dtype == np.float32
    assert abs(np.median(bands)) < 1.0 and bands.std() > 0.1


def test_anatomy_edges_switch_off():
    on = SynthConfig(clavicle_probability=1.0, scapula_probability=1.0, arm_probability=1.0, endplate=(0.3, 0.3))
    off = SynthConfig(clavicle_probability=0.0, scapula_probability=0.0, arm_probability=0.0, endplate=(0.0, 0.0))
    a, b = render_frame(5, 128, on), render_frame(5, 128, off)
    assert np.abs(a.line_integral - b.line_integral).max() > 0.05


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dose": (-5.0, 100.0)}, "dose: must be positive"),
        ({"dose": (900.0, 100.0)}, "dose: low 900.0 is above high 100.0"),
        ({"iris_radius": (0.5, 0.9)}, "iris_radius"),
        ({"collimation_depth": (0.1, 0.6)}, "collimation_depth"),
        ({"invert_probability": 1.5}, "invert_probability: a probability must be in [0, 1]"),
        ({"distractor_probability": {"sternal_loop": 0.5}}, "unknown name 'sternal_loop'; choose from icd_lead"),
        ({"scatter_fraction": (-0.1, 0.2)}, "scatter_fraction: must not be negative"),
    ],
)
def test_impossible_parameters_name_the_parameter(change, message):
    with pytest.raises(ConfigError, match=None) as info:
        dataclasses.replace(SynthConfig(), **change)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_synth_command_rejects_bad_engine_yaml(tmp_path, run_cli):
    config = tmp_path / "engine.yaml"
    config.write_text("dose: [-10, 100]\n")
    result = run_cli("synth", tmp_path / "out", "--n", "4", "--size", "64", "--config", config)
    assert result.exit_code == 2
    assert "dose: must be positive" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("sternal_wire_count: 3\n")
    result = run_cli("synth", tmp_path / "out", "--n", "4", "--size", "64", "--config", unknown)
    assert result.exit_code == 2 and "sternal_wire_count" in result.stderr
