"""RANZCR CLiP reader: labels, line masks, and one clear error per bad input."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cathx.data.chest.ranzcr import (
    ANNOTATIONS_FILE, CSV_FILE, LABELS, RanzcrReader, draw_line_masks, format_points, label_group, parse_points,
)
from cathx.data.chest.synthetic import write_chest_dataset
from cathx.errors import DataError


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    return write_chest_dataset(tmp_path_factory.mktemp("ranzcr"), 6, size=64, seed=3, workers=1)


def _rewrite_csv(path, transform):
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows = transform(rows)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_reads_labels_and_line_masks(tiny_set):
    reader = RanzcrReader(tiny_set)
    assert len(reader) == 6
    with (tiny_set / CSV_FILE).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for sample, row in zip(reader, rows):
        assert sample.meta["uid"] == row["StudyInstanceUID"]
        assert sample.meta["patient_id"] == row["PatientID"]
        np.testing.assert_array_equal(sample.meta["labels"], [float(row[n]) for n in LABELS])
        assert sample.image.shape == (64, 64) and sample.image.dtype == np.float32
        masks = sample.meta["line_masks"]
        assert masks.shape == (4, 64, 64)
        # A device group has a line mask exactly when one of its labels is set.
        groups_present = {label_group(n) for n, v in zip(LABELS, sample.meta["labels"]) if v}
        assert {g for g in range(4) if masks[g].any()} <= groups_present


def test_resize_scales_annotations(tiny_set):
    sample = RanzcrReader(tiny_set, size=32)[0]
    full = RanzcrReader(tiny_set)[0]
    assert sample.image.shape == (32, 32)
    assert sample.meta["line_masks"].any() == full.meta["line_masks"].any()


def test_draw_line_masks_hand_case():
    masks = draw_line_masks([(2, np.array([[1, 1], [5, 1]], np.float32))], (4, 8), width=1)
    expected = np.zeros((4, 8), np.uint8)
    expected[1, 1:6] = 1
    np.testing.assert_array_equal(masks[2], expected)
    assert masks[[0, 1, 3]].sum() == 0


def test_points_round_trip():
    points = np.array([[10, 20], [30, 41]], np.float32)
    np.testing.assert_array_equal(parse_points(format_points(points), "x"), points)
    with pytest.raises(DataError, match="not a list of"):
        parse_points("[[1, 2, 3]]", "f.csv:2")


def test_missing_label_columns_named(tiny_set, tmp_path):
    root = _copy(tiny_set, tmp_path / "d")
    _rewrite_csv(root / CSV_FILE, lambda rows: [[v for i, v in enumerate(r) if rows[0][i] not in
                                                 ("ETT - Borderline", "CVC - Normal")] for r in rows])
    with pytest.raises(DataError, match=r"missing column\(s\) 'ETT - Borderline', 'CVC - Normal'"):
        RanzcrReader(root)


def test_unknown_annotation_label_named(tiny_set, tmp_path):
    root = _copy(tiny_set, tmp_path / "d")

    def rename(rows):
        rows[1][1] = "ETT - Misplaced"
        return rows

    _rewrite_csv(root / ANNOTATIONS_FILE, rename)
    with pytest.raises(DataError, match="unknown label name.*'ETT - Misplaced'"):
        RanzcrReader(root)


def test_missing_images_named_in_one_message(tiny_set, tmp_path):
    root = _copy(tiny_set, tmp_path / "d")
    images = sorted((root / "train").glob("*.jpg"))
    for path in images[:2]:
        path.unlink()
    with pytest.raises(DataError) as info:
        RanzcrReader(root)
    message = str(info.value)
    assert "2 image(s) listed but missing" in message
    assert all(p.stem in message for p in images[:2])


def test_missing_csv_and_bad_values(tmp_path, tiny_set):
    with pytest.raises(DataError, match="train.csv: not found"):
        RanzcrReader(tmp_path)
    root = _copy(tiny_set, tmp_path / "d")

    def bad(rows):
        rows[1][1] = "yes"
        return rows

    _rewrite_csv(root / CSV_FILE, bad)
    with pytest.raises(DataError, match=r"train.csv:2: label values must be 0 or 1"):
        RanzcrReader(root)
