"""Tracking across the frames of a sequence and the coronary sinus (CS) motion curve.

Catheters are matched frame to frame by the Hungarian algorithm on the distance between their
electrode centroids (or, for catheters without electrodes, the mean distance between resampled
centrelines in either direction), with a penalty when the type changed; electrodes
are matched the same way on their positions. Matched objects keep their id, new ones get the
next free id, and a track that is missed for ``max_missed`` frames is dropped.

The CS catheter moves with respiration and the heart and is the usual reference for motion
compensation: ``MotionCurve`` follows it and reports its displacement per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from cathx.postprocess.centreline import resample_polyline
from cathx.postprocess.results import Results

_SAMPLES = 32


def centreline_distance(a: np.ndarray, b: np.ndarray, samples: int = _SAMPLES) -> float:
    """Mean point-to-point distance of two polylines resampled to ``samples`` points, in the better
    of the two directions (so a flipped centreline still matches). Pixels."""
    ra, rb = resample_polyline(a, samples), resample_polyline(b, samples)
    if len(ra) == 0 or len(rb) == 0:
        return float("inf")
    forward = np.linalg.norm(ra - rb, axis=1).mean()
    backward = np.linalg.norm(ra - rb[::-1], axis=1).mean()
    return float(min(forward, backward))


def match(cost: np.ndarray, max_cost: float) -> list[tuple[int, int]]:
    """Hungarian matching of rows to columns; pairs costing more than ``max_cost`` are dropped."""
    if cost.size == 0:
        return []
    finite = np.where(np.isfinite(cost), cost, 1e9)
    rows, cols = linear_sum_assignment(finite)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if finite[r, c] <= max_cost]


@dataclass
class _Track:
    id: int
    type: str
    centreline: np.ndarray
    anchor: np.ndarray | None = None  # centroid of the catheter's electrodes
    missed: int = 0


def _anchors(results: Results) -> list[np.ndarray | None]:
    """Electrode centroid per catheter (None for a catheter without electrodes)."""
    out: list[np.ndarray | None] = []
    for c in range(len(results.catheters)):
        members = results.electrode_catheter == c
        out.append(results.electrodes[members].astype(np.float64).mean(axis=0) if members.any() else None)
    return out


@dataclass
class Tracker:
    """Stable catheter and electrode ids over a sequence; call ``update`` once per frame, in order.

    max_distance: largest mean centreline distance (pixels) to continue a catheter track.
    max_electrode_distance: largest electrode displacement (pixels) between frames.
    type_penalty: added to the centreline distance when the recognised type changed.
    index_penalty: pixels added per step of difference in the electrode's index along its
        catheter, so closely spaced rings do not swap ids when the catheter moves by a gap.
    """

    max_distance: float = 20.0
    max_electrode_distance: float = 8.0
    type_penalty: float = 8.0
    index_penalty: float = 3.0
    max_missed: int = 5
    _tracks: list[_Track] = field(default_factory=list)
    _next_catheter: int = 0
    _electrodes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    _electrode_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _electrode_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _electrode_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _next_electrode: int = 0

    def update(self, results: Results) -> Results:
        """Give ``results.catheters`` stable ids and fill ``results.electrode_ids`` (in place)."""
        catheters = results.catheters
        anchors = _anchors(results)
        cost = np.array([[self._cost(t, c, a) for c, a in zip(catheters, anchors)]
                         for t in self._tracks]).reshape(len(self._tracks), len(catheters))
        pairs = match(cost, self.max_distance)
        matched_tracks = {r for r, _ in pairs}
        for r, c in pairs:
            track = self._tracks[r]
            catheters[c].id = track.id
            track.centreline, track.type, track.missed = catheters[c].centreline, catheters[c].type, 0
            track.anchor = anchors[c]
        matched_catheters = {c for _, c in pairs}
        for r, track in enumerate(self._tracks):
            if r not in matched_tracks:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for c, catheter in enumerate(catheters):
            if c not in matched_catheters:
                catheter.id = self._next_catheter
                self._next_catheter += 1
                self._tracks.append(_Track(catheter.id, catheter.type, catheter.centreline, anchors[c]))
        self._update_electrodes(results)
        return results

    def _cost(self, track: _Track, catheter, anchor: np.ndarray | None) -> float:
        """Electrode centroids move with the catheter and do not depend on where the mask was cut,
        so they are compared when both sides have electrodes; centrelines otherwise."""
        penalty = self.type_penalty if track.type != catheter.type else 0.0
        if track.anchor is not None and anchor is not None:
            return float(np.linalg.norm(track.anchor - anchor)) + penalty
        if (track.anchor is None) != (anchor is None):
            penalty += self.type_penalty
        return centreline_distance(track.centreline, catheter.centreline) + penalty

    def _update_electrodes(self, results: Results) -> None:
        points = np.asarray(results.electrodes, np.float32).reshape(-1, 2)
        owners = results.electrode_catheter_ids()
        ids = np.full(len(points), -1, dtype=np.int64)
        if len(points) and len(self._electrodes):
            gap = np.linalg.norm(self._electrodes[:, None, :] - points[None, :, :], axis=2)
            # Switching catheter costs as much as the gate: only taken when nothing else fits.
            gap = gap + self.max_electrode_distance * (self._electrode_owner[:, None] != owners[None, :])
            index = np.asarray(results.electrode_index, np.int64)
            gap = gap + self.index_penalty * np.abs(self._electrode_index[:, None] - index[None, :])
            for r, c in match(gap, self.max_electrode_distance):
                ids[c] = self._electrode_ids[r]
        for i in np.flatnonzero(ids < 0):
            ids[i] = self._next_electrode
            self._next_electrode += 1
        results.electrode_ids = ids
        self._electrodes, self._electrode_ids = points.copy(), ids.copy()
        self._electrode_owner = owners.copy()
        self._electrode_index = np.asarray(results.electrode_index, np.int64).copy()


@dataclass
class MotionCurve:
    """Displacement of the coronary sinus catheter over a sequence (motion compensation signal).

    Feed tracked Results in order with ``add``. Each frame stores, per CS-typed catheter id, its
    electrodes by electrode id; ``curve()`` picks the catheter id seen as CS in most frames and
    chains the median displacement of electrodes matched between consecutive frames (robust to
    electrodes missed in some frames), falling back to the centroid shift when none match.
    """

    frames: list[int] = field(default_factory=list)
    _seen: list[dict[int, dict[int, np.ndarray]]] = field(default_factory=list)
    _centroids: list[dict[int, np.ndarray]] = field(default_factory=list)

    def add(self, results: Results, frame: int | None = None) -> None:
        self.frames.append(len(self.frames) if frame is None else int(frame))
        by_catheter: dict[int, dict[int, np.ndarray]] = {}
        centroids: dict[int, np.ndarray] = {}
        owners = results.electrode_catheter_ids()
        for catheter in results.catheters:
            if catheter.type != "cs_decapolar":
                continue
            members = np.flatnonzero(owners == catheter.id)
            by_catheter[catheter.id] = {
                int(results.electrode_ids[m]): results.electrodes[m].astype(np.float64) for m in members
            }
            source = results.electrodes[members] if len(members) else catheter.centreline
            centroids[catheter.id] = np.asarray(source, np.float64).mean(axis=0)
        self._seen.append(by_catheter)
        self._centroids.append(centroids)

    def reference_id(self) -> int | None:
        """Catheter id labelled CS in the most frames, or None if none was."""
        counts: dict[int, int] = {}
        for frame in self._centroids:
            for cid in frame:
                counts[cid] = counts.get(cid, 0) + 1
        return max(counts, key=lambda k: (counts[k], -k)) if counts else None

    def curve(self) -> np.ndarray:
        """(T, 5) rows [frame, x, y, dx, dy]: CS centroid and its displacement from the first frame
        it was seen (NaN where it was not)."""
        cid = self.reference_id()
        out = np.full((len(self.frames), 5), np.nan)
        out[:, 0] = self.frames
        if cid is None:
            return out
        offset = None
        previous: int | None = None
        for t, (electrodes, centroids) in enumerate(zip(self._seen, self._centroids)):
            if cid not in centroids:
                continue
            out[t, 1:3] = centroids[cid]
            if offset is None:
                offset = np.zeros(2)
            else:
                before, now = self._seen[previous].get(cid, {}), electrodes[cid]
                common = sorted(set(before) & set(now))
                if common:
                    step = np.median(np.stack([now[k] - before[k] for k in common]), axis=0)
                else:
                    step = centroids[cid] - self._centroids[previous][cid]
                offset = offset + step
            out[t, 3:5] = offset
            previous = t
        return out
