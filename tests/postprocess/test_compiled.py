"""The compiled post-processing loops (cathx.postprocess.compiled) against hand-computed cases and
against the NumPy expressions they replace."""

import numpy as np
import pytest

from cathx.postprocess import compiled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_is_numpys_sum_to_the_bit(dtype):
    rng = np.random.default_rng(0)
    for count in list(range(0, 300)) + [511, 1024, 3001]:
        values = (rng.normal(size=count) * 10 ** rng.uniform(-4, 4, count)).astype(dtype)
        total = compiled.pairwise_sum(values, dtype(0))
        assert total == values.sum(), count
    assert compiled.pairwise_sum(np.array([0.1, 0.2, 0.3]), 0.0) == (0.1 + 0.2) + 0.3


def test_heatmap_peaks_by_hand():
    logits = np.full((4, 5), -5.0, np.float32)
    logits[0, 0] = 2.0  # a corner peak: cells outside the map do not count
    logits[2, 2] = 1.0  # a peak beside a lower cell above the cut
    logits[2, 3] = 0.5
    logits[3, 4] = -1.0  # below the cut
    found = compiled.heatmap_peaks(logits, 0.0)
    assert found.tolist() == [0 * 5 + 0, 2 * 5 + 2]
    logits[2, 3] = 1.0  # a plateau of two equal cells: both kept (as the dilate == value test did)
    assert compiled.heatmap_peaks(logits, 0.0).tolist() == [0, 12, 13]
    assert compiled.heatmap_peaks(logits, 3.0).tolist() == []


def test_project_points_by_hand():
    points = np.array([[1.0, 1.0], [3.0, -2.0]])
    vertices = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 4.0],  # an L
                         [5.0, 5.0]])  # a single vertex
    bounds = np.array([0, 3, 4, 4])  # the L, the vertex, an empty polyline
    distance, arc = compiled.project_points(points, vertices, bounds)
    assert distance[0].tolist() == [1.0, pytest.approx(np.sqrt(1.0 + 4.0))]  # (3,-2) is nearest (2,0)
    assert arc[0].tolist() == [1.0, 2.0]
    assert distance[1].tolist() == [pytest.approx(np.hypot(4, 4)), pytest.approx(np.hypot(2, 7))]
    assert arc[1].tolist() == [0.0, 0.0]
    assert np.isinf(distance[2]).all() and np.isnan(arc[2]).all()


def test_project_points_matches_the_vectorised_expression():
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 64, (9, 2))
    line = np.cumsum(rng.normal(0, 3, (40, 2)), axis=0) + 32
    distance, arc = compiled.project_points(points, line, np.array([0, len(line)]))
    start, step = line[:-1], np.diff(line, axis=0)
    seg_sq = (step ** 2).sum(axis=1)
    r = points[:, None] - start[None]
    t = np.clip((r * step[None]).sum(axis=2) / seg_sq, 0, 1)
    gap = np.hypot(*np.moveaxis(r - t[..., None] * step[None], 2, 0))
    best = gap.argmin(axis=1)
    rows = np.arange(len(points))
    assert np.allclose(distance[0], gap[rows, best])
    along = np.concatenate([[0.0], np.cumsum(np.sqrt(seg_sq))])[best] + t[rows, best] * np.sqrt(seg_sq[best])
    assert np.allclose(arc[0], along)


def test_polyline_length_keeps_the_points_precision():
    line = np.array([[0, 0], [3, 4], [3, 10]], np.float32)
    assert compiled.polyline_length(line) == 11.0
    assert isinstance(compiled.polyline_length(line), float)  # a float32 total comes back as a scalar
    assert compiled.polyline_length(line[:1]) == 0.0


def test_cell_means_by_hand():
    probabilities = np.zeros((2, 2, 2), np.float32)
    probabilities[0] = [[1.0, 0.0], [0.5, 0.0]]
    probabilities[1] = 1.0 - probabilities[0]
    # a 20 x 20 frame over a 2 x 2 grid: points in the top-left cell (twice) and the bottom-left one
    points = np.array([[1.0, 1.0], [2.0, 3.0], [1.0, 15.0]])
    assert compiled.cell_means(probabilities, points, 20, 20).tolist() == [0.75, 0.25]
    far = np.array([[100.0, -5.0]])  # outside the frame: clipped to the nearest cell (top-right)
    assert compiled.cell_means(probabilities, far, 20, 20).tolist() == [0.0, 1.0]


