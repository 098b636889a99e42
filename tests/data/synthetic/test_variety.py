"""Domain randomisation of the synthetic engine: look-alike distractors, display processing,
anatomy edges, and the one-line errors for impossible parameters."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from cathx.data.synthetic import SynthConfig, render_frame
from cathx.data.synthetic.config import NOMINAL_LOOK
from cathx.data.synthetic.distractors import SAMPLERS
from cathx.data.synthetic.geometry import (
    Device,
    View,
    rotation_matrix,
    scale_electrode_layout,
    vary_device_look,
)
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
        ({"invert_probability": 1.5}, "invert_probability: a probability must be a number in [0, 1], got 1.5"),
        ({"catheter_probability": {"lasso": "high"}}, "catheter_probability.lasso: a probability must be a number"),
        ({"distractor_probability": {"stent": None}}, "distractor_probability.stent: a probability must be a number"),
        ({"dose": (400.0,)}, "dose: a range must be two finite numbers [low, high], got [400.0]"),
        ({"dose": (1.0, 2.0, 3.0)}, "dose: a range must be two finite numbers"),
        ({"gamma": (0.7, float("nan"))}, "gamma: a range must be two finite numbers"),
        ({"min_box_px": float("inf")}, "min_box_px: must be a finite number, got inf"),
        ({"max_quadripolar": 0}, "max_quadripolar: at least 1, got 0"),
        ({"mask_coverage_threshold": 0.0}, "mask_coverage_threshold: the share of a pixel"),
        ({"recursive_filter": (0.0, 0.0)}, "recursive_filter: the new frame's weight, in (0, 1]"),
        ({"catheter_types": ()}, "catheter_types: name at least one of cs_decapolar"),
        ({"distractor_probability": {"sternal_loop": 0.5}}, "unknown name 'sternal_loop'; choose from icd_lead"),
        ({"scatter_fraction": (-0.1, 0.2)}, "scatter_fraction: must not be negative"),
        ({"radius_scale": (0.0, 1.2)}, "radius_scale: must be positive"),
        ({"wire_width_scale": (0.0, 2.0)}, "wire_width_scale: must be positive"),
        ({"electrode_length_scale": (1.5, 0.75)}, "electrode_length_scale: low 1.5 is above high 0.75"),
        ({"dose_sampling": "log"}, "dose_sampling: unknown value 'log'; choose from uniform, log_uniform"),
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


def test_scale_electrode_layout_keeps_the_tip_ring_at_the_tip_and_scales_gaps():
    # rings 2 mm long, the first from the tip (0-2 mm), a 3-mm gap, the second 5-7 mm
    layout = np.array([[1.0, 2.0], [6.0, 2.0]])
    scaled = scale_electrode_layout(layout, length_scale=1.5, spacing_scale=2.0)
    # lengths 3 mm, gap 6 mm: rings at 0-3 and 9-12 mm
    np.testing.assert_allclose(scaled, [[1.5, 3.0], [10.5, 3.0]])
    # a ring starting 1 mm from the tip keeps a scaled distance; gaps never close below 0.5 mm
    tight = scale_electrode_layout(np.array([[2.0, 2.0], [5.0, 2.0]]), length_scale=1.5, spacing_scale=0.5)
    np.testing.assert_allclose(tight, [[0.5 + 1.5, 3.0], [0.5 + 3.0 + 0.5 + 1.5, 3.0]])
    assert scale_electrode_layout(np.zeros((0, 2)), 2.0, 2.0).shape == (0, 2)


def test_vary_device_look_scales_the_material_and_keeps_rings_denser_than_the_shaft():
    points = np.zeros((200, 3))
    device = Device("quadripolar", points, radius_mm=1.0, shaft_attenuation=0.5,
                    electrodes=np.array([[1.0, 2.0], [6.0, 2.0]]), electrode_attenuation=1.5)
    thin = vary_device_look(device, 0.8, 0.6, 1.2, 1.0, 1.0)
    assert thin.radius_mm == pytest.approx(0.8) and thin.shaft_attenuation == pytest.approx(0.3)
    assert thin.electrode_attenuation == pytest.approx(1.8)
    np.testing.assert_allclose(thin.electrodes, device.electrodes)
    dense = vary_device_look(device, 1.0, 1.5, 0.5, 1.0, 1.0)  # rings 0.75 < 1.5 x shaft 0.75
    assert dense.electrode_attenuation == pytest.approx(1.5 * 0.75)
    lasso = vary_device_look(dataclasses.replace(device, kind="lasso"), 1.0, 1.0, 1.0, 1.0, 2.0)
    np.testing.assert_allclose(lasso.electrodes, device.electrodes)  # the loop fixes a lasso's ring places


def test_device_look_variety_changes_only_the_catheters():
    quiet = dict(distractor_probability=dict.fromkeys(SAMPLERS, 0.0), sternal_wire_probability=0.0,
                 ecg_probability=0.0, guidewire_probability=0.0, probe_probability=0.0,
                 pacemaker_can_probability=0.0, sheath_probability=0.0)
    a = render_frame(11, 128, SynthConfig(**quiet, **NOMINAL_LOOK))
    b = render_frame(11, 128, SynthConfig(**quiet, **{**NOMINAL_LOOK, "radius_scale": (1.2, 1.2),
                                                       "shaft_opacity_scale": (1.5, 1.5)}))
    catheter = a.sample.mask > 0
    assert catheter.any()
    # same scene (anatomy, view, routes): identical away from the catheters, denser on them
    far = ~np.asarray(cv2.dilate(catheter.astype(np.uint8), np.ones((9, 9), np.uint8)), bool)
    np.testing.assert_allclose(a.line_integral[far], b.line_integral[far], atol=1e-4)
    assert b.line_integral[catheter].mean() > a.line_integral[catheter].mean() + 0.05
    assert b.sample.mask.sum() > a.sample.mask.sum()  # thicker tubes cover more pixels


def test_log_uniform_dose_gives_each_doubling_the_same_share():
    """Log-uniform on (400, 8000): P(< 800) = ln 2 / ln 20 = 0.231; uniform: 400 / 7600 = 0.053."""
    from cathx.data.synthetic.scene import log_uniform

    rng = np.random.default_rng(0)
    draws = np.array([log_uniform(rng, (400.0, 8000.0)) for _ in range(20_000)])
    assert draws.min() >= 400.0 and draws.max() <= 8000.0
    assert abs((draws < 800.0).mean() - np.log(2) / np.log(20)) < 0.01
    assert abs((draws < 1600.0).mean() - 2 * np.log(2) / np.log(20)) < 0.01
    assert log_uniform(rng, (500.0, 500.0)) == pytest.approx(500.0)


def test_dose_sampling_changes_the_dose_and_nothing_else_of_a_scene():
    from cathx.data.synthetic.scene import sample_scene

    plain = sample_scene(np.random.default_rng(7), 256, SynthConfig())
    logged = sample_scene(np.random.default_rng(7), 256, SynthConfig(dose_sampling="log_uniform"))
    assert logged.imaging["dose"] != plain.imaging["dose"]
    assert {k: v for k, v in logged.imaging.items() if k != "dose"} == {
        k: v for k, v in plain.imaging.items() if k != "dose"}
    # the same one draw, mapped through the log: low = 400 * 20 ** u, uniform = 400 + 7600 * u
    u = (plain.imaging["dose"] - 400.0) / 7600.0
    assert logged.imaging["dose"] == pytest.approx(400.0 * 20.0 ** u)


def test_synth_command_reads_dose_sampling_from_the_engine_yaml(tmp_path, run_cli):
    config = tmp_path / "engine.yaml"
    config.write_text("dose_sampling: loguniform\n")
    result = run_cli("synth", tmp_path / "out", "--n", "4", "--size", "64", "--config", config)
    assert result.exit_code == 2
    assert "invalid value 'loguniform'; choose from uniform, log_uniform" in result.stderr


def test_look_alikes_off_leave_every_frame_as_the_engine_drew_it_before_them(monkeypatch):
    """The sampler was added after datasets and model cards were made: off (the default), it must
    not take a draw from the random stream, so a seed's frame is the frame of the engine without it."""
    from cathx.data.synthetic import scene

    now = render_frame(5, 96, SynthConfig()).sample
    monkeypatch.setattr(scene, "SAMPLERS", {k: v for k, v in SAMPLERS.items() if k != "look_alikes"})
    before = render_frame(5, 96, SynthConfig()).sample
    np.testing.assert_array_equal(now.image, before.image)
    np.testing.assert_array_equal(now.mask, before.mask)
    monkeypatch.setattr(scene, "SAMPLERS", SAMPLERS)
    monkeypatch.setattr(scene, "DRAWN_ONLY_WHEN_ON", frozenset())  # without the guard the stream shifts
    assert not np.array_equal(render_frame(5, 96, SynthConfig()).sample.image, now.image)


