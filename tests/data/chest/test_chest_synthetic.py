"""Synthetic chest generator: determinism, layout, and tip positions that match the labels."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cathx.data.chest.ranzcr import CSV_FILE, LABELS
from cathx.data.chest.synthetic import (
    SyntheticChestReader, cvc_path, ett_path, generate_study, ngt_path, patient_plan, sample_anatomy,
    write_chest_dataset,
)
from cathx.errors import DataError


@pytest.fixture(scope="module")
def anatomy():
    return sample_anatomy(np.random.default_rng(1), np.random.default_rng(2))


def test_deterministic_by_seed():
    a, b, c = generate_study(5, 3, 64), generate_study(5, 3, 64), generate_study(6, 3, 64)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)
    assert a.image.dtype == np.float32 and 0.0 <= a.image.min() and a.image.max() <= 1.0


def test_workers_do_not_change_output(tmp_path):
    one = write_chest_dataset(tmp_path / "one", 10, size=48, seed=2, workers=1)
    two = write_chest_dataset(tmp_path / "two", 10, size=48, seed=2, workers=2)
    for name in (CSV_FILE, "train_annotations.csv"):
        assert (one / name).read_text() == (two / name).read_text()
    first = sorted((one / "train").iterdir())[0].name
    assert (one / "train" / first).read_bytes() == (two / "train" / first).read_bytes()
    with pytest.raises(DataError, match="--overwrite"):
        write_chest_dataset(one, 2, size=48)


def test_patients_hold_several_studies():
    plan = patient_plan(40, 0)
    counts = np.bincount([p for p, _ in plan])
    assert counts.max() >= 2 and counts.min() >= 1 and len(counts) < 40
    reader = SyntheticChestReader(40, 32, 0)
    assert len(set(reader.patient_ids)) == len(counts)


def test_ett_tip_relative_to_carina(anatomy):
    rng = np.random.default_rng(0)
    ty, scale = anatomy.carina[1], anatomy.scale
    for _ in range(20):
        above = (ty - ett_path(anatomy, "Normal", rng)[-1, 1]) / scale
        assert 0.074 <= above <= 0.131
        above = (ty - ett_path(anatomy, "Borderline", rng)[-1, 1]) / scale
        assert 0.014 <= above <= 0.041 or 0.169 <= above <= 0.211
        tip = ett_path(anatomy, "Abnormal", rng)[-1]
        assert tip[1] > ty or (ty - tip[1]) / scale > 0.26  # in a bronchus or high in the neck


def test_ngt_tip_relative_to_diaphragm(anatomy):
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert ngt_path(anatomy, "Normal", rng)[-1, 1] > anatomy.diaphragm_l + 0.02
        assert ngt_path(anatomy, "Incompletely Imaged", rng)[:, 1].max() > 1.0
        assert ngt_path(anatomy, "Abnormal", rng)[-1, 1] < anatomy.diaphragm_l


def test_cvc_tip_relative_to_carina_and_caj(anatomy):
    rng = np.random.default_rng(0)
    ty, caj, scale = anatomy.carina[1], anatomy.caj_y, anatomy.scale
    for _ in range(20):
        tip = cvc_path(anatomy, "Normal", rng)[-1, 1]
        assert ty - 0.011 * scale <= tip <= caj
        tip = cvc_path(anatomy, "Borderline", rng)[-1, 1]
        assert tip <= ty - 0.059 * scale or tip >= caj + 0.034 * scale


def test_every_status_draws_for_many_anatomies():
    from cathx.data.chest.synthetic import CVC_STATUS, ETT_STATUS, NGT_STATUS, swan_path

    for k in range(300):
        an = sample_anatomy(np.random.default_rng([k, 1]), np.random.default_rng([k, 2]))
        rng = np.random.default_rng(k)
        for status in ETT_STATUS:
            assert len(ett_path(an, status, rng)) >= 2
        for status in NGT_STATUS:
            assert len(ngt_path(an, status, rng)) >= 2
        for status in CVC_STATUS:
            assert len(cvc_path(an, status, rng)) >= 2
        assert len(swan_path(an, rng)) >= 2


def test_labels_and_annotations_agree(tmp_path):
    root = write_chest_dataset(tmp_path, 12, size=64, seed=1, workers=1)
    with (root / CSV_FILE).open(newline="") as handle:
        rows = {r["StudyInstanceUID"]: r for r in csv.DictReader(handle)}
    with (root / "train_annotations.csv").open(newline="") as handle:
        for ann in csv.DictReader(handle):
            assert rows[ann["StudyInstanceUID"]][ann["label"]] == "1"
    labels = np.array([[float(r[n]) for n in LABELS] for r in rows.values()])
    assert labels[:, :3].sum(axis=1).max() <= 1  # at most one ETT
    assert labels.sum() > 0
