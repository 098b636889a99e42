"""The coronary sinus (CS) motion curve of a sequence, from its catheter tracks.

The CS catheter moves with respiration and the heart and is the usual reference for motion
compensation: ``MotionCurve`` follows its track (``cathx.postprocess.tracking``) and reports a
displacement for every frame, with a quality flag, bridging short gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cathx.postprocess.centreline import resample_polyline
from cathx.postprocess.results import Results
from cathx.postprocess.tracking import CENTRELINE_SAMPLES, CS_TYPE, centreline_shift


QUALITY: tuple[str, ...] = ("measured", "partial", "interpolated", "held", "missing")
"""Motion quality flags: measured from >= min_electrodes tracked electrodes; partial (fewer, or the
centreline only); interpolated across a gap of the track; held (the nearest value, at either end);
missing (no value)."""


@dataclass
class Motion:
    """The CS displacement per frame (all arrays (T, ...) in frame order).

    frames: (T,) frame numbers; position: (T, 2) CS electrode centroid as placed by the motion;
    displacement: (T, 2) from the reference frame (the first one measured), pixels (x right, y
    down); quality: (T,) one of QUALITY; electrodes: (T,) tracked electrodes the value rests on;
    catheter_id: the CS track followed (None when no catheter was typed CS).
    """

    frames: np.ndarray
    position: np.ndarray
    displacement: np.ndarray
    quality: np.ndarray
    electrodes: np.ndarray
    catheter_id: int | None = None

    COLUMNS = ("frame", "x", "y", "dx", "dy", "quality", "electrodes", "catheter_id")

    def rows(self) -> list[dict]:
        """One dict per frame with COLUMNS; values are '' where missing."""

        def number(v: float) -> str | float:
            return "" if not np.isfinite(v) else round(float(v), 3)

        return [{"frame": int(f), "x": number(p[0]), "y": number(p[1]),
                 "dx": number(d[0]), "dy": number(d[1]),
                 "quality": str(q), "electrodes": int(n),
                 "catheter_id": "" if self.catheter_id is None else int(self.catheter_id)}
                for f, p, d, q, n in zip(self.frames, self.position, self.displacement, self.quality,
                                         self.electrodes)]

    def coverage(self) -> float:
        """Fraction of frames with a value."""
        return float(np.mean(self.quality != "missing")) if len(self.quality) else 0.0


@dataclass
class MotionCurve:
    """Displacement of the coronary sinus catheter over a sequence (motion compensation signal).

    Feed tracked Results in order with ``add``. ``curve()`` follows the track typed CS in most
    frames (with most electrodes), in every frame that track was seen (whatever its type then).
    Displacement is the median shift of its tracked electrodes from where each was first seen
    (shifted back by the displacement then), so it does not drift and is robust to electrodes
    missed in some frames; frames where none of its electrodes was seen use the shift of its
    centreline.
    Gaps of up to ``max_gap`` frames between values are interpolated, and up to ``max_gap``
    frames before the first and after the last value hold it. ``smoothing`` > 1: centred moving
    average over that many frames (odd; values only, flags unchanged).
    """

    max_gap: int = 15
    min_electrodes: int = 3
    smoothing: int = 0
    frames: list[int] = field(default_factory=list)
    _electrodes: list[dict[int, dict[int, np.ndarray]]] = field(default_factory=list)
    _centres: list[dict[int, np.ndarray]] = field(default_factory=list)
    _cs_votes: dict[int, int] = field(default_factory=dict)

    def add(self, results: Results, frame: int | None = None) -> None:
        """Record one tracked frame."""
        self.frames.append(len(self.frames) if frame is None else int(frame))
        owners = results.electrode_catheter_ids()
        electrodes: dict[int, dict[int, np.ndarray]] = {}
        centres: dict[int, np.ndarray] = {}
        for catheter in results.catheters:
            if catheter.id < 0:  # no id yet (a track not yet confirmed): nothing to follow
                continue
            members = np.flatnonzero((owners == catheter.id) & (results.electrode_ids >= 0))
            found = electrodes.setdefault(catheter.id, {})
            found.update({int(results.electrode_ids[m]): results.electrodes[m].astype(np.float64)
                          for m in members})
            if catheter.id not in centres and len(catheter.centreline):
                # Kept as it is: only the CS track's are resampled, in curve().
                centres[catheter.id] = catheter.centreline
            if catheter.type == CS_TYPE:
                # One vote per frame plus one per electrode: a stray piece typed CS with few
                # electrodes does not outvote the catheter that carries all ten.
                self._cs_votes[catheter.id] = self._cs_votes.get(catheter.id, 0) + 1 + len(members)
        self._electrodes.append(electrodes)
        self._centres.append(centres)

    def reference_id(self) -> int | None:
        """Catheter id typed CS in the most frames, with the most electrodes (lowest id on a tie);
        None if no catheter was typed CS."""
        if not self._cs_votes:
            return None
        return max(self._cs_votes, key=lambda k: (self._cs_votes[k], -k))

    def curve(self) -> Motion:
        count = len(self.frames)
        cid = self.reference_id()
        displacement = np.full((count, 2), np.nan)
        quality = np.full(count, "missing", dtype=object)
        used = np.zeros(count, np.int64)
        origin = None
        if cid is not None:
            anchors: dict[int, np.ndarray] = {}
            chained: dict[int, tuple[int, np.ndarray]] = {}  # frame -> (frame it was measured from, shift)
            previous: int | None = None
            for t in range(count):
                electrodes = self._electrodes[t].get(cid)
                if electrodes is None:
                    continue
                common = [k for k in electrodes if k in anchors]
                if common:
                    displacement[t] = _robust_shift(np.stack([electrodes[k] - anchors[k] for k in common]))
                    used[t] = len(common)
                    quality[t] = "measured" if len(common) >= self.min_electrodes else "partial"
                elif origin is None and electrodes:
                    displacement[t] = 0.0
                    used[t] = len(electrodes)
                    quality[t] = "measured" if len(electrodes) >= self.min_electrodes else "partial"
                    origin = np.mean(np.stack(list(electrodes.values())), axis=0)
                elif previous is not None and cid in self._centres[t] and cid in self._centres[previous]:
                    before, now = (
                        resample_polyline(np.asarray(self._centres[k][cid], np.float64), CENTRELINE_SAMPLES)
                        for k in (previous, t)
                    )
                    shift = centreline_shift(before, now)
                    displacement[t] = displacement[previous] + shift
                    chained[t] = (previous, shift)
                    quality[t] = "partial"
                else:
                    continue
                for k, xy in electrodes.items():
                    anchors.setdefault(k, xy - displacement[t])
                previous = t
            self._refine(cid, displacement, used, chained)
        _bridge(displacement, quality, self.max_gap)
        if self.smoothing > 1:
            displacement = _smooth(displacement, self.smoothing)
        position = displacement + (origin if origin is not None else np.nan)
        return Motion(np.asarray(self.frames, np.int64), position, displacement,
                      np.asarray(quality, dtype=str), used, cid)


    def _refine(self, cid: int, displacement: np.ndarray, used: np.ndarray,
                chained: dict[int, tuple[int, np.ndarray]] | None = None) -> None:
        """Second pass, in place: each electrode's anchor becomes its mean position over all the
        frames it was seen in (less noise than its first sighting), displacements are measured
        again against these anchors, and the first measured frame stays the zero. A frame measured
        by its centreline's shift from an earlier frame (``chained``: frame -> (earlier frame,
        shift)) is then rebuilt on that frame's refined value, so that it moves with it."""
        frames = [t for t in range(len(displacement)) if used[t] and cid in self._electrodes[t]]
        if not frames:
            return
        sums: dict[int, np.ndarray] = {}
        counts: dict[int, int] = {}
        for t in frames:
            for k, xy in self._electrodes[t][cid].items():
                sums[k] = sums.get(k, 0.0) + (xy - displacement[t])
                counts[k] = counts.get(k, 0) + 1
        anchors = {k: sums[k] / counts[k] for k in sums}
        again = {t: _robust_shift(np.stack([xy - anchors[k] for k, xy in self._electrodes[t][cid].items()]))
                 for t in frames}
        zero = again[frames[0]]
        correction = {t: again[t] - zero - displacement[t] for t in frames}
        for t in frames:
            displacement[t] = displacement[t] + correction[t]
        for t in sorted(chained or {}):  # in time order: a chain of centreline frames follows its first
            earlier, shift = chained[t]
            displacement[t] = displacement[earlier] + shift


