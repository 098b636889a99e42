"""build_transforms moves image, mask and electrode points together."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.data.datasets import SampleDataset
from cathx.data.synthetic import SynthConfig, SyntheticReader
from cathx.data.transforms import build_transforms

CONFIG = SynthConfig(empty_probability=0.0, collimation_probability=0.0, iris_probability=0.0)


def _on_mask(mask: np.ndarray, points: np.ndarray, radius: int = 1) -> np.ndarray:
    h, w = mask.shape
    hits = []
    for x, y in points:
        c, r = np.rint([x, y]).astype(int)
        window = mask[
            max(r - radius, 0) : min(r + radius + 1, h), max(c - radius, 0) : min(c + radius + 1, w)
        ]
        hits.append(window.max() > 0)
    return np.asarray(hits)


def test_flip_mirrors_image_mask_and_points():
    reader = SyntheticReader(2, size=96, seed=4, config=CONFIG)
    plain = SampleDataset(reader)[0]
    flipped = SampleDataset(reader, build_transforms(96, train=True, flip=1.0, rotate=0.0, scale=(1.0, 1.0)))[
        0
    ]
    np.testing.assert_allclose(flipped["image"].numpy(), plain["image"].numpy()[..., ::-1], atol=1e-6)
    np.testing.assert_array_equal(flipped["mask"].numpy(), plain["mask"].numpy()[..., ::-1])
    valid = plain["electrode_valid"].numpy()
    assert flipped["electrode_valid"].numpy().sum() == valid.sum()
    a, b = plain["electrodes"].numpy()[valid], flipped["electrodes"].numpy()[valid]
    np.testing.assert_allclose(b[:, 0], 95.0 - a[:, 0], atol=1e-4)
    np.testing.assert_allclose(b[:, 1], a[:, 1], atol=1e-4)
    mask = flipped["mask"].numpy()[0]
    assert _on_mask(mask, b, radius=0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_scale_and_rotation_keep_points_on_the_mask(seed):
    reader = SyntheticReader(1, size=128, seed=seed, config=CONFIG)
    transform = build_transforms(128, train=True, scale=(0.8, 1.25), rotate=30.0, flip=0.5, p_affine=1.0)
    transform.set_random_seed(seed)  # albumentations 2 draws from the Compose's own generators
    item = SampleDataset(reader, transform)[0]
    valid = item["electrode_valid"].numpy()
    points = item["electrodes"].numpy()[valid]
    assert len(points) > 0
    assert _on_mask(item["mask"].numpy()[0], points, radius=1).mean() >= 0.95
    assert np.all(item["electrode_sizes"].numpy()[valid] > 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_crop_keeps_catheter_pixels_and_points_inside(seed):
    reader = SyntheticReader(1, size=128, seed=seed, config=CONFIG)
    whole = SampleDataset(reader)[0]
    transform = build_transforms(128, train=True, flip=0.0, rotate=0.0, scale=(1.0, 1.0), crop=64)
    transform.set_random_seed(seed)  # albumentations 2 draws from the Compose's own generators
    dataset = SampleDataset(reader, transform)
    with_electrodes = 0
    for _ in range(8):  # successive windows of the seeded generator
        item = dataset[0]
        assert item["image"].shape[-2:] == (64, 64) and item["mask"].shape[-2:] == (64, 64)
        assert item["mask"].sum() > 0  # the window is chosen to hold catheter pixels
        valid = item["electrode_valid"].numpy()
        points = item["electrodes"].numpy()[valid]
        assert valid.sum() <= whole["electrode_valid"].numpy().sum()
        assert np.all((points >= 0) & (points < 64))
        if len(points):  # a window may hold catheter pixels but no electrode
            with_electrodes += 1
            assert _on_mask(item["mask"].numpy()[0], points, radius=1).mean() >= 0.95
    assert with_electrodes >= 1


def test_crop_only_applies_to_training():
    assert "CropNonEmptyMaskIfExists" not in repr(build_transforms(128, train=False, crop=64))
    assert "CropNonEmptyMaskIfExists" not in repr(build_transforms(128, train=True, crop=0))


def test_eval_transform_resizes_points_and_sizes():
    reader = SyntheticReader(1, size=128, seed=3, config=CONFIG)
    plain = SampleDataset(reader)[0]
    half = SampleDataset(reader, build_transforms(64, train=False))[0]
    valid = plain["electrode_valid"].numpy()
    assert half["image"].shape == (1, 64, 64)
    np.testing.assert_allclose(
        half["electrodes"].numpy()[valid], (plain["electrodes"].numpy()[valid] + 0.5) / 2 - 0.5, atol=0.3
    )
    np.testing.assert_allclose(
        half["electrode_sizes"].numpy()[valid], plain["electrode_sizes"].numpy()[valid] / 2, rtol=1e-3
    )


def test_frames_without_electrodes_or_labels_pass_through():
    from cathx.structures import Sample

    empty = Sample(
        image=np.zeros((80, 80), np.float32),
        mask=np.zeros((80, 80), np.uint8),
        electrodes=np.zeros((0, 2), np.float32),
        electrode_sizes=np.zeros((0, 2), np.float32),
    )
    item = SampleDataset(
        [empty, Sample(image=np.ones((80, 80), np.float32))], build_transforms(64, train=True)
    )[0]
    assert item["image"].shape == (1, 64, 64) and item["has_electrodes"] and not item["electrode_valid"].any()
    bare = SampleDataset([Sample(image=np.ones((80, 80), np.float32))], build_transforms(64, train=True))[0]
    assert not bare["has_mask"] and not bare["has_electrodes"] and bare["image"].shape == (1, 64, 64)


def _neighbour_correlation(noise: np.ndarray) -> float:
    return float(np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1])


def test_correlated_noise_adds_a_member_whose_noise_is_spatially_correlated():
    from cathx.data.transforms import noise_transforms

    flat = np.full((128, 128), 0.5, np.float32)
    white = noise_transforms("white")
    correlated = noise_transforms("correlated")
    assert len(correlated) == len(white) + 1
    for member in white:  # pixel-independent: neighbours uncorrelated
        member.p = 1.0
        member.set_random_seed(0)
        assert abs(_neighbour_correlation(member(image=flat)["image"] - 0.5)) < 0.1, type(member).__name__
    extra = correlated[-1]
    extra.p = 1.0
    extra.set_random_seed(0)
    noise = extra(image=flat)["image"] - 0.5
    assert noise.std() > 0.01 and _neighbour_correlation(noise) > 0.5  # drawn at half resolution


def test_noise_kinds_are_checked_and_listed():
    from cathx.config import from_dict
    from cathx.data.transforms import NOISE_KINDS, noise_transforms
    from cathx.errors import ConfigError
    from cathx.training import config

    assert config.NOISE_KINDS == NOISE_KINDS  # the config's choices are the transform's kinds
    with pytest.raises(ValueError, match="unknown noise 'pink'; choose from white, correlated, quantum"):
        noise_transforms("pink")
    assert from_dict(config.DataConfig, {"noise": "correlated"}).noise == "correlated"
    with pytest.raises(ConfigError, match="white, correlated"):
        from_dict(config.DataConfig, {"noise": "pink"}, where="data")


def test_quantum_noise_grows_towards_dark_pixels_as_exp_window_over_two():
    from cathx.data.transforms import quantum_noise

    rng = np.random.default_rng(0)
    image = np.zeros((200, 200, 1), np.float32)
    image[:, 100:] = 1.0  # left black (dense), right white
    image[:, :100] = 0.25  # away from the clip at 0
    noisy = quantum_noise(image, bright_sigma=0.01, window=4.0, grain_px=0.0, rng=rng)
    assert noisy.shape == image.shape and noisy.dtype == np.float32
    white = (noisy - image)[:, 100:][noisy[:, 100:] < 1.0]  # the clip at 1 halves the white side
    dark = (noisy - image)[:, :100]
    # std 0.01 * exp(4 * 0.75 / 2) = 0.0448 on the dark side, 0.01 on the white (half-normal there)
    assert dark.std() == pytest.approx(0.01 * np.exp(1.5), rel=0.05)
    assert np.abs(white).mean() == pytest.approx(0.01 * np.sqrt(2 / np.pi), rel=0.1)
    grainy = quantum_noise(np.full((128, 128), 0.5, np.float32), 0.02, 0.0, 1.0, rng) - 0.5
    assert grainy.std() == pytest.approx(0.02, rel=0.05) and _neighbour_correlation(grainy) > 0.5


def test_quantum_kind_adds_quantum_noise_to_the_noise_group():
    from cathx.data.transforms import QuantumNoise, noise_transforms

    members = noise_transforms("quantum")
    assert isinstance(members[-1], QuantumNoise) and len(members) == len(noise_transforms("white")) + 1
    members[-1].set_random_seed(3)
    flat = np.full((64, 64, 1), 0.5, np.float32)
    out = members[-1](image=flat, force_apply=True)["image"]
    assert out.shape == flat.shape and 0.003 < float((out - flat).std()) < 0.3
