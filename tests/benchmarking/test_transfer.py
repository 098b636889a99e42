"""benchmarks/transfer.py and its independent engine (benchmarks/independent_engine.py): the
engine's label conventions, the ratios, and the bad-input messages (scoring itself runs minutes)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


transfer = _load("transfer")
independent_engine = _load("independent_engine")


@pytest.mark.parametrize("size", [128, 256])
def test_independent_frames_follow_cathx_label_conventions(size):
    from cathx.structures import CATHETER_TYPES

    reader = independent_engine.IndependentReader(6, size=size, seed=3)
    for sample in reader:
        assert sample.image.shape == (size, size) and sample.image.dtype == np.float32
        assert 0.0 <= sample.image.min() and sample.image.max() <= 1.0
        assert set(np.unique(sample.mask)) <= {0, 1}
        assert len(sample.catheter_types) == len(sample.centrelines)
        assert set(sample.catheter_types) <= set(CATHETER_TYPES)
        if sample.catheter_types:
            assert sample.mask.any()
        electrodes = sample.electrodes
        assert electrodes.shape[1] == 2 and len(electrodes) == len(sample.electrode_sizes)
        assert np.all((electrodes >= 0) & (electrodes < size))
        assert np.all(sample.electrode_sizes >= 3.0)
        assert np.all(sample.electrode_catheter_ids < len(sample.catheter_types))
        assert sample.meta["source"] == "independent"


def test_independent_frames_are_deterministic_and_not_cathx_engine_frames():
    a, b = independent_engine.make_sample(7), independent_engine.make_sample(7)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, independent_engine.make_sample(8).image)
    reader = independent_engine.IndependentReader(3, seed=1)
    assert reader[-1].meta["index"] == 2
    with pytest.raises(IndexError):
        reader[3]


def test_ratios_divide_by_the_own_score():
    own = {"mean_j": 0.6, "ap50": 0.5, "ap": 0.2, "recall5": 0.7}
    other = {"mean_j": 0.45, "ap50": 0.5, "ap": 0.1, "recall5": 0.6}
    assert transfer.ratios(own, other) == pytest.approx({"mean_j": 0.75, "ap50": 1.0})
    assert np.isnan(transfer.ratios({**own, "ap50": 0.0}, other)["ap50"])


def test_markdown_shows_each_set_and_its_ratio():
    scores = {"mean_j": 0.5, "ap50": 0.4, "ap": 0.2, "recall5": 0.6}
    report = {"cpu": "test CPU", "command": "python benchmarks/transfer.py", "frames": 10, "run_frames": 5,
              "models": {"m": {"own": scores, "independent_256": scores,
                               "ratio_256": {"mean_j": 1.0, "ap50": 1.0}}},
              "runs": {"local_norm": [{"own": scores, "independent": scores, "ratio": {"mean_j": 1.0, "ap50": 1.0}}]}}
    text = transfer.markdown(report)
    assert "| m | independent_256 | 0.500 | 0.400 | 0.200 | 0.600 | **1.000** | **1.000** |" in text
    assert "| m | own | 0.500 |" in text and "| local_norm | 1 |" in text


@pytest.mark.parametrize("argv, message", [
    (["--sizes", "big"], "--sizes: comma-separated integers, got 'big'"),
    (["--sizes", "32"], "--sizes: sizes from 64 to 4096 px"),
    (["--runs", "/no/such/folder"], "--runs: /no/such/folder is not a folder"),
    (["--weights", "no-such-model", "--frames", "1", "--sizes", "64"], "no-such-model: no such weights file or shipped model"),
])
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert transfer.main([*argv, "--out", str(tmp_path), "--work", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_parse_labelled_splits_at_the_first_equals_sign():
    assert transfer.parse_labelled("shipped=runs/a.safetensors") == ("shipped", "runs/a.safetensors")
    assert transfer.parse_labelled("old=runs/lr=3e-3/b.safetensors") == ("old", "runs/lr=3e-3/b.safetensors")
    assert transfer.parse_labelled("cathx-chest") == ("cathx-chest", "cathx-chest")


def test_parse_sizes_rejects_sizes_out_of_range_with_the_option_named():
    assert transfer.parse_sizes("256,512", 256, 1024) == [256, 512]
    with pytest.raises(ValueError, match="--sizes: sizes from 256 to 1024 px"):
        transfer.parse_sizes("128", 256, 1024)
    with pytest.raises(ValueError, match="comma-separated integers"):
        transfer.parse_sizes("big", 256, 1024)