def _robust_shift(steps: np.ndarray) -> np.ndarray:
    """Common shift of (N, 2) per-electrode shifts: the mean of those within 1.5 px of their
    median (an electrode matched to the wrong ring or a false one does not pull it)."""
    median = np.median(steps, axis=0)
    near = np.linalg.norm(steps - median, axis=1) <= 1.5
    return steps[near].mean(axis=0) if near.any() else median


def _bridge(values: np.ndarray, quality: np.ndarray, max_gap: int) -> None:
    """Fill gaps of <= max_gap rows between finite rows by linear interpolation ('interpolated')
    and <= max_gap rows at either end with the nearest value ('held'), in place."""
    known = np.flatnonzero(np.isfinite(values[:, 0]))
    if len(known) == 0:
        return
    for a, b in zip(known[:-1], known[1:]):
        if 1 < b - a <= max_gap + 1:
            w = (np.arange(a + 1, b) - a) / (b - a)
            values[a + 1:b] = (1 - w)[:, None] * values[a] + w[:, None] * values[b]
            quality[a + 1:b] = "interpolated"
    first, last = known[0], known[-1]
    head = np.arange(max(0, first - max_gap), first)
    tail = np.arange(last + 1, min(len(values), last + 1 + max_gap))
    values[head], quality[head] = values[first], "held"
    values[tail], quality[tail] = values[last], "held"


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` rows, ignoring NaN rows (which stay NaN)."""
    half = window // 2
    out = values.copy()
    ok = np.isfinite(values[:, 0])
    for t in np.flatnonzero(ok):
        low, high = max(0, t - half), min(len(values), t + half + 1)
        near = values[low:high][ok[low:high]]
        out[t] = near.mean(axis=0)
    return out