def test_decode_peaks_by_hand():
    logits = np.full((5, 6), -8.0, np.float32)
    logits[2, 3] = 2.0  # a peak with equal neighbours left and right: no sub-cell shift along x
    logits[2, 2] = logits[2, 4] = 0.0
    logits[1, 3], logits[3, 3] = 1.0, -1.0  # brighter above: the peak moves up (y decreases)
    size = np.zeros((2, 5, 6), np.float32)
    size[:, 2, 3] = (3.0, 5.0)
    peaks = compiled.decode_peaks(logits, size, 0.0, 64, 4)
    assert peaks.shape == (1, 5) and peaks.dtype == np.float32  # the brighter neighbours are not peaks
    x, y, score, width, height = peaks[0].tolist()
    assert x == 3 * 4 + 1.5  # cell centre: (stride - 1) / 2 = 1.5 px into the cell

    def log_sigmoid(v):
        return -np.log1p(np.exp(-v))

    before, centre, after = log_sigmoid(1.0), log_sigmoid(2.0), log_sigmoid(-1.0)
    shift = 0.5 * (before - after) / (before - 2 * centre + after)  # the parabola's vertex: -0.36 cell
    assert y == pytest.approx((2 + shift) * 4 + 1.5, abs=1e-5) and -0.5 < shift < 0
    assert score == pytest.approx(1 / (1 + np.exp(-2.0))) and (width, height) == (3.0, 5.0)
    logits[0, 0] = 1.5  # a second peak, in the corner: peaks come by decreasing score, top-k cuts
    assert compiled.decode_peaks(logits, size, 0.0, 64, 4)[:, 2].tolist() == pytest.approx(
        [1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(-1.5))])
    only = compiled.decode_peaks(logits, np.zeros((0, 1, 1), np.float32), 0.0, 1, 4)
    assert only.shape == (1, 5) and only[0, 3:].tolist() == [0.0, 0.0]  # no size map: zero boxes


def test_writable_folder(tmp_path):
    assert compiled.writable_folder(tmp_path / "new" / "cache")  # made on the way
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert not compiled.writable_folder(blocker / "cache")  # a file where a folder should be
    assert isinstance(compiled.CACHE, bool)



def test_min_cost_assignment_by_hand():
    # Row 0 is cheapest on column 0, but row 1 can only go there cheaply: 1 + 2 beats 0 + 9.
    cost = np.array([[0.0, 1.0, 5.0], [2.0, 9.0, 9.0]])
    assert compiled.min_cost_assignment(cost).tolist() == [1, 0]
    assert compiled.min_cost_assignment(np.array([[3.0]])).tolist() == [0]


def test_min_cost_assignment_breaks_ties_as_scipy_does():
    # The tracker's outputs were checked against SciPy's choices; equal-cost assignments (the
    # alignment makes them on purpose) must fall the same way.
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(5)
    for _ in range(2000):
        rows = int(rng.integers(1, 7))
        cost = rng.integers(0, 3, (rows, rows + int(rng.integers(0, 6)))).astype(np.float64)
        assert compiled.min_cost_assignment(cost).tolist() == linear_sum_assignment(cost)[1].tolist()


def test_centreline_shift_kernel_is_the_numpy_expression_to_the_bit():
    rng = np.random.default_rng(6)
    for flip in (False, True):
        before = rng.random((32, 2)) * 256
        after = before + rng.normal(0, 3, (32, 2))
        after = after[::-1].copy() if flip else after
        forward, backward = after - before, after[::-1] - before
        better = forward if np.linalg.norm(forward, axis=1).mean() <= np.linalg.norm(backward, axis=1).mean() else backward
        assert compiled.centreline_shift(before, after).tolist() == better.mean(axis=0).tolist()


def test_chamfer_kernel_is_the_numpy_expression_to_the_bit():
    from cathx.geometry import median

    rng = np.random.default_rng(7)
    points, reference = rng.random((7, 2)) * 50, rng.random((12, 2)) * 50
    nearest = np.hypot(*(points[:, None, :] - reference[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert compiled.chamfer(points, reference, False) == nearest.mean()
    assert compiled.chamfer(points, reference, True) == median(nearest)
    assert compiled.chamfer(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 0.0]]), False) == 2.5


def test_connected_labels_by_hand():
    # 0-2 linked, 1 alone, 3-4 linked: labels follow each component's lowest node
    adjacent = np.eye(5, dtype=bool)
    for a, b in ((0, 2), (3, 4)):
        adjacent[a, b] = adjacent[b, a] = True
    assert compiled.connected_labels(adjacent).tolist() == [0, 1, 0, 2, 2]


def test_gap_cuts_by_hand():
    # gaps 3, 3, 20, 3: the median 3, so only the 20-px gap beyond max(12, 9) cuts
    assert compiled.gap_cuts(np.array([0.0, 3.0, 6.0, 26.0, 29.0], np.float32), 12.0).tolist() == \
        [False, False, True, False]
    assert compiled.gap_cuts(np.array([0.0, 30.0], np.float32), 12.0).tolist() == [False]  # too few to judge


def test_longest_step_by_hand():
    assert compiled.longest_step(np.array([[0.0, 0.0], [3.0, 4.0], [4.0, 4.0]])) == 5.0
