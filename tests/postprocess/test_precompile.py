"""cathx.postprocess.precompile: the warm-up that `make setup` runs."""

from cathx.postprocess import compiled
from cathx.postprocess.precompile import warm_up


def test_warm_up_runs_the_kernels_a_prediction_uses():
    seconds = warm_up()  # compiles or loads every kernel on a drawn frame without error
    assert seconds > 0.0
    # the entry points of a prediction's post-processing and tracking hold a compiled signature now
    for kernel in (compiled.decode_peaks, compiled.skeleton_centrelines, compiled.assign_points,
                   compiled.electrode_pattern, compiled.track_costs, compiled.template_alignment,
                   compiled.min_cost_assignment, compiled.catheter_geometry, compiled.pairwise_sum,
                   compiled.connected_labels, compiled.gap_cuts, compiled.cell_means):
        assert kernel.signatures, kernel.py_func.__name__
