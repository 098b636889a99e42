"""benchmarks/chest_line_probe.py: the pasted line, the covered share, and the bad-input messages."""

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
spec = importlib.util.spec_from_file_location("chest_line_probe", BENCHMARKS / "chest_line_probe.py")
chest_line_probe = importlib.util.module_from_spec(spec)
sys.modules["chest_line_probe"] = chest_line_probe
spec.loader.exec_module(chest_line_probe)


def test_paste_line_adds_a_bright_line_where_its_centreline_is():
    base = np.full((100, 100), 0.4, np.float32)
    image, centreline = chest_line_probe.paste_line(base, (0.1, 0.3), (0.5, 0.3), contrast=0.2)
    assert centreline[30, 10:51].all() and centreline.sum() == 41
    assert image[30, 20] > 0.55 and image[70, 20] == pytest.approx(0.4, abs=1 / 255)
    assert np.allclose(image * 255, np.round(image * 255), atol=1e-4)  # quantised as a file would be


def test_covered_counts_centreline_pixels_near_the_mask():
    centreline = np.zeros((50, 50), bool)
    centreline[20, 0:40] = True
    mask = np.zeros((50, 50), bool)
    mask[24, 0:20] = True  # 4 px below columns 0-19; columns 20-23 are within 6 px of its end (19, 24)
    assert chest_line_probe.covered(mask, centreline, 6.0) == pytest.approx(24 / 40)
    assert chest_line_probe.covered(mask, centreline, 3.0) == 0.0
    assert chest_line_probe.covered(np.zeros_like(mask), centreline, 6.0) == 0.0


def test_probe_averages_per_probe_over_studies():
    class Everything:  # stands in for ChestModel: the whole image is line
        def predict_grey(self, image, name):
            return SimpleNamespace(mask=np.full(image.shape, 255, np.uint8))

    result = chest_line_probe.probe(Everything(), 1, variety=False)
    assert set(result) == set(chest_line_probe.PROBES) and all(v == 1.0 for v in result.values())


@pytest.mark.parametrize(("argv", "message"), [
    (["--studies", "0"], "--studies: at least 1"),
    (["--weights", "no-such-model", "--studies", "1"], "no-such-model"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert chest_line_probe.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
