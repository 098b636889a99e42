"""cathx.postprocess.precompile: the warm-up that `make setup` runs."""

from cathx.postprocess.precompile import warm_up


def test_warm_up_runs_the_kernels_a_prediction_uses():
    assert warm_up() >= 0.0  # compiles or loads every kernel on a drawn frame without error
