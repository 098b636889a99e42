import pytest

from cathx.benchmarking.plots import mean_curve, plot_convergence


def test_mean_curve_over_seeds_on_the_span_both_cover():
    a = [(0.0, 10.0), (10.0, 30.0), (20.0, 50.0)]
    b = [(5.0, 20.0), (15.0, 40.0)]
    xs, mean, low, high = mean_curve([a, b])
    assert xs == [5.0, 10.0, 15.0]  # the union of times between 5 (b starts) and 15 (b ends)
    # a at 5, 10, 15: 20, 30, 40 (interpolated); b: 20, 30, 40 (interpolated at 10)
    assert mean == pytest.approx([20.0, 30.0, 40.0])
    b_high = [(5.0, 40.0), (15.0, 60.0)]
    xs, mean, low, high = mean_curve([a, b_high])
    assert low == pytest.approx([20.0, 30.0, 40.0]) and high == pytest.approx([40.0, 50.0, 60.0])
    assert mean == pytest.approx([30.0, 40.0, 50.0])


def test_one_seed_is_its_own_curve():
    assert mean_curve([[(1.0, 2.0), (3.0, 4.0)]]) == ([1.0, 3.0], [2.0, 4.0], [2.0, 4.0], [2.0, 4.0])


def test_convergence_plot_has_one_legend_entry_per_variant(tmp_path, monkeypatch):
    import matplotlib.axes

    labels = []
    original = matplotlib.axes.Axes.legend

    def spy(self, *args, **kwargs):
        labels.extend(self.get_legend_handles_labels()[1])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "legend", spy)
    history = [{"time_s": 1.0, "score": 0.2}, {"time_s": 2.0, "score": 0.4}]
    path = plot_convergence({"dtp+topk": [history, history], "none": [history]}, tmp_path / "c.png", key="score")
    assert path.is_file()
    assert labels == ["dtp+topk (2 seeds)", "none"]
