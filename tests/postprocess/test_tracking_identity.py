"""Tracker identities on hand-built frames where list order and position disagree: electrodes
arrive shuffled, catheters drift further than a gate in total, and a catheter slides onto the
place of another catheter's missed electrode. Only the public ``Tracker.update(Results)`` is used."""

from __future__ import annotations

import numpy as np

from cathx.postprocess.results import Catheter, Results
from cathx.postprocess.tracking import Tracker


def frame(catheters, rng=None):
    """Results from [(type, electrodes (N, 2) tip first, truth labels (N,))]; with ``rng`` the
    electrode rows and the catheter list are shuffled. Returns (results, truth label per row)."""
    order = np.arange(len(catheters)) if rng is None else rng.permutation(len(catheters))
    points, owner, index, truth, items = [], [], [], [], []
    for c, k in enumerate(order):
        kind, xy, labels = catheters[k]
        xy = np.asarray(xy, np.float32)
        tip_to_end = xy[-1] - xy[0]
        line = np.stack([xy[0] - 0.2 * tip_to_end, xy[-1] + 0.5 * tip_to_end])  # the shaft goes on
        items.append(Catheter(id=-1, type=kind, centreline=line.astype(np.float32)))
        points.append(xy)
        owner += [c] * len(xy)
        index += list(range(len(xy)))
        truth += list(labels)
    rows = np.arange(len(owner)) if rng is None else rng.permutation(len(owner))
    n = len(rows)
    results = Results(
        image_size=(128, 160), electrodes=np.concatenate(points)[rows], scores=np.full(n, 0.9, np.float32),
        sizes=np.full((n, 2), 2.0, np.float32), electrode_catheter=np.asarray(owner, np.int64)[rows],
        electrode_index=np.asarray(index, np.int64)[rows], electrode_ids=np.full(n, -1, np.int64),
        catheters=items,
    )
    return results, np.asarray(truth)[rows]


def line_of(start, step, count):
    return np.asarray(start, np.float64) + np.arange(count)[:, None] * np.asarray(step, np.float64)


def test_ids_follow_the_electrodes_not_the_list_through_shuffles_and_drift():
    rng = np.random.default_rng(5)
    tracker = Tracker()
    electrode_id: dict[str, int] = {}  # truth label -> id given in the first frame
    catheter_id: dict[str, int] = {}
    # A drifts 6 px per frame to the right (40 px in all, twice the centreline gate), 4 px in the
    # last frame, where its tip electrode is missed; B drifts 3 px down. Rings are 10 px apart, so the
    # nearest previous ring is always the same electrode. Rows are shuffled and electrode_index
    # counts from the first ring detected.
    for t, x in enumerate([0, 6, 12, 18, 24, 30, 36, 40]):
        a = line_of([20 + x, 30], [10, 2], 4)
        b = line_of([30, 80 + 3 * t], [12, 0], 4)
        labels = ["a0", "a1", "a2", "a3"]
        if t == 7:
            a, labels = a[1:], labels[1:]
        results, truth = frame([("quadripolar", a, labels), ("ablation", b, ["b0", "b1", "b2", "b3"])], rng)
        tracker.update(results)
        owners = results.electrode_catheter_ids()
        for label, eid, cid in zip(truth, results.electrode_ids.tolist(), owners.tolist()):
            assert electrode_id.setdefault(label, eid) == eid, (t, label)
            assert catheter_id.setdefault(label[0], cid) == cid, (t, label)
    assert len(set(electrode_id.values())) == 8 and len(set(catheter_id.values())) == 2


def test_a_catheter_does_not_take_the_id_of_another_ones_missed_electrode():
    tracker = Tracker()
    a = line_of([20, 30], [10, 0], 4)  # tip at x = 20, last ring at (50, 30)
    b = line_of([56, 63], [0, -10], 4)  # tip at y = 63, last ring at (56, 33): near A's path
    first, truth = frame([("quadripolar", a, ["a0", "a1", "a2", "a3"]),
                          ("quadripolar", b, ["b0", "b1", "b2", "b3"])])
    tracker.update(first)
    ids = dict(zip(truth.tolist(), first.electrode_ids.tolist()))
    # A slides 6 px along itself: its last ring lands at (56, 30), 3 px from B's last ring, whose
    # detection is missed in this frame. The ring keeps A's id; B's id stays unused.
    second, truth = frame([("quadripolar", a + [6, 0], ["a0", "a1", "a2", "a3"]),
                           ("quadripolar", b[:3], ["b0", "b1", "b2"])])
    tracker.update(second)
    kept = {k: v for k, v in ids.items() if k != "b3"}
    assert dict(zip(truth.tolist(), second.electrode_ids.tolist())) == kept
    owners = dict(zip(truth.tolist(), second.electrode_catheter_ids().tolist()))
    assert owners["a3"] == owners["a0"] != owners["b0"]
