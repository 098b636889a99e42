import math

import numpy as np
import pytest
import torch

from cathx.heatmap import (
    cells_to_pixels,
    decode_peaks,
    electrode_sigma,
    encode_targets,
    gaussian_radius,
    heatmap_stride,
    pixels_to_cells,
)


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


def test_refine_on_a_three_cell_axis_and_the_half_cell_clamp():
    # Maps 1 row x 3 columns, probabilities. Rows: length 1 < 3, so no refinement along y (y = 1.5).
    # Image 0: log p = -(x - 1.25)^2 / 2 at x = 0, 1, 2 -> -0.78125, -0.03125, -0.28125; one peak, at
    #   column 1; curvature -0.78125 + 0.0625 - 0.28125 = -1, vertex 0.5 * (-0.78125 + 0.28125) / -1
    #   = 0.25 -> x = (1.25) * 4 + 1.5 = 6.5. A 3-cell axis is long enough to refine.
    # Image 1: log p = 0, -0.3, -0.7: the peak is column 0 (the border); the parabola through the
    #   three cells has curvature 0 + 0.6 - 0.7 = -0.1, vertex 0.5 * 0.7 / -0.1 = -3.5 from column 1,
    #   offset 1 - 3.5 = -2.5, clamped to half a cell: x = (0 - 0.5) * 4 + 1.5 = -0.5.
    log_p = torch.tensor([[-0.78125, -0.03125, -0.28125], [0.0, -0.3, -0.7]])
    heat = torch.exp(log_p).reshape(2, 1, 1, 3)
    first, second = decode_peaks(heat, None, threshold=0.01, logits=False)
    assert first.shape == (1, 5) and second.shape == (1, 5)
    assert first[0, :3].tolist() == pytest.approx([6.5, 1.5, math.exp(-0.03125)], abs=1e-4)
    assert second[0, :3].tolist() == pytest.approx([-0.5, 1.5, 1.0], abs=1e-4)


def test_refine_leaves_a_sharp_border_peak_on_its_cell():
    # 1 x 3 map, log p = 0, -1, -1.5: the peak is column 0 (the border), so the fit uses columns 0-2;
    # their curvature 0 + 2 - 1.5 = +0.5 is convex (a one-cell spike), so no vertex: the peak stays
    # on its cell, x = 0 * 4 + 1.5 = 1.5 (not moved half a cell inward to the window's middle, 3.5).
    heat = torch.exp(torch.tensor([0.0, -1.0, -1.5])).reshape(1, 1, 1, 3)
    (found,) = decode_peaks(heat, None, threshold=0.5, logits=False)
    assert len(found) == 1 and found[0, :2].tolist() == pytest.approx([1.5, 1.5], abs=1e-4)


def test_refine_uses_the_peak_and_its_own_neighbours():
    # 1 x 5 map, log p = -1, 0, -1, -5, -9: one peak at column 1. Its neighbours (columns 0 and 2)
    # are symmetric: curvature -2, vertex 0, x = 1 * 4 + 1.5 = 5.5. A fit through columns 1-3
    # instead would give curvature 0 + 2 - 5 = -3, vertex 0.5 * 5 / -3 = -5/6 from column 2, x = 6.17.
    heat = torch.exp(torch.tensor([-1.0, 0.0, -1.0, -5.0, -9.0])).reshape(1, 1, 1, 5)
    (found,) = decode_peaks(heat, None, threshold=0.5, logits=False)
    assert len(found) == 1 and found[0, :2].tolist() == pytest.approx([5.5, 1.5], abs=1e-4)


def test_refine_leaves_a_flat_top_unrefined():
    # 1 x 5 map, p = 0.1, 0.5, 0.5, 0.5, 0.1: columns 1-3 are all 3x3 maxima (score 0.5).
    # Column 2 sees a flat triple (curvature exactly 0, not concave): no offset, x = 2 * 4 + 1.5 = 9.5.
    # Column 1: log p -2.303, -0.693, -0.693: curvature ln 0.1 - ln 0.5 = -1.609, vertex
    # 0.5 * (ln 0.1 - ln 0.5) / -1.609 = +0.5 -> x = 1.5 * 4 + 1.5 = 7.5; column 3 mirrors it: 11.5.
    heat = torch.tensor([0.1, 0.5, 0.5, 0.5, 0.1]).reshape(1, 1, 1, 5)
    (found,) = decode_peaks(heat, None, threshold=0.3, logits=False)
    assert np.isfinite(found).all()
    assert sorted(found[:, 0].tolist()) == pytest.approx([7.5, 9.5, 11.5], abs=1e-4)
    assert found[:, 2].tolist() == pytest.approx([0.5, 0.5, 0.5])