def test_look_alikes_are_unlabelled_and_drawn_when_on():
    only = {**dict.fromkeys(SAMPLERS, 0.0), "look_alikes": 1.0}
    frame = render_frame(8, 128, SynthConfig(distractor_probability=only))
    assert "look_alikes" in frame.sample.meta["distractors"]
    off = render_frame(8, 128, SynthConfig(distractor_probability={**only, "look_alikes": 0.0}))
    assert "look_alikes" not in off.sample.meta["distractors"]


def test_wire_width_scale_widens_only_the_thin_unlabelled_tubes():
    from cathx.data.synthetic.scene import WIRE_MM, sample_scene

    plain = sample_scene(np.random.default_rng(4), 128, SynthConfig(ecg_leads=(3, 4)))
    wide = sample_scene(np.random.default_rng(4), 128, SynthConfig(ecg_leads=(3, 4), wire_width_scale=(2.0, 2.0)))
    k = plain.view.px_per_mm
    assert len(plain.distractors) == len(wide.distractors) and plain.distractors
    thin = 0
    for a, b in zip(plain.distractors, wide.distractors):
        np.testing.assert_array_equal(a.points, b.points)
        wire = a.shape == "tube" and a.radius < WIRE_MM * k
        thin += wire
        assert b.radius == pytest.approx(a.radius * (2.0 if wire else 1.0))
    assert thin > 0
