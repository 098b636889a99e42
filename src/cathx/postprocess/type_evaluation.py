"""How well the catheter-type rules do on labelled samples: (true, predicted) type pairs from the
ground-truth electrodes, or from the whole post-processing on a mask and peaks, and their accuracy.
Kept apart from catheter_type (the rules) so that the rules never import the frame analysis."""

from __future__ import annotations

import numpy as np

from cathx.postprocess.assignment import project_to_polyline
from cathx.postprocess.catheter_type import classify_catheter, polyline_closes
from cathx.postprocess.results import analyse_frame


def type_accuracy(pairs: list[tuple[str, str]]) -> dict:
    """{"accuracy", "count", "per_type": {type: {"count", "accuracy"}}, "confusion": {true: {pred: n}}}."""
    confusion: dict[str, dict[str, int]] = {}
    for true, pred in pairs:
        row = confusion.setdefault(true, {})
        row[pred] = row.get(pred, 0) + 1
    correct = sum(true == pred for true, pred in pairs)
    per_type = {t: {"count": sum(r.values()), "accuracy": r.get(t, 0) / max(sum(r.values()), 1)}
                for t, r in sorted(confusion.items())}
    return {"accuracy": correct / max(len(pairs), 1), "count": len(pairs), "per_type": per_type,
            "confusion": confusion}


def classify_ground_truth(sample) -> list[tuple[str, str]]:
    """(true, predicted) type per labelled catheter of a Sample, classified from its ground-truth
    electrodes projected on its ground-truth centreline (closure read from the centreline)."""
    pairs = []
    if sample.electrodes is None or sample.electrode_catheter_ids is None:
        return pairs
    for c, (kind, line) in enumerate(zip(sample.catheter_types, sample.centrelines)):
        members = np.flatnonzero(sample.electrode_catheter_ids == c)
        _, arc = project_to_polyline(sample.electrodes[members], line)
        sizes = None if sample.electrode_sizes is None else sample.electrode_sizes[members]
        if len(arc):
            length = float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum())
            if arc.min() > length - arc.max():
                arc = length - arc
        pairs.append((kind, classify_catheter(arc, sizes, polyline_closes(line), sample.electrodes[members])))
    return pairs


def electrode_owners(points: np.ndarray, sample, match_px: float = 3.0) -> np.ndarray:
    """(N,) int64: for each predicted electrode (N, 2) the index of the labelled catheter whose
    nearest true electrode lies within ``match_px`` pixels, -1 when none does (or the sample has
    no electrodes)."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    truth = np.asarray(sample.electrodes, np.float64).reshape(-1, 2)
    if len(points) == 0 or len(truth) == 0:
        return np.full(len(points), -1, dtype=np.int64)
    gap = np.linalg.norm(points[:, None] - truth[None], axis=2)
    owners = np.asarray(sample.electrode_catheter_ids, np.int64)[gap.argmin(axis=1)]
    return np.where(gap.min(axis=1) <= match_px, owners, -1)


def classify_through_pipeline(sample, mask: np.ndarray | None = None, peaks: np.ndarray | None = None,
                              type_probabilities: np.ndarray | None = None,
                              type_classifier=None) -> list[tuple[str, str]]:
    """(true, predicted) type per labelled catheter when the whole post-processing runs on a mask
    and peaks (default: the sample's ground-truth mask and electrodes), typed by a network's type
    head when ``type_probabilities`` (T, h, w) is given, by a learned ``type_classifier`` (with
    or without the head's probabilities) when given, else by the electrode-pattern rules. A
    catheter takes the type of the predicted catheter that most of its electrodes were assigned
    to ("missed" if none)."""
    if sample.electrodes is None or sample.electrode_catheter_ids is None:
        return []
    if peaks is None:
        sizes = sample.electrode_sizes
        if sizes is None:
            sizes = np.zeros_like(sample.electrodes)
        peaks = np.concatenate([sample.electrodes, np.ones((len(sample.electrodes), 1)), sizes], axis=1)
        truth_of_peak = sample.electrode_catheter_ids
    else:
        truth_of_peak = electrode_owners(peaks[:, :2], sample)
    results = analyse_frame(sample.mask if mask is None else mask, peaks, type_probabilities=type_probabilities,
                            type_classifier=type_classifier)
    pairs = []
    for c, kind in enumerate(sample.catheter_types):
        assigned = results.electrode_catheter[(truth_of_peak == c) & (results.electrode_catheter >= 0)]
        if len(assigned) == 0:
            pairs.append((kind, "missed"))
            continue
        pairs.append((kind, results.catheters[int(np.bincount(assigned).argmax())].type))
    return pairs