def test_decode_reads_logits_or_probabilities_from_the_values():
    # logits=None: logits when any value lies outside [0, 1]; a map in [0, 1] (0 and 1 included)
    # is taken as probabilities.
    def top_score(heat):
        (found,) = decode_peaks(heat.reshape(1, 1, 4, 4), None, threshold=0.0, refine="none")
        return found[0, 2]

    probs = torch.zeros(16)
    probs[5] = 1.0  # min exactly 0, max exactly 1: probabilities, score 1 (as logits: sigmoid(1) = 0.731)
    assert top_score(probs) == pytest.approx(1.0)
    above = torch.zeros(16)
    above[5] = 1.5  # max above 1: logits, sigmoid(1.5) = 0.8176 (not 1.5)
    assert top_score(above) == pytest.approx(1 / (1 + math.exp(-1.5)), abs=1e-6)
    negative = torch.full((16,), -10.0)
    negative[5] = 0.5  # all <= 1 but some < 0: logits, sigmoid(0.5) = 0.6225 (not 0.5)
    assert top_score(negative) == pytest.approx(1 / (1 + math.exp(-0.5)), abs=1e-6)


def test_decode_defaults_keep_64_peaks_above_0_3():
    # 81 isolated peaks (every other cell of a 17 x 17 map) at 0.9: the default k keeps 64.
    heat = torch.zeros(1, 1, 17, 17)
    heat[0, 0, ::2, ::2] = 0.9
    (found,) = decode_peaks(heat, None)
    assert len(found) == 64
    # Default threshold 0.3: a peak at 0.5 is kept, one at 0.2 is not.
    heat = torch.zeros(1, 1, 8, 8)
    heat[0, 0, 2, 2] = 0.5
    heat[0, 0, 5, 5] = 0.2
    (found,) = decode_peaks(heat, None)
    assert len(found) == 1 and found[0, :3].tolist() == pytest.approx([9.5, 9.5, 0.5], abs=1e-4)


def test_decode_rejects_an_unknown_refinement_by_name():
    with pytest.raises(ValueError, match="unknown refine 'cubic'; choose from quadratic, none"):
        decode_peaks(torch.zeros(1, 1, 4, 4), None, refine="cubic")


def test_encode_keeps_centres_on_the_image_edge_and_drops_those_beyond():
    # Image H = 16, W = 32 at stride 4: maps 4 x 8. Pixel centres run 0..W-1, so the image spans
    # [-0.5, W - 0.5] x [-0.5, H - 0.5], edges included.
    points = torch.tensor([
        [-0.5, -0.5],  # corner: cell (-0.5, -0.5) rounds to (0, 0)
        [31.5, 15.5],  # opposite corner: cell (7.5, 3.5) rounds to (8, 4), kept at the last cell (7, 3)
        [32.0, 5.5],  # beyond the right edge
        [5.5, 16.0],  # beyond the bottom edge (inside a 32 px height)
        [5.5, -1.0],  # above the top edge
        [5.5, 20.0],  # below the bottom (x-range 31.5 would keep it)
    ])
    sizes = torch.tensor([[2.0, 3.0], [4.0, 5.0], [6.0, 6.0], [6.0, 6.0], [6.0, 6.0], [6.0, 6.0]])
    targets = encode_targets(points, sizes, None, (16, 32))
    assert targets["positive"][0, 0].nonzero().tolist() == [[0, 0], [3, 7]]
    assert targets["size"][0, :, 0, 0].tolist() == [2.0, 3.0]
    assert targets["size"][0, :, 3, 7].tolist() == [4.0, 5.0]
    assert targets["size"].sum().item() == 14.0


def test_encode_unbatched_points_follow_their_valid_flags():
    # (M, 2) points with a (M,) valid mask: the padded row at (21.5, 21.5) = cell (5, 5) is not drawn.
    targets = encode_targets(torch.tensor([[9.5, 9.5], [21.5, 21.5]]), torch.full((2, 2), 4.0),
                             torch.tensor([True, False]), (32, 32))
    assert targets["positive"][0, 0].nonzero().tolist() == [[2, 2]]
    # Two images of three points each, no valid mask: all six are drawn.
    points = torch.tensor([[[1.5, 1.5], [9.5, 1.5], [17.5, 1.5]], [[1.5, 9.5], [9.5, 9.5], [17.5, 9.5]]])
    targets = encode_targets(points, torch.full((2, 3, 2), 4.0), None, (32, 32))
    assert targets["positive"][0, 0].nonzero().tolist() == [[0, 0], [0, 2], [0, 4]]
    assert targets["positive"][1, 0].nonzero().tolist() == [[2, 0], [2, 2], [2, 4]]


def test_heatmap_stride_of_a_non_square_image():
    assert heatmap_stride((64, 32), (16, 8)) == 4
    with pytest.raises(ValueError, match=r"heatmap \(16, 8\) is not an integer stride of the input \(64, 30\)"):
        heatmap_stride((64, 30), (16, 8))  # rows fit stride 4, columns do not
    with pytest.raises(ValueError, match="not an integer stride"):
        heatmap_stride((0, 0), (1, 1))  # stride 0


def test_decode_keeps_a_score_equal_to_the_threshold_as_float32():
    heat = torch.zeros(1, 1, 8, 8)
    heat[0, 0, 2, 2] = 0.5
    (found,) = decode_peaks(heat, None, threshold=0.5, logits=False)
    assert found.dtype == np.float32
    assert len(found) == 1 and found[0, :3].tolist() == pytest.approx([9.5, 9.5, 0.5], abs=1e-4)


