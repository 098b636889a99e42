"""The scorer of benchmarks/tracking.py: which predicted catheter a labelled catheter is in a frame."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tracking.py"
spec = importlib.util.spec_from_file_location("tracking_benchmark", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


class Line:
    def __init__(self, points):
        self.centreline = np.asarray(points, np.float32)


def horizontal(x0, x1, y):
    return [(x, y) for x in range(x0, x1 + 1)]


def test_the_catheter_holding_most_electrodes_wins_whatever_the_centrelines():
    catheters = [Line(horizontal(0, 100, 10)), Line(horizontal(0, 5, 50))]
    assert bench.holder(np.array([1, 3]), np.asarray(horizontal(0, 100, 10), float), catheters) == 1


def test_a_tie_goes_to_the_catheter_running_along_more_of_the_labelled_centreline():
    # Labelled catheter along y = 10 from x = 0 to 60; prediction 0 follows 11 px of it (a
    # neighbour's detection that took its tip), prediction 1 follows 41 px (its own shaft).
    truth = np.asarray(horizontal(0, 60, 10), float)
    catheters = [Line(horizontal(50, 70, 10)), Line(horizontal(0, 40, 11))]
    assert bench.holder(np.array([2, 2]), truth, catheters) == 1
    # Without the tie the count decides, and a tie nothing separates keeps the first.
    assert bench.holder(np.array([3, 2]), truth, catheters) == 0
    far = [Line(horizontal(0, 60, 90)), Line(horizontal(0, 60, 80))]
    assert bench.holder(np.array([2, 2]), truth, far) == 0


def test_a_tie_without_a_labelled_centreline_keeps_the_first():
    catheters = [Line(horizontal(0, 10, 0)), Line(horizontal(0, 10, 5))]
    assert bench.holder(np.array([0, 1, 1]), None, catheters + [Line(horizontal(0, 3, 9))]) == 1


class Shown:
    def __init__(self, points, catheter_id):
        self.centreline, self.id = np.asarray(points, np.float32), catheter_id


class Frame:
    def __init__(self, catheters):
        self.catheters = catheters


def test_false_catheters_are_shown_catheters_off_every_labelled_one_holding_none():
    labelled = [np.asarray(horizontal(0, 60, 10), float)]
    results = Frame([
        Shown(horizontal(0, 60, 10), 0),  # the labelled catheter itself (its holder)
        Shown(horizontal(0, 40, 12), 1),  # a piece along it, 2 px off: not false
        Shown(horizontal(0, 40, 30), 2),  # a wire 20 px away: false
        Shown(horizontal(0, 40, 31), -1),  # not shown with an id: not counted
        Shown(horizontal(30, 90, 10), 3),  # half on it (31 of 61 points within 3 px): not false
        Shown(horizontal(40, 100, 10), 4),  # 21 of 61 points on it: false
    ])
    assert bench.false_catheters(results, {0}, labelled) == [2, 5]
    # with no labelled catheter in the frame every shown catheter but the holders is false
    assert bench.false_catheters(results, {0}, []) == [1, 2, 4, 5]
