"""benchmarks/chest_transfer.py and its independent chest generator (benchmarks/independent_chest.py):
the generator's conventions, the scorer on a few small studies, and the bad-input messages."""

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
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


chest_transfer = _load("chest_transfer")
independent_chest = _load("independent_chest")


def test_independent_studies_follow_the_api_and_are_deterministic():
    for seed in range(4):
        study = independent_chest.make_study(seed, 256)
        assert study.image.shape == (256, 256) and study.image.dtype == np.uint8
        assert len(study.lines) == len(study.widths)
        for group, points in study.lines:
            assert group in ("ETT", "NGT", "CVC", "Swan")
            assert points.ndim == 2 and points.shape[1] == 2
            assert np.all((points >= 0) & (points <= 255))
            assert np.hypot(*np.diff(points, axis=0).T).max() <= 1.01
    a, b = independent_chest.make_study(3, 256), independent_chest.make_study(3, 256)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, independent_chest.make_study(4, 256).image)


def test_a_perfect_mask_scores_one_and_an_empty_one_zero():
    from cathx.data.chest.ranzcr import GROUP_NAMES

    class Perfect:  # stands in for ChestModel: returns the annotated lines, 3 px wide
        def __init__(self, lines):
            self.lines = lines

        def predict_grey(self, image, name):
            import cv2

            truth = chest_transfer.truth_maps(self.lines, image.shape).any(axis=0).astype(np.uint8) * 255
            return type("R", (), {"mask": cv2.dilate(truth, np.ones((3, 3), np.uint8))})()

    image = np.full((256, 256), 0.5, np.float32)
    lines = [(GROUP_NAMES.index("CVC"), np.stack([np.linspace(40, 200, 161), np.full(161, 100.0)], 1))]
    result = chest_transfer.score(Perfect(lines), [(image, lines)], 256, 3.0, None)
    assert result["f1"] == pytest.approx(1.0, abs=0.02) and result["group_recall"]["CVC"] == pytest.approx(1.0)
    assert result["group_recall"]["ETT"] is None
    assert result["course_recall"]["across_lower"] == pytest.approx(1.0) and result["course_recall"]["down"] is None

    class Empty:
        def predict_grey(self, image, name):
            return type("R", (), {"mask": np.zeros(image.shape, np.uint8)})()

    result = chest_transfer.score(Empty(), [(image, lines)], 256, 3.0, None)
    assert result["f1"] == 0.0 and result["empty_masks"] == 1


def test_course_maps_split_an_l_shaped_line_by_direction_and_height():
    # across at y = 20 (top 30 % of 100 px), then down from (80, 20) to (80, 90), then across at y = 90
    points = np.array([[10.0, 20.0], [80.0, 20.0], [80.0, 90.0], [30.0, 90.0]])
    upper, lower, down = chest_transfer.course_maps([(2, points)], (100, 100))
    assert chest_transfer.COURSES == ("across_upper", "across_lower", "down")
    assert upper[20, 10:80].all() and not upper[21:].any()
    assert lower[90, 31:80].all() and not lower[:89].any()
    assert down[21:90, 80].all() and not down[:, :79].any()


def test_frangi_reference_finds_a_bright_line_and_fits_its_share_on_given_studies():
    from cathx.data.chest.ranzcr import GROUP_NAMES

    rng = np.random.default_rng(0)
    image = (0.4 + 0.02 * rng.standard_normal((256, 256))).astype(np.float32)
    image[60:200, 127:130] += 0.3  # a 3 px bright vertical line
    lines = [(GROUP_NAMES.index("NGT"), np.stack([np.full(141, 128.0), np.linspace(60, 200, 141)], 1))]
    frangi = chest_transfer.FrangiLines(share=0.04)
    mask = frangi.predict_grey(image, "x").mask
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert mask[70:190, 127:130].mean() > 0.9 * 255  # the line is found
    assert mask[:, :100].mean() < 0.05 * 255  # and little of the flat noise
    fitted = frangi.fit([(image, lines)], 256, 3.0)
    assert frangi.share in chest_transfer.FrangiLines.SHARES and fitted > 0.5


@pytest.mark.parametrize(("argv", "message"), [
    (["--sizes", "abc"], "--sizes: comma-separated integers"),
    (["--sizes", "128"], "--sizes: sizes from 256 to 1024 px"),
    (["--studies", "0"], "--studies: at least 1"),
    (["--weights", "no-such-model", "--studies", "1"], "no-such-model"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert chest_transfer.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
