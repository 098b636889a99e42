"""The pure parts of benchmarks/temporal_filter.py."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "temporal_filter.py"
spec = importlib.util.spec_from_file_location("temporal_filter", SCRIPT)
tf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tf)


def test_recursive_filter_by_hand():
    p = np.array([1.0, 0.0, 0.0, 1.0])
    assert np.allclose(tf.filter_probabilities(p, 0.5), [1.0, 0.5, 0.25, 0.625])
    assert np.allclose(tf.filter_probabilities(p, 1.0), p)  # weight 1: no filter


def test_flicker_is_the_mean_absolute_count_change():
    assert tf.flicker([10, 8, 8, 11]) == (2 + 0 + 3) / 3
    assert tf.flicker([5]) == 0.0


def test_logit_inverts_the_sigmoid():
    p = np.array([0.1, 0.5, 0.9])
    assert np.allclose(1 / (1 + np.exp(-tf.logit(p))), p)
