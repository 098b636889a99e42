"""The engine's label helpers by hand (scene.py): visible runs, the tip run, motion, and the
labels render_scene assembles (electrode ids and boxes, centrelines, types, meta)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cathx.data.synthetic import SynthConfig
from cathx.data.synthetic.geometry import point_at
from cathx.data.synthetic.scene import (
    HEART_CENTRE,
    _tip_run,
    _visible_runs,
    frame_rng,
    motion_state,
    move,
    render_scene,
    sample_scene,
)


def _column(values: list[float]) -> np.ndarray:
    """Points (M, 2) on the diagonal: x = y = value."""
    return np.repeat(np.asarray(values, np.float64)[:, None], 2, axis=1)


def test_visible_runs_keep_one_point_either_side_of_each_inside_stretch():
    points = _column([-10, 1, 2, 3, 50, 60, 4, 5])
    runs = _visible_runs(points, limit=10, margin=0)
    assert [run[:, 0].tolist() for run in runs] == [[-10, 1, 2, 3, 50], [60, 4, 5]]


def test_visible_runs_margin_widens_the_inside():
    points = _column([-10, 1, 2, 3, 50, 60, 4, 5])
    runs = _visible_runs(points, limit=10, margin=10)  # -10 is inside now, 50 and 60 still out
    assert [run[:, 0].tolist() for run in runs] == [[-10, 1, 2, 3, 50], [60, 4, 5]]
    runs = _visible_runs(_column([-11, 1, 21, 30]), limit=10, margin=10)
    assert [run[:, 0].tolist() for run in runs] == [[-11, 1, 21]]
    assert _visible_runs(_column([-5, 20]), limit=10, margin=0) == []


def test_visible_runs_needs_both_coordinates_inside():
    points = np.array([[1.0, 1.0], [2.0, 12.0], [3.0, 3.0]])
    assert [run.tolist() for run in _visible_runs(points, limit=10, margin=0)] == [
        [[1.0, 1.0], [2.0, 12.0]], [[2.0, 12.0], [3.0, 3.0]]]


def test_tip_run_is_the_first_inside_stretch_from_the_tip():
    points = np.array([[-1, 5], [2, 2], [3, 3], [20, 20], [4, 4]], np.float64)
    assert _tip_run(points, size=10).tolist() == [[2, 2], [3, 3]]
    assert _tip_run(points[1:3], size=10).tolist() == [[2, 2], [3, 3]]  # inside to the end
    assert _tip_run(np.array([[0, 0], [9, 9], [10, 9]], np.float64), size=10).tolist() == [[0, 0], [9, 9]]
    nothing = _tip_run(np.array([[-1.0, 5.0], [12.0, 5.0]]), size=10)
    assert nothing.shape == (0, 2) and nothing.dtype == np.float32


@pytest.fixture(scope="module")
def scene():
    return sample_scene(frame_rng(3, 0), 96, SynthConfig())


def test_motion_state_by_hand(scene):
    motion = {"respiration_hz": 0.25, "respiration_phase": 0.0, "respiration_mm": 10.0,
              "heart_rate_hz": 1.0, "cardiac_phase": 0.0, "cardiac_mm": 2.0}
    still = replace(scene, motion=motion)
    assert motion_state(still, 2.0) == pytest.approx((10.0, 0.0))  # full breath, beat at its start
    breath = 10.0 * (0.5 - 0.5 * np.cos(2 * np.pi * 0.05)) ** 1.5
    assert motion_state(still, 0.2) == pytest.approx((breath, 1.0))  # beat phase 0.2: the peak
    assert motion_state(still, 0.1)[1] == pytest.approx(0.5)  # sin(pi / 4) ** 2
    assert motion_state(still, 0.5)[1] == 0.0  # diastole: beat phase 0.5 >= 0.4
    shifted = replace(scene, motion={**motion, "respiration_phase": 0.5, "cardiac_phase": 0.2})
    assert motion_state(shifted, 0.0) == pytest.approx((10.0, 1.0))
    assert motion_state(still, 4.0)[0] == pytest.approx(0.0)  # one respiration period later


def test_move_by_hand():
    low, high = np.array([[0.0, -60.0, 300.0]]), np.array([[0.0, -300.0, 300.0]])  # far from the heart
    # Respiration: cranio-caudal mostly, full weight from y = -60 mm, 0.2 below y = -188 mm.
    np.testing.assert_allclose(move(low, 5.0, 0.0, 2.0, 1.0), low + [[0.6, 5.0, 0.5]], atol=1e-9)
    np.testing.assert_allclose(move(high, 5.0, 0.0, 2.0, 1.0), high + 0.2 * np.array([[0.6, 5.0, 0.5]]), atol=1e-9)
    half = np.array([[0.0, -140.0, 300.0]])  # (-140 + 220) / 160 = 0.5
    np.testing.assert_allclose(move(half, 4.0, 0.0, 2.0, 1.0), half + 0.5 * np.array([[0.48, 4.0, 0.4]]), atol=1e-9)
    # Contraction: towards the heart's centre by cardiac_mm * beat * weight * exp(-(d / 60) ** 2).
    near = (HEART_CENTRE + [60.0, 0.0, 0.0])[None]
    expected = near - [[2.0 * 0.5 * 0.8 * np.exp(-1.0), 0.0, 0.0]]
    np.testing.assert_allclose(move(near, 0.0, 0.5, 2.0, 0.8), expected, atol=1e-6)
    np.testing.assert_allclose(move(near, 0.0, 0.0, 2.0, 0.8), near, atol=1e-9)


def test_render_scene_labels_each_catheter_in_order(scene):
    frame, _ = render_scene(scene, frame_rng(3, 1), SynthConfig(), time_s=0.0)
    sample = frame.sample
    assert sample.catheter_types == [device.kind for device in scene.catheters]
    assert len(sample.centrelines) == len(frame.catheter_masks) == len(scene.catheters)
    ids = sample.electrode_catheter_ids
    assert ids.dtype == np.int64 and np.all(np.diff(ids) >= 0)  # catheter by catheter, in order
    union = np.zeros_like(sample.mask)
    for index, (mask, centreline) in enumerate(zip(frame.catheter_masks, sample.centrelines, strict=True)):
        union |= mask
        mine = sample.electrodes[ids == index]
        rows, cols = np.round(mine[:, 1]).astype(int), np.round(mine[:, 0]).astype(int)
        assert mask[rows, cols].all()  # every electrode on its own catheter's mask
        if len(centreline) > 1:
            steps = np.hypot(*np.diff(centreline, axis=0).T)
            # Resampled every 2 px at 256 px (0.75 px here): chords of that arc length, never longer.
            assert np.all(steps <= 0.75 + 1e-4) and np.median(steps) == pytest.approx(0.75, abs=5e-4)
            assert centreline.dtype == np.float32 and (centreline >= 0).all() and (centreline <= 95).all()
    np.testing.assert_array_equal(sample.mask, union)
    assert len(sample.electrodes) == len(sample.electrode_sizes) == len(ids) > 0
    meta = sample.meta
    breath, beat = motion_state(scene, 0.0)
    assert (meta["breath_mm"], meta["cardiac_contraction"]) == (breath, beat)
    assert meta["catheter_ids"] == list(range(len(scene.catheters)))
    assert (meta["source"], meta["dose"], meta["pixel_spacing_mm"]) == (
        "synthetic", scene.imaging["dose"], scene.imaging["spacing_mm"])


def test_centreline_starts_at_the_tip(scene):
    frame, _ = render_scene(scene, frame_rng(3, 1), SynthConfig(), time_s=0.0)
    breath, beat = motion_state(scene, 0.0)
    for device, centreline in zip(scene.catheters, frame.sample.centrelines, strict=True):
        tip = scene.view.project(move(device.points[:1], breath, beat, scene.motion["cardiac_mm"],
                                      device.motion_weight))[0]
        if len(centreline) and (0 <= tip).all() and (tip <= 95).all():
            np.testing.assert_allclose(centreline[0], tip, atol=1e-3)


def test_electrode_boxes_span_the_ring_and_respect_the_smallest_box(scene):
    """Each box is the projected ring (both ends) plus the ring's radius on either side, at least
    min_box_px (scaled to the frame size) per side."""
    config = SynthConfig(min_box_px=3.0)
    frame, _ = render_scene(scene, frame_rng(3, 1), config, time_s=0.0)
    breath, beat = motion_state(scene, 0.0)
    sample, min_box = frame.sample, 3.0 * 96 / 256
    checked = 0
    for index, device in enumerate(scene.catheters):
        moved = move(device.points, breath, beat, scene.motion["cardiac_mm"], device.motion_weight)
        e_radius = device.radius_mm * scene.view.px_per_mm * device.electrode_radius_scale
        centres = scene.view.project(point_at(moved, device.electrodes[:, 0]))
        starts = scene.view.project(point_at(moved, device.electrodes[:, 0] - device.electrodes[:, 1] / 2))
        ends = scene.view.project(point_at(moved, device.electrodes[:, 0] + device.electrodes[:, 1] / 2))
        labelled = sample.electrodes[sample.electrode_catheter_ids == index]
        sizes = sample.electrode_sizes[sample.electrode_catheter_ids == index]
        for centre, start, end in zip(centres, starts, ends, strict=True):
            match = np.flatnonzero(np.hypot(*(labelled - centre).T) < 1e-3)
            if len(match) == 0:
                continue  # off the image or behind the collimator
            expected = np.maximum(np.abs(end - start) + 2 * e_radius, min_box)
            np.testing.assert_allclose(sizes[match[0]], expected, rtol=1e-5)
            checked += 1
    assert checked >= 5
    bigger, _ = render_scene(scene, frame_rng(3, 1), SynthConfig(min_box_px=12.0), time_s=0.0)
    assert np.all(bigger.sample.electrode_sizes >= 12.0 * 96 / 256 - 1e-5)
    assert np.any(bigger.sample.electrode_sizes > sample.electrode_sizes)


def test_the_beat_repeats_every_heartbeat(scene):
    motion = {"respiration_hz": 0.25, "respiration_phase": 0.0, "respiration_mm": 10.0,
              "heart_rate_hz": 1.0, "cardiac_phase": 0.0, "cardiac_mm": 2.0}
    still = replace(scene, motion=motion)
    assert motion_state(still, 1.2)[1] == pytest.approx(1.0)  # beat phase 1.2 wraps to 0.2: the peak
    assert motion_state(still, 2.1)[1] == pytest.approx(0.5)


def test_frames_follow_their_seed_and_config():
    from cathx.data.synthetic.scene import generate_frame, render_frame

    config = SynthConfig()
    again = generate_frame(5, 64)
    np.testing.assert_array_equal(again.image, generate_frame(5, 64).image)
    assert not np.array_equal(again.image, generate_frame(6, 64).image)
    # The scene from stream (seed, 0), the noise and motion phase from stream (seed, 1).
    scene = sample_scene(frame_rng(5, 0), 64, config)
    expected, _ = render_scene(scene, frame_rng(5, 1), config)
    frame = render_frame(5, 64)
    np.testing.assert_array_equal(frame.sample.image, expected.sample.image)
    np.testing.assert_array_equal(frame.sample.mask, expected.sample.mask)
    np.testing.assert_array_equal(again.image, expected.sample.image)
    assert frame.sample.image.shape == (64, 64)
    lasso_only = SynthConfig(catheter_types=("lasso",), empty_probability=0.0)
    assert set(generate_frame(5, 64, lasso_only).catheter_types) == {"lasso"}
    assert set(render_frame(5, 64, lasso_only).sample.catheter_types) == {"lasso"}
    assert frame_rng(5, 0).random() != frame_rng(5, 1).random() != frame_rng(6, 1).random()


def test_label_arrays_and_meta_have_their_types(scene):
    frame, _ = render_scene(scene, frame_rng(3, 1), SynthConfig(), time_s=0.0)
    sample = frame.sample
    assert sample.electrodes.dtype == sample.electrode_sizes.dtype == np.float32
    assert sample.meta["distractors"] == list(scene.distractor_kinds)
    assert frame.catheter_coverage.shape == frame.distractor_coverage.shape == (96, 96)


def test_independent_frames_draw_breath_and_beat_from_the_noise_stream(scene):
    deep = replace(scene, motion={**scene.motion, "respiration_mm": 40.0})
    drawn = [render_scene(deep, frame_rng(3, k), SynthConfig())[0].sample.meta for k in range(1, 9)]
    breaths = [meta["breath_mm"] for meta in drawn]
    beats = [meta["cardiac_contraction"] for meta in drawn]
    assert 0.0 <= min(breaths) and max(breaths) <= 40.0 and max(breaths) > 5.0  # uniform over 0..40 mm
    assert 0.0 <= min(beats) and max(beats) < 1.0 and max(beats) - min(beats) > 0.2  # uniform over 0..1


def _displayed(scene, **imaging):
    changed = replace(scene, imaging={**scene.imaging, **imaging})
    return render_scene(changed, frame_rng(3, 1), SynthConfig(), time_s=0.0)[0].sample.image


def test_display_factors_reach_the_image(scene):
    plain = _displayed(scene, invert=0.0, text=0.0, lut_slope=0.0, gain_pattern=0.0)
    np.testing.assert_allclose(_displayed(scene, invert=1.0, text=0.0, lut_slope=0.0, gain_pattern=0.0),
                               1.0 - plain, atol=1e-6)
    texted = _displayed(scene, invert=0.0, text=1.0, lut_slope=0.0, gain_pattern=0.0)
    assert 0 < np.count_nonzero(texted != plain) < plain.size // 2  # burned-in text: some pixels only
    assert not np.allclose(_displayed(scene, invert=0.0, text=0.0, lut_slope=8.0, gain_pattern=0.0), plain)
    banded = _displayed(scene, invert=0.0, text=0.0, lut_slope=0.0, gain_pattern=0.2)
    assert not np.allclose(banded, plain)
    without = replace(scene, imaging={k: v for k, v in scene.imaging.items()
                                      if k not in ("invert", "text", "lut_slope", "gain_pattern")})
    np.testing.assert_array_equal(render_scene(without, frame_rng(3, 1), SynthConfig(), time_s=0.0)[0].sample.image,
                                  plain)  # absent factors are off


def test_visible_runs_include_both_edges_of_the_margin():
    runs = _visible_runs(_column([-10, 0, 20]), limit=10, margin=10)
    assert [run[:, 0].tolist() for run in runs] == [[-10, 0, 20]]


def test_move_caps_the_respiration_weight_and_fades_contraction_with_distance():
    above = np.array([[0.0, 20.0, 300.0]])  # (20 + 220) / 160 = 1.5: capped at 1
    np.testing.assert_allclose(move(above, 5.0, 0.0, 2.0, 1.0), above + [[0.6, 5.0, 0.5]], atol=1e-9)
    near = (HEART_CENTRE + [0.0, 0.0, 30.0])[None]  # 30 mm: exp(-(30 / 60) ** 2)
    expected = near - [[0.0, 0.0, 2.0 * np.exp(-0.25)]]
    np.testing.assert_allclose(move(near, 0.0, 1.0, 2.0, 1.0), expected, atol=1e-6)
