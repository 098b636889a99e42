import math

import numpy as np
import pytest
import torch

from cathx.heatmap import cells_to_pixels, decode_peaks, electrode_sigma, encode_targets, gaussian_radius, pixels_to_cells


def test_cell_pixel_convention():
    # Cell 0 at stride 4 covers pixels 0..3, its centre is pixel 1.5.
    assert cells_to_pixels(torch.tensor(0.0), 4).item() == 1.5
    assert pixels_to_cells(torch.tensor(5.5), 4).item() == 1.0


def test_gaussian_radius_matches_centernet_formula():
    # Smallest of the three quadratic roots for a 10 x 10 box, overlap 0.7 (computed by hand).
    b1, c1 = 20, 100 * 0.3 / 1.7
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    b2, c2 = 40, 0.3 * 100
    r2 = (b2 + math.sqrt(b2**2 - 16 * c2)) / 2
    a3, b3, c3 = 2.8, -28.0, -30.0
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    assert gaussian_radius(torch.tensor(10.0), torch.tensor(10.0)).item() == pytest.approx(min(r1, r2, r3), rel=1e-5)


def test_sigma_has_floor_for_tiny_electrodes():
    assert electrode_sigma(torch.tensor([[4.0, 4.0]])).item() == pytest.approx(0.75)
    assert electrode_sigma(torch.tensor([[64.0, 64.0]])).item() > 0.75


def test_encode_shapes_peak_and_sizes():
    points = torch.tensor([[[9.5, 5.5], [0, 0]]])
    sizes = torch.tensor([[[6.0, 3.0], [0, 0]]])
    valid = torch.tensor([[True, False]])
    targets = encode_targets(points, sizes, valid, (32, 48))
    assert targets["heatmap"].shape == (1, 1, 8, 12)
    assert targets["positive"].sum() == 1
    # (9.5, 5.5) is exactly the centre of cell (row 1, col 2).
    assert targets["positive"][0, 0, 1, 2]
    assert targets["heatmap"][0, 0, 1, 2].item() == pytest.approx(1.0)
    assert targets["size"][0, :, 1, 2].tolist() == [6.0, 3.0]
    assert targets["size"].sum().item() == 9.0


def test_encode_drops_points_outside_image():
    targets = encode_targets(torch.tensor([[70.0, 3.0], [-1.0, 3.0]]), torch.ones(2, 2) * 4, None, (64, 64))
    assert targets["positive"].sum() == 0 and targets["heatmap"].max() == 0


def test_encode_no_electrodes():
    targets = encode_targets(torch.zeros(2, 0, 2), torch.zeros(2, 0, 2), torch.zeros(2, 0, dtype=torch.bool), (16, 16))
    assert targets["heatmap"].shape == (2, 1, 4, 4) and targets["heatmap"].sum() == 0


def test_round_trip_within_one_pixel():
    rng = np.random.default_rng(0)
    # Well-separated electrodes anywhere in a 128 px image, including the borders.
    grid = np.stack(np.meshgrid(np.arange(6, 128, 20), np.arange(6, 128, 20)), -1).reshape(-1, 2)
    points = grid + rng.uniform(-4, 4, grid.shape)  # at least 12 px apart
    points = np.clip(points, 0, 127)
    sizes = rng.uniform(3, 8, grid.shape)
    targets = encode_targets(torch.tensor(points, dtype=torch.float32), torch.tensor(sizes, dtype=torch.float32), None, (128, 128))
    (found,) = decode_peaks(targets["heatmap"], targets["size"], k=100, threshold=0.3)
    assert len(found) == len(points)
    distance = np.linalg.norm(found[:, None, :2] - points[None], axis=-1)
    nearest = distance.argmin(axis=1)
    assert len(set(nearest.tolist())) == len(points)
    assert distance.min(axis=1).max() < 1.0
    # The log-parabola is exact for a Gaussian: much better than the 1 px requirement inside.
    assert np.median(distance.min(axis=1)) < 0.05
    np.testing.assert_allclose(found[:, 3:5], sizes[nearest], atol=1e-5)


def test_decode_without_refinement_snaps_to_cells():
    targets = encode_targets(torch.tensor([[10.3, 20.9]]), torch.tensor([[4.0, 4.0]]), None, (32, 32))
    (found,) = decode_peaks(targets["heatmap"], targets["size"], threshold=0.1, refine="none")
    assert found[0, :2].tolist() == [9.5, 21.5]


def test_decode_logits_threshold_topk_and_order():
    heat = torch.full((2, 1, 8, 8), -10.0)
    heat[0, 0, 2, 2] = 3.0
    heat[0, 0, 6, 5] = 0.0  # probability 0.5
    heat[0, 0, 4, 4] = -3.0  # below threshold
    (first, second) = decode_peaks(heat, None, k=10, threshold=0.3)
    assert first.shape == (2, 5) and second.shape == (0, 5)
    assert first[0, 2] == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item())
    assert first[0, :2].tolist() == [9.5, 9.5]  # isolated spike: no curvature to refine
    (top1, _) = decode_peaks(heat, None, k=1, threshold=0.0)
    assert len(top1) == 1


def test_decode_suppresses_non_maxima():
    heat = torch.zeros(1, 1, 8, 8)
    heat[0, 0, 3, 3] = 0.9
    heat[0, 0, 3, 4] = 0.8  # neighbour of a higher peak
    (found,) = decode_peaks(heat, None, threshold=0.5, logits=False)
    assert len(found) == 1
