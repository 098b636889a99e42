"""Sample.validate: the shape and dtype contract every reader's samples keep (readers' tests call it)."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.structures import Sample


def _sample(**changes) -> Sample:
    fields = {"image": np.zeros((8, 8), np.float32), "mask": np.zeros((8, 8), np.uint8),
              "electrodes": np.zeros((2, 2), np.float32), "electrode_sizes": np.ones((2, 2), np.float32),
              "electrode_catheter_ids": np.zeros(2, np.int64)}
    return Sample(**{**fields, **changes})


def test_a_sample_keeping_the_contract_passes():
    _sample().validate()
    Sample(np.zeros((4, 6), np.float32)).validate()  # no labels at all


@pytest.mark.parametrize(("changes", "message"), [
    ({"image": np.zeros((8, 8), np.float64)}, "image must be (H, W) float32"),
    ({"mask": np.zeros((8, 9), np.uint8)}, "mask shape (8, 9) != image shape (8, 8)"),
    ({"mask": np.zeros((8, 8), bool)}, "mask must be uint8 {0, 1}, got bool"),
    ({"electrodes": np.zeros((2, 3), np.float32)}, "electrodes must be (N, 2)"),
    ({"electrode_sizes": np.ones((3, 2), np.float32)}, "electrode_sizes has 3 rows for 2 electrodes"),
    ({"electrode_sizes": np.ones((2, 1), np.float32)}, "electrode_sizes must be (N, 2), got (2, 1)"),
    ({"electrode_catheter_ids": np.zeros(1, np.int64)}, "electrode_catheter_ids has 1 rows"),
])
def test_a_reader_bug_is_named(changes, message):
    with pytest.raises(ValueError) as info:
        _sample(**changes).validate()
    assert message in str(info.value)
