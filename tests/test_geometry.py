import numpy as np

from cathx.geometry import arc_length, catmull_rom


def test_arc_length_of_a_3_4_5_path():
    assert arc_length(np.array([[0, 0], [3, 4], [3, 10]])).tolist() == [0.0, 5.0, 11.0]


def test_open_catmull_rom_passes_through_every_control_point_and_ends_there():
    control = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0]])
    curve = catmull_rom(control, per_segment=4)
    assert curve.shape == (2 * 4 + 1, 2)
    assert np.allclose(curve[[0, 4, 8]], control)
    # on a straight line with evenly spaced points the curve is the line, evenly sampled
    line = catmull_rom(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), per_segment=2)
    assert np.allclose(line, [[0, 0], [0.5, 0], [1, 0], [1.5, 0], [2, 0]])


def test_closed_catmull_rom_returns_to_the_start_without_repeating_it():
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    curve = catmull_rom(square, per_segment=3, closed=True)
    assert curve.shape == (4 * 3, 2)
    assert np.allclose(curve[::3], square)
    assert len(catmull_rom(square[:1])) == 1


def test_median_of_small_arrays_by_hand():
    from cathx.geometry import median

    assert median(np.array([3.0, 1.0, 2.0])) == 2.0  # odd: the middle value
    assert median(np.array([4.0, 1.0, 3.0, 2.0])) == 2.5  # even: the mean of the two middle ones
    np.testing.assert_array_equal(median(np.array([[1.0, 10.0], [5.0, 30.0], [2.0, 20.0]]), axis=0), [2.0, 20.0])
    np.testing.assert_array_equal(median(np.array([[1.0, 9.0, 5.0, 7.0], [0.0, 0.0, 2.0, 2.0]]), axis=1), [6.0, 1.0])
    assert np.isnan(median(np.zeros(0)))
    assert np.isnan(median(np.zeros((0, 2)), axis=0)).all() and median(np.zeros((0, 2)), axis=0).shape == (2,)
