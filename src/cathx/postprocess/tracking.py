"""Catheter tracks across the frames of a sequence.

A track is one physical catheter. It holds its electrodes as *slots* numbered from the tip (slot
positions are predicted from frame to frame with a damped velocity), the centreline it had when
last seen, and the evidence for its type. Each frame:

1. predict every track (electrodes and centreline shifted by its velocity);
2. split detections that carry the electrodes of two known tracks (catheters touching or
   crossing merge in a binary mask);
3. match detections with electrodes to tracks with electrodes globally (Hungarian algorithm,
   ``compiled.electrode_match_cost``: the share of the track's rings the detection explains, gated, so a
   piece holding one ring cannot take a catheter's id from the piece holding the rest, and a
   false electrode costs its share, not its distance); a lost track's gate widens with every
   frame it is missed;
4. a detection left over whose electrodes lie on a matched track is a piece of that catheter
   (a mask cut at a crossing) and takes its id;
5. what is left is matched globally on centreline distance (electrodes missed or first seen,
   catheters without electrodes); a detection without electrodes lying along a matched track's
   predicted centreline is a piece of its shaft; any other detection starts a new track, whose
   id shows once it has been seen ``confirm_frames`` frames in a row (-1 until then);
6. matched tracks align the detection's electrodes to their slots (so an electrode keeps its
   index from the tip when the tip electrode is missed or the centreline flips), update velocity
   and add the frame's type to their evidence (a catheter seen in pieces votes with the pattern
   of all its rings, ``row_type``);
7. two tracks whose electrode rows continue each other end to end (``row_continues``) for
   ``join_frames`` frames in a row are one catheter seen in two pieces since it appeared: one
   absorbs the other (its rings continue the row, ids kept); a track whose slots lie on a larger
   track's slots (a piece once tracked on its own, now held by the catheter's track too) is
   dropped for the larger one; tracks missed for more than ``max_missed`` frames are dropped.

The type of a catheter is decided over its track (``TypeVote``: decaying vote sums with
hysteresis), and every frame's Catheter carries the track's type and a confidence.

The CS motion curve built on these tracks is in ``cathx.postprocess.motion``.

Length (about 870 lines): the steps above share the Tracker's state (tracks, slots, links); the
pure pieces (matching costs, template alignment, row continuation, votes) are functions above it,
each tested by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from cathx.geometry import arc_length, median
from cathx.postprocess.catheter_type import type_from_probabilities
from cathx.postprocess.centreline import resample_polyline
from cathx.postprocess.results import Catheter, Results, rescale_results

logger = logging.getLogger(__name__)

CENTRELINE_SAMPLES = 32
CS_TYPE = "cs_decapolar"


def centreline_distance(a: np.ndarray, b: np.ndarray, samples: int = CENTRELINE_SAMPLES) -> float:
    """Mean point-to-point distance of two polylines resampled to ``samples`` points, in the better
    of the two directions (so a flipped centreline still matches). Pixels."""
    ra, rb = resample_polyline(a, samples), resample_polyline(b, samples)
    if len(ra) == 0 or len(rb) == 0:
        return float("inf")
    forward = np.linalg.norm(ra - rb, axis=1).mean()
    backward = np.linalg.norm(ra - rb[::-1], axis=1).mean()
    return float(min(forward, backward))


def match(cost: np.ndarray, max_cost: float) -> list[tuple[int, int]]:
    """Hungarian matching of rows to columns among the pairs costing at most ``max_cost``. Pairs
    beyond it are gated out before the assignment, not dropped after it: otherwise their real
    costs steer it (a far, unrelated detection could hand a catheter's detection to a fragment's
    track because the swap made the pair it then dropped cheaper)."""
    if cost.size == 0:
        return []
    from cathx.postprocess.compiled import min_cost_assignment

    gated = np.where(np.isfinite(cost) & (cost <= max_cost), cost, 1e9).astype(np.float64)
    if gated.shape[0] <= gated.shape[1]:
        pairs = enumerate(min_cost_assignment(gated).tolist())
    else:  # more rows than columns: solved on the transpose (as SciPy does, so ties fall alike)
        pairs = sorted((r, c) for c, r in enumerate(min_cost_assignment(np.ascontiguousarray(gated.T)).tolist()))
    return [(r, c) for r, c in pairs if gated[r, c] <= max_cost]


def chamfer(points: np.ndarray, reference: np.ndarray, statistic=np.mean) -> float:
    """Mean (or ``statistic``) of the distances from each of ``points`` (N, 2) to its nearest
    point of ``reference`` (M, 2); inf when either is empty."""
    if len(points) == 0 or len(reference) == 0:
        return float("inf")
    if (statistic is np.mean or statistic is median) and points.dtype == reference.dtype == np.float64:
        from cathx.postprocess import compiled  # the same value, without a dozen NumPy calls

        return float(compiled.chamfer(np.ascontiguousarray(points).reshape(-1, 2),
                                      np.ascontiguousarray(reference).reshape(-1, 2), statistic is median))
    step = points[:, None, :] - reference[None, :, :]
    return float(statistic(np.hypot(step[..., 0], step[..., 1]).min(axis=1)))


UNPLACED = np.iinfo(np.int64).min  # slot of an electrode that fits no slot (a false detection)


def align_to_template(points: np.ndarray, template: np.ndarray, miss_cost: float, shift_weight: float = 0.3
                      ) -> tuple[np.ndarray, float]:
    """Slot of each electrode of a detection in a track's electrode template.

    points: (N, 2) detected electrodes; template: (M, 2) predicted positions of the track's slots.
    First the motion left over by the prediction: every shift that puts one point on one slot
    (and no shift) is scored by the mean distance from the shifted points to their nearest slot,
    clipped at ``miss_cost / 2``, plus ``shift_weight`` times the shift (small motion is likelier);
    the rings' pattern (paired CS rings, a long tip) makes the right shift fit best even when
    rings are missed, false ones are added or the row is seen reversed. Then, with that motion
    removed, points are matched one-to-one to slots within ``miss_cost / 2``. Returns (ranks
    (N,) int: the slot's position in the template, UNPLACED for points that fit no slot; cost).
    """
    n, m = len(points), len(template)
    if n == 0:
        return np.zeros(0, np.int64), 0.0
    if m == 0:
        return np.full(n, UNPLACED, np.int64), float(miss_cost)
    from cathx.postprocess.compiled import template_alignment

    # One "no slot" column per point at the gate's cost: a point whose ring the template does
    # not hold stays out instead of pushing its neighbours one slot over.
    ranks, cost = template_alignment(np.ascontiguousarray(points, np.float64), np.ascontiguousarray(template, np.float64),
                                     float(miss_cost), float(shift_weight), UNPLACED)
    return ranks, float(cost)


def _longest_step(row: np.ndarray) -> float:
    """Largest distance between neighbouring points of a (N >= 2, 2) row (its electrode spacing)."""
    from cathx.postprocess.compiled import longest_step

    if row.dtype != np.float64 or not row.flags.c_contiguous:
        row = np.ascontiguousarray(row, np.float64)
    return float(longest_step(row))


def row_continues(a: np.ndarray, b: np.ndarray, ratio: float = 1.5, max_turn: float = 60.0
                  ) -> tuple[int, int] | None:
    """Whether two electrode rows, (N, 2) and (M, 2) in order along their catheters, continue
    each other end to end: the closest pair of their end electrodes lies within ``ratio`` times
    the rows' electrode spacing (the larger of their largest neighbour gaps; a single electrode
    has none), the spacings agree within that ratio, the joint is nearer to both rows' other
    ends than they are to it (the rows meet head to tail and do not overlap), and the step across
    the joint turns by less than ``max_turn`` degrees from each row's end step. Returns which ends
    meet, (0 or 1 for a's first or last, 0 or 1 for b's), or None.

    The largest gap, not the median: a CS catheter's rings come in pairs, so its median gap is the
    short one within a pair (2-3 px at 256 px) while two pieces of it meet across a long one
    (about 9 px); with the median, the pieces of a CS cut at a crossing were never joined.
    """
    if len(a) == 0 or len(b) == 0 or len(a) + len(b) < 3:
        return None
    spacing = [_longest_step(r) for r in (a, b) if len(r) > 1]
    if len(spacing) == 2 and max(spacing) > ratio * max(min(spacing), 1e-6):
        return None
    ends_a, ends_b = a[[0, -1]], b[[0, -1]]
    gap = np.linalg.norm(ends_a[:, None] - ends_b[None], axis=2)
    i, j = np.unravel_index(int(np.argmin(gap)), gap.shape)
    if gap[i, j] > ratio * max(spacing):
        return None
    # Head to tail: every other electrode of each row is farther from the other row's joint end
    # than the joint electrode itself (rows side by side or crossing fail this).
    joint_a, joint_b = ends_a[i], ends_b[j]
    if len(a) > 1 and np.linalg.norm(a - joint_b, axis=1).min() < gap[i, j] - 1e-9:
        return None
    if len(b) > 1 and np.linalg.norm(b - joint_a, axis=1).min() < gap[i, j] - 1e-9:
        return None
    # The row runs on smoothly: the step across the joint turns less than ``max_turn`` degrees from
    # each row's last step before it (touching catheters meet at any angle).
    step = joint_b - joint_a
    limit = np.cos(np.radians(max_turn)) * np.linalg.norm(step)
    for row, end, sign in ((a, i, 1.0), (b, j, -1.0)):
        if len(row) > 1:
            last = row[-1] - row[-2] if end == 1 else row[0] - row[1]  # pointing out of the row
            if sign * float(last @ step) < limit * np.linalg.norm(last):
                return None
    return int(i), int(j)


def row_type(row: np.ndarray, sizes: np.ndarray | None = None) -> str:
    """Catheter type of an electrode row (N, 2) given in order along the catheter (slot order),
    its arc positions taken along the row itself (the pieces' centrelines do not join)."""
    from cathx.postprocess.catheter_type import classify_catheter

    arc = arc_length(row) if len(row) else row[:, 0]
    return classify_catheter(arc, sizes, False, row)


@dataclass
class TypeVote:
    """A catheter's type decided over its track: decaying vote sums with hysteresis.

    Each frame adds ``weight`` to the observed type's score after all scores are multiplied by
    ``decay``. Until ``settle`` votes have been cast the decided type is simply the leader (a new
    track's first frames must not lock in a wrong first look); after that it switches only once
    another type has led it by ``margin`` for ``switch_frames`` consecutive frames, so a one-frame
    misclassification never shows. "unknown" observations (no electrodes seen) add nothing.
    """

    # Light hysteresis: with the learned decision's probabilities as vote weights, 0.9 / 1.0 / 3
    # kept a wrong first type for frames after the evidence turned (track type right in 78.4 % of
    # (frame, catheter) pairs of 40 development sequences, 80.1 % with these; docs/inference.md).
    decay: float = 0.8
    margin: float = 0.5
    switch_frames: int = 2
    settle: float = 3.0
    scores: dict[str, float] = field(default_factory=dict)
    type: str = "unknown"
    streak: int = 0
    votes: float = 0.0

    def add(self, observed: str, weight: float = 1.0) -> str:
        """Add one frame's observation; returns the decided type."""
        for kind in self.scores:
            self.scores[kind] *= self.decay
        if observed != "unknown" and weight > 0:
            self.scores[observed] = self.scores.get(observed, 0.0) + float(weight)
            self.votes += float(weight)
        if not self.scores:
            return self.type
        leader = max(self.scores, key=lambda k: (self.scores[k], k == self.type))
        if self.type == "unknown" or self.votes < self.settle:
            self.type, self.streak = leader, 0
        elif leader != self.type and self.scores[leader] - self.scores.get(self.type, 0.0) >= self.margin:
            self.streak += 1
            if self.streak >= self.switch_frames:
                self.type, self.streak = leader, 0
        else:
            self.streak = 0
        return self.type

    @property
    def confidence(self) -> float:
        """Share of the decayed votes that agree with the decided type (0 without votes)."""
        total = sum(self.scores.values())
        return float(self.scores.get(self.type, 0.0) / total) if total > 0 else 0.0


@dataclass
class _Track:
    id: int
    vote: TypeVote
    centreline: np.ndarray  # (K, 2) resampled, as predicted for this frame
    slots: dict[int, np.ndarray] = field(default_factory=dict)  # slot -> predicted (x, y)
    slot_ids: dict[int, int] = field(default_factory=dict)  # slot -> global electrode id
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    missed: int = 0
    streak: int = 0  # frames seen in a row
    shown: int = -1  # the id the output shows, given when the track is confirmed; -1 until then
    largest: int = 0  # most electrodes seen at once
    row: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # this frame's electrodes by slot

    def template(self) -> tuple[np.ndarray, list[float]]:
        """(M, 2) slot positions in order from the tip, and their keys."""
        keys = sorted(self.slots)
        return np.array([self.slots[k] for k in keys], np.float64).reshape(-1, 2), keys

    def points(self) -> np.ndarray:
        return np.array(list(self.slots.values()), np.float64).reshape(-1, 2)


@dataclass
class _Detection:
    """One catheter of the frame: its index in results.catheters and its electrodes, tip first."""

    index: int
    members: np.ndarray  # electrode rows of results, ordered by electrode_index
    centreline: np.ndarray  # resampled (K, 2)
    on_line: bool = False  # a piece given to its track for lying along its centreline only


@dataclass
class Tracker:
    """Stable catheter ids, types and electrode ids over a sequence; ``update`` once per frame, in order.

    max_electrode_distance: gate (pixels) on the mean distance from a detection's electrodes to a
        track's predicted electrodes; aligning, it bounds the motion left over by the prediction
        and half of it is how far an electrode may lie from its slot.
    max_distance: gate (pixels) on the mean centreline distance, for catheters without electrodes.
    mixed_penalty: added to the centreline distance when only one side has electrodes.
    gate_growth: pixels the gates widen per frame a track is missed.
    max_missed: frames a lost track is kept (predicted) before it is dropped.
    claim_distance: an electrode within this of a track's predicted electrode is claimed by it;
        a detection claimed by two tracks with ``min_claim`` electrodes each is split between them
        (a claim of a single ring only when the detection's main track cannot place that ring in
        its own row). 1 since 2026-12-07: a catheter lying against another often shows one ring
        inside the other's detection. Replaying the shipped network's outputs on 9 development
        sets of 20 sequences (seeds 80,000-160,000), ids per true catheter 1.267 -> 1.230 (lower
        on 6 sets, higher on 2); on the benchmark's 20 sequences 1.121 -> 1.155
        (benchmarks/results/tracking_min_claim/README.md).
    velocity_gain: share of the measured residual motion that enters the velocity; velocity_damping:
        factor applied to a lost track's velocity per frame.
    min_shift_support: matched rings needed to move a track's other rings and its velocity by
        their median offset (fewer: only the seen rings move). 2 since 2026-12-07: a track seen
        with a single ring, often a false peak on a wire beside the catheter, moved all its rings
        by that ring's offset and lost the catheter the next frame. Replayed on 9 development
        sets of 20 sequences: ids 1.230 -> 1.203 (lower on 7 sets); the benchmark's set 1.155 both
        (benchmarks/results/tracking_min_claim/README.md).
    decay, margin, switch_frames: the TypeVote hysteresis.
    shaft_distance: a detection without electrodes whose points lie within this mean distance of
        a matched track's predicted centreline is a piece of its shaft.
    join_ratio, join_frames: two tracks' rows continuing each other within ``join_ratio`` times
        their electrode spacing (``row_continues``) for ``join_frames`` frames in a row are joined.
    duplicate_distance, duplicate_frames: a track whose slots lie within ``duplicate_distance``
        (median, pixels) of a larger track's slots for ``duplicate_frames`` frames in a row is
        dropped for it (0: never). 2 px: electrodes of two catheters lying side by side are
        further apart (3 px and more at 256 px). On the network's predictions of 40 development
        sequences (seed 90,000) ids per true catheter 1.47 -> 1.38 at 1 frame (1.45 at 2), type
        by track 80.1 -> 79.8 %; within 4 px: 1.35, but type by track on the true masks and
        electrodes of the benchmark's 20 sequences 89.3 -> 87.5 % (docs/inference.md).
    verify_alignment: a detection matched on the electrode cost keeps the track only when the
        track's template places at least one of its rings (``_places_any``); otherwise it is left to
        the next steps. On since 2026-12-07: replays of the shipped network's outputs, ids per
        true catheter 1.203 -> 1.201 on 9 development sets (lower on 1, higher on 1), 1.217 ->
        1.211 on 6 held-out sets (lower on 3, higher on 1), 1.155 -> 1.138 on the benchmark's.
    keep_older_id: a track whose id no frame has shown yet that a shown track duplicates
        (``_drop_duplicates``) takes that track's id and type votes: a catheter first seen with one
        ring, whose next frame shows three (the one-ring track cannot explain them: fewer than half
        paired), started a second track and, being larger, kept it, so the catheter changed id after
        its first frame.
    steady_costs: a lost track's gate grows (``gate_growth``) to admit its return, but its costs
        are scaled by the gate of a track seen last frame: scaled by the grown gate, the same
        distances cost a long-lost track less, and a track lost ten frames took a quadripolar's
        rings from the quadripolar's own track, seen the frame before. Since 2026-12-07, with
        ``keep_older_id``: replays of the shipped network's outputs, extra ids 113 -> 108 on 9
        development sets of 20 sequences (seeds 80,000-160,000; lower on 4 sets, higher on none),
        72 -> 66 on 6 held-out sets (170,000-220,000; lower on 4, higher on 1), 8 -> 7 on the
        benchmark's (1.138 -> 1.121 ids per true catheter); ``keep_older_id`` alone 113 -> 111,
        72 -> 70, 8 -> 8.
    confirm_frames: a track started after the sequence's first frame shows an id only once it has
        been seen in this many frames in a row (SORT's ``min_hits``); until then its catheter is
        output with id -1 (found, typed, not yet identified). Ids are numbered as tracks are
        confirmed, so the ids shown run without gaps. A spurious track (a piece of mask cut at a
        crossing, a wire's stretch taken for a catheter for a frame or two) is never shown. 3 since
        2026-12-07: replays of the shipped network's outputs, extra ids 108 -> 99 on 9 development
        sets of 20 sequences (2: 103, 4: 97 with 4 true catheters never identified), 66 -> 58 on 6
        held-out sets, 7 -> 6 on the benchmark's; 0.4 % of found (frame, catheter) pairs shown
        without an id.
    confirm_electrodes: a track shows an id only once it has held at least this many electrodes in
        one frame (``largest``), besides ``confirm_frames``; until then its catheter is output with
        id -1 and type "unknown" (its type votes are kept for when its rings show). An EP catheter is
        told by its rings: what the network segments without ever finding one on it is a sternal
        wire, an ECG lead or a bone edge as often as a catheter whose rings are out of view, and an
        id and a type on it sent the user after a device that is not there. 1 since 2026-12-07:
        replays of the shipped network's outputs, catheters shown with an id that are no labelled
        catheter (benchmarks/tracking.py, ``false_catheters``) 0.526 -> 0.358 per frame on 9
        development sets of 20 sequences, 0.433 -> 0.309 on 6 held-out sets, 0.482 -> 0.223 on
        the benchmark's; ids per true catheter 1.158 -> 1.154, 1.154 -> 1.151, 1.086 both; type by
        track unchanged (a catheter scored holds rings); found pairs shown without an id 0.40 ->
        0.44 %. 2 hid more (0.321, 0.290, 0.157) but left true catheters never identified (a
        pacing lead seen with one ring): 2 against 0 and 1.
    type_classifier: the predictor's learned type decision (``Predictor.tracker()`` passes it), which
        retypes the pieces of a detection split between two tracks; None: the type head, else the rules.
    """

    # Same shape as ClsDataConfig's fields (`duplicates` pairs them): typed defaults, no shared logic.
    max_electrode_distance: float = 8.0
    max_distance: float = 20.0
    mixed_penalty: float = 6.0
    gate_growth: float = 2.0
    max_missed: int = 10
    claim_distance: float = 4.0
    min_claim: int = 1
    velocity_gain: float = 0.5
    velocity_damping: float = 0.5
    min_shift_support: int = 2
    decay: float = TypeVote.decay  # the vote's hysteresis (TypeVote holds the values and why)
    margin: float = TypeVote.margin
    switch_frames: int = TypeVote.switch_frames
    shaft_distance: float = 3.0
    join_ratio: float = 1.5
    join_frames: int = 3
    duplicate_frames: int = 1
    duplicate_distance: float = 2.0
    piece_on_line: bool = True
    verify_alignment: bool = True
    keep_older_id: bool = True
    steady_costs: bool = True
    confirm_frames: int = 3
    confirm_electrodes: int = 1
    type_classifier: object | None = None
    # The gates above are pixels of a frame this many pixels a side (the network's input, where they
    # were tuned); a frame of another size is tracked at that scale, so a 1024-px DICOM's 4x larger
    # motion and ring spacing meet the same gates. None: pixels as given (hand-made Results, tests).
    reference_side: float | None = None
    _tracks: list[_Track] = field(default_factory=list)
    _links: dict[tuple[int, int], int] = field(default_factory=dict)
    _duplicate_streak: dict[int, int] = field(default_factory=dict)
    _next_catheter: int = 0
    _next_electrode: int = 0
    _next_shown: int = 0
    _frame: int = 0

    def update(self, results: Results) -> Results:
        """Give ``results.catheters`` stable ids, the track's type and confidence, and fill
        ``results.electrode_ids`` and ``results.electrode_index`` (slot from the tip), in place.
        A detection carrying two tracks' electrodes becomes two catheters; pieces of one catheter
        (its mask cut at a crossing) share its id. With ``reference_side``, a frame of another size
        is tracked on a copy scaled to it, and the ids, types and any split written back."""
        if self.reference_side:
            height, width = results.image_size
            ratio = float(self.reference_side) / max(height, width, 1)
            if abs(ratio - 1.0) > 1e-6:
                scaled = rescale_results(results, (max(1, round(height * ratio)), max(1, round(width * ratio))))
                self._update(scaled)
                back = rescale_results(scaled, (height, width))
                results.catheters = back.catheters
                results.electrode_catheter, results.electrode_index = scaled.electrode_catheter, scaled.electrode_index
                results.electrode_ids = scaled.electrode_ids
                return results
        return self._update(results)

    def _update(self, results: Results) -> Results:
        for track in self._tracks:
            self._predict(track)
        predicted = [track.points() for track in self._tracks]  # slots do not move until _correct
        self._split_merged(results, predicted)
        detections = _detections(results)
        owner = self._associate(detections, results.electrodes, predicted)
        pieces: dict[int, list[int]] = {}
        for d in range(len(detections)):
            if d not in owner:
                track = _Track(self._next_catheter, TypeVote(self.decay, self.margin, self.switch_frames),
                               detections[d].centreline)
                self._next_catheter += 1
                self._tracks.append(track)
                owner[d] = track
            pieces.setdefault(id(owner[d]), []).append(d)
        electrode_ids = np.full(len(results.electrodes), -1, np.int64)
        electrode_index = np.asarray(results.electrode_index, np.int64).copy()
        seen: list[tuple[_Track, list[_Detection]]] = []
        for track in self._tracks:
            group = pieces.get(id(track))
            if group is None:
                track.missed += 1
                track.streak = 0
                track.row = track.row[:0]
                track.velocity = track.velocity * self.velocity_damping
                continue
            self._correct(track, [detections[d] for d in group], results, electrode_ids, electrode_index)
            track.streak += 1
            seen.append((track, [detections[d] for d in group]))
        absorbed = self._join_continuations(seen, results.electrodes)
        absorbed.update(self._drop_duplicates(absorbed))
        for d, track in owner.items():
            while id(track) in absorbed:  # a track joined to one that was then dropped
                track = absorbed[id(track)]
            owner[d] = track
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for track in self._tracks:
            # Confirmed: seen confirm_frames frames in a row, or in the first frame (nothing to confirm
            # its catheters against). Numbered here, after joins and drops, so that ids run without gaps.
            if track.shown < 0 and (track.streak >= self.confirm_frames or self._frame == 0) \
                    and track.largest >= self.confirm_electrodes:
                track.shown, self._next_shown = self._next_shown, self._next_shown + 1
        alive = {t.id for t in self._tracks}  # links of dropped tracks would pile up over a long video
        self._links = {k: v for k, v in self._links.items() if k[0] in alive and k[1] in alive}
        self._duplicate_streak = {k: v for k, v in self._duplicate_streak.items() if k in alive}
        for d, detection in enumerate(detections):
            track = owner[d]
            catheter = results.catheters[detection.index]
            if track.largest < self.confirm_electrodes:  # no rings yet: no id, no type
                catheter.id, catheter.type, catheter.confidence = -1, "unknown", 0.0
                continue
            catheter.id, catheter.type = track.shown, track.vote.type
            catheter.confidence = round(track.vote.confidence, 4)
        results.electrode_ids, results.electrode_index = electrode_ids, electrode_index
        self._frame += 1
        return results

    def _associate(self, detections: list[_Detection], electrodes: np.ndarray, predicted: list[np.ndarray]
                   ) -> dict[int, _Track]:
        """Detection index -> track, in order of the evidence's strength.

        1. Detections with electrodes to tracks with slots, globally (Hungarian) on the electrode
           cost, so a piece holding one of a catheter's rings cannot take its id from the piece
           holding the rest.
        2. A detection left over whose electrodes lie on a matched track's slots is a piece of
           that catheter (its mask cut in two).
        3. What is left, both ways, globally on centreline distance (electrodes missed or first
           seen, catheters without electrodes).
        4. A detection without electrodes lying along a matched track's centreline is a piece of
           it (a stretch of shaft cut off at a crossing).
        Unmatched detections become new tracks (by the caller). ``predicted``: each track's
        ``points()`` this frame.
        """
        tracks = self._tracks
        owner: dict[int, _Track] = {}
        if not tracks or not detections:
            return owner
        line_cost, cost = self._cost_matrix(detections, electrodes, predicted)
        has_d = np.array([len(d.members) > 0 for d in detections])
        for t, d in match(cost, 1.0):
            if self.verify_alignment and not self._places_any(tracks[t], detections[d], electrodes):
                continue  # left to the steps below (often a piece of a matched track)
            owner[d] = tracks[t]
        matched = list({id(t): t for t in owner.values()}.values())
        for d, detection in enumerate(detections):
            if d not in owner and has_d[d]:
                parent = self._parent_of_piece(detection, electrodes, matched)
                if parent is not None:
                    owner[d] = parent
        taken = {id(t) for t in owner.values()}
        free_t = [t for t, track in enumerate(tracks) if id(track) not in taken]
        free_d = [d for d in range(len(detections)) if d not in owner]
        if free_t and free_d:
            # steady costs: pairs beyond a track's (grown) gate are inf already, any finite cost admits
            for r, c in match(line_cost[np.ix_(free_t, free_d)], 1e6 if self.steady_costs else 1.0):
                owner[free_d[c]] = tracks[free_t[r]]
        matched = list({id(t): t for t in owner.values()}.values())
        for d, detection in enumerate(detections):
            if d not in owner and not has_d[d]:
                parent = self._shaft_of(detection, matched)
                if parent is not None:
                    owner[d] = parent
        return owner

    # ------------------------------------------------------------------ steps
    def _predict(self, track: _Track) -> None:
        track.centreline = track.centreline + track.velocity
        for slot in track.slots:
            track.slots[slot] = track.slots[slot] + track.velocity

    def _gate(self, track: _Track, base: float) -> float:
        return base + self.gate_growth * track.missed

    def _cost_matrix(self, detections: list[_Detection], electrodes: np.ndarray, predicted: list[np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(tracks, detections) costs divided by their gate (a pair is admissible at <= 1): on
        centrelines (every pair), and on electrodes (inf unless both sides have electrodes)."""
        from cathx.postprocess.assignment import stack_polylines
        from cathx.postprocess.compiled import track_costs

        tracks = self._tracks
        reference, offsets = stack_polylines(predicted)
        rows = np.concatenate([d.members for d in detections]).astype(np.int64)
        owner = np.repeat(np.arange(len(detections)), [len(d.members) for d in detections])
        return track_costs(
            np.ascontiguousarray(np.stack([t.centreline for t in tracks]), np.float64),
            np.ascontiguousarray(np.stack([d.centreline for d in detections]), np.float64),
            np.array([bool(t.slots) for t in tracks]), np.array([len(d.members) > 0 for d in detections]),
            np.array([t.missed for t in tracks], np.float64),
            reference, offsets,
            np.ascontiguousarray(np.asarray(electrodes, np.float64).reshape(-1, 2)[rows]), owner.astype(np.int64),
            np.array([max(t.largest, 1) for t in tracks], np.float64),
            float(self.mixed_penalty), float(self.max_distance), float(self.max_electrode_distance),
            float(self.gate_growth), bool(self.steady_costs))

    def _places_any(self, track: _Track, detection: _Detection, electrodes: np.ndarray) -> bool:
        """Whether the track's template places at least one of the detection's rings, as
        ``_correct`` would align them (trivially true below two rings or two slots). A lost track's
        electrode gate widens with every miss, so it can win a detection whose rings its own
        pattern does not explain at all: a catheter's tip piece, next to a lost neighbour."""
        if len(detection.members) < 2 or len(track.slots) < 2:
            return True
        ranks, _ = align_to_template(electrodes[detection.members].astype(np.float64), track.template()[0],
                                     self.max_electrode_distance)
        return bool((ranks != UNPLACED).any())

    def _parent_of_piece(self, detection: _Detection, electrodes: np.ndarray, matched: list[_Track]
                         ) -> _Track | None:
        """The matched track whose electrodes this unmatched detection's electrodes lie on, if any:
        the median distance to its nearest predicted electrode is within ``claim_distance`` (a
        median, so a false electrode on the piece does not hide it). Failing that (rings the track
        has not seen, or seen elsewhere), with ``piece_on_line``, the track whose predicted
        centreline they lie along by the same test; such a piece is marked ``on_line``."""
        if len(detection.members) == 0:
            return None
        points = electrodes[detection.members].astype(np.float64)
        best, best_cost = None, self.claim_distance
        for track in matched:
            value = chamfer(points, track.points(), median)
            if value <= best_cost:
                best, best_cost = track, value
        if best is None and self.piece_on_line and matched:
            from cathx.postprocess.assignment import project_to_polylines

            gap, _ = project_to_polylines(points, [t.centreline for t in matched])
            value = median(gap, axis=1)
            if value.min() <= self.claim_distance:
                best = matched[int(np.argmin(value))]
                detection.on_line = True
        return best

    def _shaft_of(self, detection: _Detection, matched: list[_Track]) -> _Track | None:
        """The matched track whose predicted centreline this detection (without electrodes) runs
        along: mean distance from its points to that polyline within ``shaft_distance``."""
        if not matched or not np.isfinite(detection.centreline).all() or detection.centreline[0, 0] >= 1e5:
            return None
        from cathx.postprocess.assignment import project_to_polylines

        gap, _ = project_to_polylines(detection.centreline, [t.centreline for t in matched])
        mean = gap.mean(axis=1)
        best = int(np.argmin(mean))
        return matched[best] if mean[best] <= self.shaft_distance else None

    def _join_continuations(self, seen: list[tuple[_Track, list[_Detection]]], electrodes: np.ndarray
                            ) -> dict[int, _Track]:
        """Merge tracks that are pieces of one catheter (in place); returns {id(absorbed): kept}.

        Two tracks whose electrode rows, in this frame, continue each other end to end
        (``row_continues``) gain one link; a frame where both are seen and they do not resets it.
        After ``join_frames`` such frames in a row the track that has seen fewer electrodes at
        once is absorbed by the other (``_absorb``).
        """
        rows = [(track, track.row) for track, _ in seen if len(track.row) >= 1]
        absorbed: dict[int, _Track] = {}
        # A cheap first look, row_continues' own gap test: ends within join_ratio times the
        # longest step of either row.
        ends = np.array([r[[0, -1]] for _, r in rows]).reshape(-1, 2, 2)
        reach = np.array([_longest_step(r) if len(r) > 1 else 0.0 for _, r in rows])
        gap = np.linalg.norm(ends[:, None, :, None] - ends[None, :, None, :], axis=4).min(axis=(2, 3))
        near = gap <= self.join_ratio * np.maximum(reach[:, None], reach[None, :])
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                key = tuple(sorted((rows[i][0].id, rows[j][0].id)))
                # The track that has seen more of the catheter keeps its id (then the older one).
                (a, row_a), (b, row_b) = sorted([rows[i], rows[j]], key=lambda r: (-r[0].largest, r[0].id))
                meet = row_continues(row_a, row_b, self.join_ratio) if near[i, j] else None
                if meet is None:
                    self._links.pop(key, None)
                    continue
                self._links[key] = self._links.get(key, 0) + 1
                if self._links[key] >= self.join_frames and id(a) not in absorbed and id(b) not in absorbed:
                    self._absorb(a, b, meet)
                    absorbed[id(b)] = a
        if absorbed:
            self._tracks = [t for t in self._tracks if id(t) not in absorbed]
        return absorbed

    def _drop_duplicates(self, absorbed: dict[int, _Track]) -> dict[int, _Track]:
        """Drop tracks that duplicate a larger one; returns {id(dropped): kept}.

        A piece of a catheter that became a track of its own (its mask cut where no row joined
        it) keeps its slots on the catheter's rings; once the catheter's own track holds those
        rings as well, the two compete for the catheter's detections frame after frame and the
        catheter flips between their ids. A track whose slots lie on a larger track's slots
        (median distance to its nearest slot within ``duplicate_distance``) for ``duplicate_frames``
        frames in a row is dropped; its detections this frame take the larger track's id.
        """
        dropped: dict[int, _Track] = {}
        if self.duplicate_frames <= 0:
            return dropped
        tracks = [t for t in self._tracks if t.slots and id(t) not in absorbed]
        tracks.sort(key=lambda t: (-t.largest, t.id))
        points = [t.points() for t in tracks]
        for j in range(len(tracks) - 1, 0, -1):  # smallest first
            small = tracks[j]
            # Larger tracks come first; only smaller ones than this have been dropped so far.
            host = next((tracks[i] for i in range(j)
                         if chamfer(points[j], points[i], median) <= self.duplicate_distance), None)
            key = small.id
            if host is None:
                self._duplicate_streak.pop(key, None)
                continue
            self._duplicate_streak[key] = self._duplicate_streak.get(key, 0) + 1
            if self._duplicate_streak[key] >= self.duplicate_frames:
                dropped[id(small)] = host
                self._duplicate_streak.pop(key, None)
                if self.keep_older_id and host.shown < 0 <= small.shown:  # no frame has shown host's id
                    host.id, host.shown = small.id, small.shown
                    for kind, score in small.vote.scores.items():
                        host.vote.scores[kind] = host.vote.scores.get(kind, 0.0) + score
                    host.vote.votes += small.vote.votes
        if dropped:
            self._tracks = [t for t in self._tracks if id(t) not in dropped]
        return dropped

    def _absorb(self, keep: _Track, other: _Track, ends: tuple[int, int]) -> None:
        """Renumber ``other``'s slots to continue ``keep``'s row at the ends that meet (0: the
        first slot, 1: the last) and move them, their electrode ids and the type votes (each
        side's weighted by its share of the joined row) into ``keep``."""
        kept_keys, other_keys = sorted(keep.slots), sorted(other.slots)
        if ends[1] == 0:  # other's row runs away from the joint starting at its first slot
            away = other_keys
        else:
            away = other_keys[::-1]
        if ends[0] == 1:
            new_keys = [kept_keys[-1] + 1.0 + i for i in range(len(away))]
        else:
            new_keys = [kept_keys[0] - 1.0 - i for i in range(len(away))]
        for old, new in zip(away, new_keys):
            keep.slots[new] = other.slots[old]
            if old in other.slot_ids:
                keep.slot_ids[new] = other.slot_ids[old]
        # A vote weighs the share of the catheter's rings its frame saw: each piece saw only part
        # of the joined catheter, so its votes shrink by its share of the joined row.
        largest = max(keep.largest, len(keep.row) + len(other.row), 1)
        scores = {k: v * keep.largest / largest for k, v in keep.vote.scores.items()}
        for kind, score in other.vote.scores.items():
            scores[kind] = scores.get(kind, 0.0) + score * other.largest / largest
        keep.vote.scores = scores
        keep.vote.votes += other.vote.votes
        keep.largest = largest
        if keep.shown < 0 and other.shown >= 0:  # the id the output has shown lives on
            keep.shown = other.shown

    def _split_merged(self, results: Results, predicted: list[np.ndarray]) -> None:
        """Split catheters whose electrodes belong to two or more known tracks (in place);
        ``predicted``: each track's ``points()``."""
        if not self._tracks or len(results.electrodes) == 0:
            return
        reference, owners = [], []
        for t, points in enumerate(predicted):
            reference.append(points)
            owners.extend([t] * len(points))
        if not owners:
            return
        from cathx.postprocess.compiled import claimed_by_several

        reference_points, owner_of = np.concatenate(reference), np.asarray(owners, np.int64)
        # The test in one compiled pass; the few catheters it flags are split below.
        several = claimed_by_several(np.asarray(results.electrodes, np.float64), results.electrode_catheter,
                                     len(results.catheters), reference_points, owner_of,
                                     float(self.claim_distance), int(self.min_claim))
        for c in np.flatnonzero(several).tolist():
            members = np.flatnonzero(results.electrode_catheter == c)
            gap = np.linalg.norm(results.electrodes[members, None, :] - reference_points[None], axis=2)
            nearest = gap.argmin(axis=1)
            claimed = gap[np.arange(len(members)), nearest] <= self.claim_distance
            claimant = np.where(claimed, owner_of[nearest], -1)
            counts = {t: int((claimant == t).sum()) for t in set(claimant.tolist()) if t >= 0}
            tracks = [t for t, n in counts.items() if n >= self.min_claim]
            if len(tracks) >= 2 and min(counts[t] for t in tracks) < 2:
                # A lone ring near another track's slot splits the detection only when the
                # detection's main track cannot place it in its own row (a catheter sliding along
                # its course brings its end ring near a missed neighbour's slot; its own template,
                # shifted, still explains that ring).
                main = max(tracks, key=lambda t: (counts[t], -t))
                ranks, _ = align_to_template(results.electrodes[members].astype(np.float64),
                                             self._tracks[main].template()[0], self.max_electrode_distance)
                tracks = [t for t in tracks if counts[t] >= 2 or t == main
                          or (ranks[claimant == t] == UNPLACED).all()]
            if len(tracks) < 2:
                continue
            # Unclaimed electrodes go to the nearest of the claiming tracks.
            per_track = np.stack([gap[:, owner_of == t].min(axis=1) for t in tracks], axis=1)
            group = np.asarray(tracks)[per_track.argmin(axis=1)]
            group = np.where(np.isin(claimant, tracks), claimant, group)
            _split_catheter(results, c, members, [members[group == t] for t in tracks], self.type_classifier)

    def _correct(self, track: _Track, pieces: list[_Detection], results: Results,
                 electrode_ids: np.ndarray, electrode_index: np.ndarray) -> None:
        """Update a matched track from its detection(s) and write electrode ids and indices."""
        template, keys = track.template()
        taken: dict[float, int] = {}
        observed: dict[float, np.ndarray] = {}
        pieces = sorted(pieces, key=lambda p: -len(p.members))
        for piece in pieces:
            if len(piece.members) == 0:
                continue
            points = results.electrodes[piece.members].astype(np.float64)
            if keys:
                ranks, _ = align_to_template(points, template, self.max_electrode_distance)
                slots = _slot_keys(ranks, keys)
            else:
                slots = [float(i) for i in range(len(points))]
            for row, slot in zip(piece.members.tolist(), slots):
                if slot is None or slot in taken:  # fits no slot, or a slot another piece took
                    continue
                taken[slot] = row
                observed[slot] = results.electrodes[row].astype(np.float64)
        if observed:
            predicted = [track.slots[s] for s in observed if s in track.slots]
            known = [observed[s] for s in observed if s in track.slots]
            # One ring is no evidence of the catheter's motion: it may be a false peak on a wire
            # beside it, and moving every ring by its offset loses the track the next frame.
            enough = len(known) >= self.min_shift_support
            residual = _median_offset(known, predicted) if enough else np.zeros(2)
            for slot in track.slots:
                track.slots[slot] = track.slots[slot] + residual
            track.velocity = track.velocity + self.velocity_gain * residual
            for slot, xy in observed.items():
                track.slots[slot] = xy
                if slot not in track.slot_ids:
                    track.slot_ids[slot] = self._next_electrode
                    self._next_electrode += 1
            track.largest = max(track.largest, len(observed))
        elif pieces:  # no electrodes: the centreline alone measures the motion
            shift = centreline_shift(track.centreline, pieces[0].centreline)
            track.velocity = track.velocity + self.velocity_gain * shift
            for slot in track.slots:
                track.slots[slot] = track.slots[slot] + shift
        rank = {key: r for r, key in enumerate(sorted(track.slots))}
        for slot, row in taken.items():
            electrode_ids[row] = track.slot_ids[slot]
            electrode_index[row] = rank[slot]
        for piece in pieces:
            unplaced = [r for r in piece.members.tolist() if r not in taken.values()]
            electrode_index[unplaced] = -1
        track.centreline = pieces[0].centreline
        track.missed = 0
        order = sorted(taken)
        track.row = np.array([observed[k] for k in order], np.float64).reshape(-1, 2)
        kind = results.catheters[pieces[0].index].type
        strong = [p for p in pieces if len(p.members) and not p.on_line]
        learned = [results.catheters[p.index] for p in pieces if results.catheters[p.index].confidence is not None]
        if learned:
            # Typed by the network's type head or the learned classifier (analyse_frame): the
            # surest piece votes, weighted by its probability (no electrodes needed).
            surest = max(learned, key=lambda c: c.confidence)
            track.vote.add(surest.type, float(surest.confidence))
            return
        if len(strong) > 1:
            # Pieces of one catheter: its type is the pattern of all its rings, in slot order
            # (rings of pieces given for lying along its centreline only are not trusted with it).
            allowed = set(np.concatenate([p.members for p in strong]).tolist())
            typed = [k for k in order if taken[k] in allowed]
            rows = np.array([taken[k] for k in typed], np.int64)
            kind = row_type(np.array([observed[k] for k in typed]).reshape(-1, 2), results.sizes[rows])
        weight = len(observed) / max(track.largest, 1)
        track.vote.add(kind if observed else "unknown", weight)


def _slot_keys(ranks: np.ndarray, keys: list[float]) -> list[float | None]:
    """Slot keys for a detected row (points in their order along the catheter) given the ranks
    ``align_to_template`` found in a template with ``keys`` (floats, ordered from the tip).

    A point left out that lies beyond the row's placed points, past the template's end, extends
    it by whole keys; one between two placed points holding adjacent slots gets the key halfway
    between them (a ring seen for the first time: every index after it moves up by one, ids
    stay). Other left-out points get None.
    """
    out: list[float | None] = [keys[r] if r != UNPLACED else None for r in ranks.tolist()]
    placed = [i for i, key in enumerate(out) if key is not None]
    if not placed:
        return out
    position = {key: i for i, key in enumerate(keys)}
    first, last = placed[0], placed[-1]
    # Orientation of the row against the template, from its placed points.
    forward = len(placed) == 1 or position[out[last]] >= position[out[first]]
    ends = (keys[0], keys[-1]) if forward else (keys[-1], keys[0])
    step = 1.0 if forward else -1.0
    if out[first] == ends[0]:
        for i in range(first):
            out[i] = ends[0] - step * (first - i)
    if out[last] == ends[1]:
        for i in range(last + 1, len(out)):
            out[i] = ends[1] + step * (i - last)
    for i in range(1, len(out) - 1):
        before, after = out[i - 1], out[i + 1]
        if out[i] is None and before in position and after in position \
                and abs(position[before] - position[after]) == 1:
            out[i] = 0.5 * (before + after)
    return out


def _median_offset(points: list[np.ndarray], reference: list[np.ndarray]) -> np.ndarray:
    """(2,) median over pairs of ``points[k] - reference[k]`` (each (2,)), x and y apart:
    ``geometry.median`` of the stacked offsets, to the bit, in Python's sort (a track's dozen rings
    cost less this way than NumPy's per-call overhead)."""
    middle = []
    for axis in (0, 1):
        ordered = sorted(float(a[axis] - b[axis]) for a, b in zip(points, reference))
        half = len(ordered) // 2
        middle.append(ordered[half] if len(ordered) % 2 else 0.5 * (ordered[half - 1] + ordered[half]))
    return np.array(middle)


def _detections(results: Results) -> list[_Detection]:
    out = []
    held: list[list[int]] = [[] for _ in results.catheters]  # each catheter's electrodes, in row order
    for e, c in enumerate(np.asarray(results.electrode_catheter).tolist()):
        if 0 <= c < len(held):
            held[c].append(e)
    for c, catheter in enumerate(results.catheters):
        members = np.array(held[c], np.int64)
        if len(members) > 1:
            members = members[np.argsort(results.electrode_index[members], kind="stable")]
        line = resample_polyline(np.asarray(catheter.centreline, np.float64), CENTRELINE_SAMPLES).astype(np.float64)
        if len(line) == 0:  # no centreline: far from everything
            line = np.full((CENTRELINE_SAMPLES, 2), 1e6)
        out.append(_Detection(c, members, line))
    return out


def centreline_shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Translation of a resampled centreline (mean point shift, in the better direction)."""
    if len(before) == 0 or len(after) == 0:
        return np.zeros(2)
    if len(before) == len(after):
        from cathx.postprocess import compiled

        return compiled.centreline_shift(np.ascontiguousarray(before, np.float64), np.ascontiguousarray(after, np.float64))
    forward, backward = after - before, after[::-1] - before
    if np.linalg.norm(forward, axis=1).mean() <= np.linalg.norm(backward, axis=1).mean():
        return forward.mean(axis=0)
    return backward.mean(axis=0)


def _split_catheter(results: Results, c: int, members: np.ndarray, groups: list[np.ndarray],
                    type_classifier: object | None = None) -> None:
    """Give each electrode group of catheter ``c`` its own catheter (the largest keeps ``c``), with
    the part of the centreline nearest its electrodes, retyped from its own electrode pattern."""
    from cathx.postprocess.assignment import project_to_polyline
    from cathx.postprocess.catheter_type import classify_catheter, pattern_features
    from cathx.postprocess.type_classifier import centreline_features

    line = np.asarray(results.catheters[c].centreline, np.float64)
    groups = sorted(groups, key=len, reverse=True)
    centres = [results.electrodes[g].astype(np.float64) for g in groups]
    if len(line):
        nearest = np.stack([np.linalg.norm(line[:, None] - p[None], axis=2).min(axis=1) for p in centres], 1)
        owner = nearest.argmin(axis=1)
    for k, group in enumerate(groups):
        piece = line[owner == k] if len(line) else line
        if len(piece) < 2:
            piece = results.electrodes[group].astype(np.float64)
        _, arc = project_to_polyline(results.electrodes[group], piece)
        order = np.argsort(arc, kind="stable")
        if type_classifier is not None:  # the learned decision, as analyse_frame types catheters
            features = centreline_features(pattern_features(arc, results.sizes[group], False, results.electrodes[group]),
                                           piece, results.type_probabilities, results.image_size,
                                           results.electrodes[group[order]], results.scores[group])
            kind, _ = type_classifier.decide(features[None])[0]
        elif results.type_probabilities is not None:  # the head's type along the piece
            kind, _ = type_from_probabilities(results.type_probabilities, piece, results.image_size)
        else:  # the electrode-pattern rules
            kind = classify_catheter(arc, results.sizes[group], False, results.electrodes[group])
        if k == 0:
            target = c
            results.catheters[c].type, results.catheters[c].centreline = kind, piece.astype(np.float32)
            results.catheters[c].closed = False
        else:
            target = len(results.catheters)
            results.catheters.append(Catheter(id=-1, type=kind, centreline=piece.astype(np.float32)))
        results.electrode_catheter[group] = target
        results.electrode_index[group[order]] = np.arange(len(group))
