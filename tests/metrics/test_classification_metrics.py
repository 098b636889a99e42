"""Mean column-wise ROC AUC of the chest classifier, on cases worked out by hand."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from cathx.data.chest.ranzcr import LABELS
from cathx.metrics.classification import auc_markdown, columnwise_auc, roc_auc, write_auc_report


def test_roc_auc_hand_cases():
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats 0.1 only, 0.8 beats both -> 3/4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.2, 0.9]) == 1.0
    assert roc_auc([0, 1], [0.9, 0.2]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert roc_auc([0, 0, 1], [0.3, 0.7, 0.7]) == pytest.approx(0.75)  # tie counts one half
    assert math.isnan(roc_auc([1, 1], [0.1, 0.2]))
    assert math.isnan(roc_auc([0, 0], [0.1, 0.2]))


def test_roc_auc_four_scores_with_a_tie_and_unsorted_labels():
    # positives 0.9 and 0.1, negatives 0.9 and 0.2: 0.9 ties 0.9 (1/2) and beats 0.2 (1); 0.1 beats
    # neither -> 1.5 / 4. Labels and scores swapped would give 0.5; a tie counted as a win, 0.5 too.
    assert roc_auc([1, 0, 0, 1], [0.9, 0.9, 0.2, 0.1]) == pytest.approx(0.375)


def test_roc_auc_of_logits_and_of_close_scores_depends_on_order_only():
    # positives 2 and -1, negatives -3 and 0.5: 2 beats both, -1 beats -3 -> 3/4
    assert roc_auc([0, 1, 0, 1], [-3.0, 2.0, 0.5, -1.0]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [40.0, 41.0]) == 1.0  # a sigmoid would tie these at 1.0 in float64
    assert roc_auc([0, 1], [0.5, 0.5 + 1e-9]) == 1.0  # float32 would round these together
    assert roc_auc([0, 1], [5.0, 5.0]) == 0.5


def test_columnwise_auc_skips_single_class_labels():
    labels = np.zeros((4, 11), np.float32)
    labels[:, 0] = [0, 0, 1, 1]
    labels[:, 1] = [0, 1, 0, 1]
    probs = np.zeros_like(labels)
    probs[:, 0] = [0.1, 0.2, 0.8, 0.9]
    probs[:, 1] = [0.9, 0.1, 0.05, 0.2]  # positives 0.1, 0.2 against 0.9, 0.05: each beats 0.05 only
    mean, per_label = columnwise_auc(labels, probs)
    assert per_label[LABELS[0]] == 1.0 and per_label[LABELS[1]] == 0.5
    assert all(per_label[n] is None for n in LABELS[2:])
    assert mean == pytest.approx(0.75)  # the mean of the two defined labels, not of all 11


def test_auc_report_files(tmp_path):
    labels = np.zeros((4, 11), np.float32)
    labels[:, 0] = [0, 0, 1, 1]
    labels[2, 5] = 1
    probs = np.zeros_like(labels)
    probs[:, 0] = [0.1, 0.4, 0.35, 0.8]
    probs[:, 5] = [0.3, 0.2, 0.1, 0.15]  # the one positive (row 2) is below every negative
    report = write_auc_report(tmp_path, labels, probs, {"fold": 2})
    assert report["mean_auc"] == pytest.approx((0.75 + 0.0) / 2) and report["fold"] == 2
    assert report["positives"][LABELS[0]] == 2 and report["positives"][LABELS[5]] == 1
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(report))
    with (tmp_path / "metrics.csv").open() as handle:
        rows = {row["label"]: row for row in csv.DictReader(handle)}
    assert rows[LABELS[0]]["auc"] == "0.7500" and rows[LABELS[5]]["auc"] == "0.0000" and rows[LABELS[1]]["auc"] == ""
    assert rows["mean"] == {"label": "mean", "auc": "0.3750", "positives": "2"}  # studies with any positive
    text = (tmp_path / "metrics.md").read_text()
    assert f"| {LABELS[0]} | 0.750 | 2 |" in text and f"| {LABELS[1]} | n/a | 0 |" in text
    assert text.endswith("| **mean (column-wise)** | **0.375** | 4 studies |\n")


def test_auc_markdown_rows():
    text = auc_markdown(0.5, {"a": 0.25, "b": None}, {"a": 3, "b": 0}, 7)
    assert text.splitlines() == ["| label | AUC | positives |", "|---|---:|---:|", "| a | 0.250 | 3 |",
                                 "| b | n/a | 0 |", "| **mean (column-wise)** | **0.500** | 7 studies |"]


@pytest.mark.filterwarnings("error")  # the mean of no AUC must not warn
def test_columnwise_auc_without_any_defined_label_is_nan_and_report_keys(tmp_path):
    labels = np.zeros((4, len(LABELS)))  # no positives anywhere: no label has an AUC
    mean, per_label = columnwise_auc(labels, np.full((4, len(LABELS)), 0.5))
    assert math.isnan(mean) and set(per_label.values()) == {None}
    labels[:2, 0] = 1
    probs = np.zeros((4, len(LABELS)))
    probs[:, 0] = [0.9, 0.8, 0.1, 0.2]
    report = write_auc_report(tmp_path, labels, probs)
    assert report["studies"] == 4 and report["per_label_auc"][LABELS[0]] == 1.0
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["studies"] == 4 and written["per_label_auc"][LABELS[0]] == 1.0
