"""Labels of the synthetic engine: electrodes on their own catheter, no distractors in masks,
determinism, sequences keeping identities."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cathx.data.synthetic import (
    TARGET_TYPES,
    SynthConfig,
    SyntheticReader,
    generate_frame,
    generate_sequence,
    render_frame,
)
from cathx.data.synthetic.scene import frame_rng, render_scene, sample_scene
from cathx.errors import ConfigError

SIZE = 96
BUSY = SynthConfig(
    ecg_probability=1.0,
    sternal_wire_probability=1.0,
    guidewire_probability=1.0,
    probe_probability=1.0,
    pacemaker_can_probability=1.0,
    sheath_probability=1.0,
    empty_probability=0.0,
)


def test_frame_follows_the_sample_schema():
    sample = generate_frame(3, SIZE)
    sample.validate()
    assert sample.image.shape == (SIZE, SIZE) and sample.image.dtype == np.float32
    assert 0.0 <= sample.image.min() and sample.image.max() <= 1.0
    assert set(np.unique(sample.mask)) <= {0, 1}
    assert len(sample.centrelines) == len(sample.catheter_types) == len(sample.meta["catheter_ids"])
    assert set(sample.catheter_types) <= set(TARGET_TYPES)
    assert sample.electrode_sizes.shape == sample.electrodes.shape
    assert np.all(sample.electrode_catheter_ids < len(sample.catheter_types))


@pytest.mark.parametrize("seed", range(6))
def test_every_electrode_lies_on_its_own_catheter_mask(seed):
    frame = render_frame(seed, SIZE, BUSY)
    sample = frame.sample
    assert len(sample.electrodes) > 0
    for (x, y), owner in zip(sample.electrodes, sample.electrode_catheter_ids, strict=True):
        col, row = np.rint([x, y]).astype(int)
        assert frame.catheter_masks[owner][row, col] == 1
        assert sample.mask[row, col] == 1
    union = np.zeros_like(sample.mask)
    for mask in frame.catheter_masks:
        union |= mask
    np.testing.assert_array_equal(union, sample.mask)


def test_electrode_boxes_are_at_least_the_minimum_size():
    sample = generate_frame(11, SIZE)
    minimum = SynthConfig().min_box_px * SIZE / 256
    assert np.all(sample.electrode_sizes >= minimum - 1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_masks_contain_no_distractor_pixels(seed):
    frame = render_frame(seed, SIZE, BUSY)
    assert frame.distractor_coverage.sum() > 0
    distractor_only = (frame.distractor_coverage > 0) & (frame.catheter_coverage == 0)
    assert not np.any(frame.sample.mask[distractor_only])
    # Rendering the same scene without its distractors gives the same labels.
    scene = sample_scene(frame_rng(seed, 0), SIZE, BUSY)
    alone = replace(scene, distractors=[], distractor_kinds=[], sheaths=[])
    with_clutter, _ = render_scene(scene, frame_rng(seed, 1), BUSY)
    without, _ = render_scene(alone, frame_rng(seed, 1), BUSY)
    np.testing.assert_array_equal(with_clutter.sample.mask, without.sample.mask)
    np.testing.assert_array_equal(with_clutter.sample.electrodes, without.sample.electrodes)
    assert not np.array_equal(with_clutter.sample.image, without.sample.image)


def test_same_seed_same_frame_and_different_seed_differs():
    a, b, c = generate_frame(7, SIZE), generate_frame(7, SIZE), generate_frame(8, SIZE)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.electrodes, b.electrodes)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize(
    ("kind", "counts"),
    [("cs_decapolar", {10}), ("quadripolar", {4}), ("ablation", {4}), ("lasso", {10, 20}), ("pacing", {2})],
)
def test_electrode_count_per_catheter_type(kind, counts):
    config = SynthConfig(
        catheter_types=(kind,),
        catheter_probability={kind: 1.0},
        max_quadripolar=1,
        empty_probability=0.0,
        collimation_probability=0.0,
        iris_probability=0.0,
    )
    seen = []
    for seed in range(4):
        sample = generate_frame(seed, 128, config)
        assert sample.catheter_types == [kind]
        seen.append(len(sample.electrodes))
    # Electrodes leave the frame only rarely; the most common count is the catheter's own.
    assert max(set(seen), key=seen.count) in counts


def test_unknown_catheter_type_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown catheter type 'foo'; choose from cs_decapolar"):
        SynthConfig(catheter_types=("foo",))


def test_sequences_keep_identities_and_move_smoothly():
    samples = list(generate_sequence(5, frames=8, size=SIZE, fps=15.0, config=BUSY))
    assert len(samples) == 8
    types = [s.catheter_types for s in samples]
    ids = [s.meta["catheter_ids"] for s in samples]
    assert all(t == types[0] for t in types) and all(i == ids[0] for i in ids)
    assert [s.meta["frame_index"] for s in samples] == list(range(8))
    tips = np.array([[line[0] for line in s.centrelines] for s in samples])  # (T, K, 2)
    steps = np.linalg.norm(np.diff(tips, axis=0), axis=-1)
    assert steps.max() < 4.0  # at most a few pixels per frame at 15 fps
    assert steps.sum() > 0.0  # and it does move
    counts = [len(s.electrodes) for s in samples]
    assert max(counts) - min(counts) <= 2


def test_synthetic_reader_is_indexable_and_deterministic():
    reader = SyntheticReader(3, size=64, seed=1)
    assert len(reader) == 3
    np.testing.assert_array_equal(reader[1].image, reader[-2].image)
    assert len(reader[0:2]) == 2
    with pytest.raises(IndexError):
        reader[3]


def test_generate_images_are_the_frames_images_seed_after_seed():
    from cathx.data.synthetic import generate_frame, generate_images

    images = list(generate_images(2, size=64, seed=7))
    assert len(images) == 2 and all(i.dtype == np.float32 and i.shape == (64, 64) for i in images)
    assert np.array_equal(images[1], generate_frame(8, size=64).image.astype(np.float32))
    assert not np.array_equal(images[0], images[1])
