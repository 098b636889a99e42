"""Contact sheet of frames with labels drawn on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cathx.data.synthetic import SyntheticReader
from cathx.data.synthetic.preview import contact_sheet, draw_labels, write_preview
from cathx.errors import CathxError


def test_contact_sheet_pairs_raw_and_labelled_frames(tmp_path):
    samples = SyntheticReader(3, size=64, seed=0)[:]
    sheet = contact_sheet(samples, pairs_per_row=2, tile=64)
    assert sheet.dtype == np.uint8 and sheet.shape[2] == 3
    assert sheet.shape[0] == 2 * (64 + 6)  # two rows of pairs
    assert sheet.shape[1] == 2 * (64 * 2 + 2 + 6)
    path = write_preview(tmp_path / "sheet.png", samples, tile=64)
    assert cv2.imread(str(path)).shape == sheet.shape


def test_labels_are_drawn_in_colour_on_the_mask():
    sample = SyntheticReader(1, size=64, seed=2)[0]
    drawn = draw_labels(sample)
    on_mask = drawn[sample.mask > 0]
    assert np.any(on_mask[:, 0] != on_mask[:, 2])  # tinted, no longer grey


def test_preview_must_be_png(tmp_path):
    with pytest.raises(CathxError, match="the preview must be a .png file"):
        write_preview(tmp_path / "sheet.jpg", SyntheticReader(1, size=64)[:])