def test_electrode_sigma_from_the_radius_of_a_non_square_box():
    # 64 x 32 px (w, h) at stride 4 -> 16 x 8 cells. CenterNet's third root (the smallest; the
    # first two are near h + w): a = 2.8, b = -1.4 * 24 = -33.6, c = -0.3 * 128 = -38.4,
    # r = (b + sqrt(b^2 - 4ac)) / 2 = (-33.6 + sqrt(1559.04)) / 2 = 2.942 -> sigma (2r + 1) / 6 = 1.147.
    r = (-33.6 + math.sqrt(33.6**2 + 4 * 2.8 * 38.4)) / 2
    assert electrode_sigma(torch.tensor([[64.0, 32.0]])).tolist() == pytest.approx([(2 * r + 1) / 6], rel=1e-5)
    # 4 x 4 px = 1 x 1 cell with no floor: r = (-2.8 + sqrt(2.8^2 + 4 * 2.8 * 0.3)) / 2 = 0.273,
    # sigma (2r + 1) / 6 = 0.258 (the default floor would make it 0.75)
    r = (-2.8 + math.sqrt(2.8**2 + 4 * 2.8 * 0.3)) / 2
    assert electrode_sigma(torch.tensor([[4.0, 4.0]]), min_sigma=0.0).tolist() == pytest.approx([(2 * r + 1) / 6], rel=1e-5)


def test_encode_gaussian_values_around_an_off_grid_centre():
    # Pixel (10.5, 9.5) at stride 4 is cell (x 2.25, y 2.0); a 4 x 4 px electrode has sigma 0.75,
    # 2 sigma^2 = 1.125. Cell (row 2, col 2): exp(-0.25^2 / 1.125) = 0.9460; (2, 3): exp(-0.75^2 / 1.125)
    # = 0.6065; (3, 2): exp(-(0.0625 + 1) / 1.125) = 0.3889; (2, 1): exp(-1.25^2 / 1.125) = 0.2494.
    targets = encode_targets(torch.tensor([[10.5, 9.5]]), torch.tensor([[4.0, 4.0]]), None, (32, 32))
    heat = targets["heatmap"][0, 0]
    assert heat[2, 2].item() == pytest.approx(math.exp(-0.0625 / 1.125), rel=1e-5)
    assert heat[2, 3].item() == pytest.approx(math.exp(-0.5625 / 1.125), rel=1e-5)
    assert heat[3, 2].item() == pytest.approx(math.exp(-1.0625 / 1.125), rel=1e-5)
    assert heat[2, 1].item() == pytest.approx(math.exp(-1.5625 / 1.125), rel=1e-5)
    assert targets["positive"][0, 0].nonzero().tolist() == [[2, 2]]


def test_encode_draws_each_gaussian_within_three_sigma_only():
    # sigma 1.5 cells (min_sigma): drawn within ceil(4.5) = 5 cells of the nearest cell, 0 beyond.
    # Centre pixel (33.5, 33.5) = cell (8, 8) on a 20 x 20 map: along row 8, column 13 (5 away)
    # holds exp(-25 / 4.5) = 0.00387, columns 14 and 2 (6 away) hold 0.
    targets = encode_targets(torch.tensor([[33.5, 33.5]]), torch.tensor([[4.0, 4.0]]), None, (80, 80), min_sigma=1.5)
    row = targets["heatmap"][0, 0, 8]
    assert row[13].item() == pytest.approx(math.exp(-25 / 4.5), rel=1e-4)
    assert row[3].item() == pytest.approx(math.exp(-25 / 4.5), rel=1e-4)
    assert row[14].item() == 0.0 and row[2].item() == 0.0
    # floor 0.2 < CenterNet's sigma of a 1 x 1 cell box, 0.258 (see the test above): ceil(3 * 0.258) = 1
    # cell; 2 cells away stays 0 (exp(-4 / (2 * 0.258^2)) = 8e-14 would still show in float32)
    sigma = (2 * (-2.8 + math.sqrt(2.8**2 + 4 * 2.8 * 0.3)) / 2 + 1) / 6
    targets = encode_targets(torch.tensor([[33.5, 33.5]]), torch.tensor([[4.0, 4.0]]), None, (80, 80), min_sigma=0.2)
    row = targets["heatmap"][0, 0, 8]
    assert row[9].item() == pytest.approx(math.exp(-1 / (2 * sigma**2)), rel=1e-4)
    assert row[10].item() == 0.0 and row[6].item() == 0.0


def test_two_saturated_neighbours_are_one_peak():
    # sigmoid(20) and sigmoid(18) are both exactly 1.0 in float32: peaks must be found on the logits
    heatmap = torch.full((1, 1, 8, 8), -10.0)
    heatmap[0, 0, 3, 3] = 20.0
    heatmap[0, 0, 3, 4] = 18.0
    (found,) = decode_peaks(heatmap, None, stride=4, logits=True)
    assert len(found) == 1 and found[0, 1] == cells_to_pixels(torch.tensor(3.0), 4).item()
