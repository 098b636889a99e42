"""Results: everything found in one frame, with JSON/CSV views and an overlay drawing.

``analyse_frame(mask, peaks)`` turns a binary mask and decoded electrode peaks into Results:
centrelines, electrode-to-catheter assignment, electrode order and catheter types.

Length (about 500 lines): the Results record and its four views (JSON, CSV rows, rescaling,
overlay drawing) change together whenever a field is added; the maths live in the sibling modules.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cathx.errors import CathxError
from cathx.geometry import arc_length
from cathx.postprocess.assignment import assign_electrodes, project_to_polylines
from cathx.postprocess.catheter_type import (
    TAIL_TIP_RATIO,
    classify_pattern,
    pattern_features,
    type_from_probabilities,
)
from cathx.postprocess.centreline import extract_centrelines, polyline_length
from cathx.postprocess.type_classifier import centreline_features

logger = logging.getLogger(__name__)

ELECTRODE_COLUMNS: tuple[str, ...] = (
    "frame", "name", "x", "y", "score", "width", "height",
    "catheter_id", "index", "catheter_type", "electrode_id", "type_confidence",
)

# BGR-free RGB colours per catheter type (also used for the legend in the docs).
TYPE_COLOURS: dict[str, tuple[int, int, int]] = {
    "cs_decapolar": (255, 80, 80),
    "quadripolar": (80, 200, 255),
    "ablation": (255, 200, 40),
    "lasso": (200, 90, 255),
    "pacing": (90, 255, 120),
    "unknown": (200, 200, 200),
}


@dataclass
class Catheter:
    """One catheter: id (stable across frames once tracked), type, centreline from its distal tip."""

    id: int
    type: str
    centreline: np.ndarray  # (M, 2) float32 (x, y) pixels
    closed: bool = False
    # of the type: over a track, the share of its votes; in one frame, the type head's mean
    # probability (None: typed by the electrode-pattern rules, untracked)
    confidence: float | None = None

    def to_dict(self, decimals: int = 2) -> dict[str, Any]:
        return {
            "id": int(self.id), "type": self.type, "closed": bool(self.closed),
            "confidence": None if self.confidence is None else round(float(self.confidence), 4),
            "centreline": np.round(self.centreline.astype(np.float64), decimals).tolist(),
        }


@dataclass
class Results:
    """What the predictor found in one frame, in pixels of the original image.

    mask: (H, W) uint8 {0, 1} or None (detection-only model).
    electrodes: (N, 2) float32 (x, y); scores (N,); sizes (N, 2) box width, height.
    electrode_catheter: (N,) int64 index into ``catheters`` (-1: not on any catheter).
    electrode_index: (N,) int64 order along the catheter from its tip (-1: unassigned).
    electrode_ids: (N,) int64 stable ids from tracking (-1 until tracked).
    meta: frame index, name, source, timings.
    image: the frame the results belong to, as read (any dtype), when the caller attached it
        (``cathx.load(...).predict`` does): ``plot()``, ``save()`` and notebooks draw on it.
    type_probabilities: (T, h, w) float32 class probabilities of the network's type head
        (cathx.structures.TYPE_HEAD_CLASSES order) on a coarse grid covering the frame, or None
        when the network has no type head (types then come from the electrode pattern).
    """

    image_size: tuple[int, int]
    mask: np.ndarray | None = None
    electrodes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    electrode_catheter: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    electrode_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    electrode_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    catheters: list[Catheter] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    type_probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        """One line: name, size, catheters by type and id, electrodes, mask coverage."""
        height, width = self.image_size
        name = self.meta.get("name")
        kinds = ", ".join(f"{c.type} #{c.id}" for c in self.catheters)
        catheters = f"{len(self.catheters)} catheter{'s' * (len(self.catheters) != 1)}"
        parts = [f"{width}x{height}", catheters + (f" [{kinds}]" if kinds else ""),
                 f"{len(self.electrodes)} electrode{'s' * (len(self.electrodes) != 1)}"]
        if self.mask is not None:
            parts.append(f"mask {np.count_nonzero(self.mask) / max(self.mask.size, 1):.1%}")
        return f"Results({name!r}: " + ", ".join(parts) + ")" if name else "Results(" + ", ".join(parts) + ")"

    @property
    def centrelines(self) -> list[np.ndarray]:
        """One (M, 2) float32 (x, y) pixel polyline per catheter, from its distal tip."""
        return [c.centreline for c in self.catheters]

    def electrode_catheter_ids(self) -> np.ndarray:
        """(N,) catheter id (``Catheter.id``) of each electrode, -1 when unassigned or when its
        catheter has no id yet (a track not yet confirmed: ``Tracker.confirm_frames``)."""
        ids = np.array([c.id for c in self.catheters] + [-1], dtype=np.int64)
        return ids[np.where(self.electrode_catheter >= 0, self.electrode_catheter, len(self.catheters))]

    def electrode_types(self) -> list[str]:
        types = [c.type for c in self.catheters]
        return [types[c] if c >= 0 else "unknown" for c in self.electrode_catheter.tolist()]

    def electrode_rows(self) -> list[dict[str, Any]]:
        """One dict per electrode with the columns of ELECTRODE_COLUMNS (for CSV)."""
        ids = self.electrode_catheter_ids()
        types = self.electrode_types()
        confidences = [self.catheters[c].confidence if c >= 0 else None for c in self.electrode_catheter.tolist()]
        rows = []
        for i in range(len(self.electrodes)):
            rows.append({
                "frame": self.meta.get("frame", 0), "name": self.meta.get("name", ""),
                "x": round(float(self.electrodes[i, 0]), 2), "y": round(float(self.electrodes[i, 1]), 2),
                "score": round(float(self.scores[i]), 4),
                "width": round(float(self.sizes[i, 0]), 2), "height": round(float(self.sizes[i, 1]), 2),
                "catheter_id": int(ids[i]), "index": int(self.electrode_index[i]), "catheter_type": types[i],
                "electrode_id": int(self.electrode_ids[i]),
                "type_confidence": "" if confidences[i] is None else round(float(confidences[i]), 4),
            })
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: image size, meta, electrodes (rows) and catheters (with centrelines)."""
        meta = {k: v for k, v in self.meta.items() if isinstance(v, (str, int, float, bool)) or v is None}
        if isinstance(self.meta.get("timings_ms"), dict):
            meta["timings_ms"] = {k: round(float(v), 3) for k, v in self.meta["timings_ms"].items()}
        return {
            "image_size": {"height": int(self.image_size[0]), "width": int(self.image_size[1])},
            "meta": meta,
            "mask_pixels": int(self.mask.sum()) if self.mask is not None else None,
            "electrodes": [{k: v for k, v in row.items() if k not in ("frame", "name")}
                           for row in self.electrode_rows()],
            "catheters": [c.to_dict() for c in self.catheters],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def plot(self, image: np.ndarray | None = None, mask_alpha: float = 0.45, legend: bool = True
             ) -> np.ndarray:
        """Overlay on ``image`` (default: the attached ``self.image``): (H, W, 3) uint8 RGB.

        image: (H, W) or (H, W, 3); uint8, 16-bit or float. Mask tinted, centrelines as lines in
        their type colour (``TYPE_COLOURS``, the same in every frame), electrodes as crosses, a
        label ``#id type confidence`` on a dark box beside each catheter (never over another label
        nor outside the frame: shortened to ``#id type`` or ``#id``, or left out, when there is no
        room; see ``overlay_layout.place_labels``) and, with ``legend``, the types in the frame in
        the corner that hides the least of what was found. ``image`` itself is never drawn on.
        """
        import cv2

        if image is None:
            image = self.image
        if image is None:
            raise CathxError("Results.plot: no image attached to these results; pass the frame, plot(image)")
        canvas = _to_rgb8(image, self.meta.get("bits_stored"))
        if np.shares_memory(canvas, image):  # an RGB uint8 frame comes back as is: never draw on the caller's
            canvas = canvas.copy()
        if canvas.shape[:2] != tuple(self.image_size):
            size = (self.image_size[1], self.image_size[0])
            canvas = cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)
        scale = max(1, round(max(self.image_size) / 512))
        occupied = np.zeros(canvas.shape[:2], np.uint8)  # what text should not hide
        if self.mask is not None and self.mask.any():
            tint = np.array([0, 160, 255], dtype=np.float32)
            on = self.mask.astype(bool)
            canvas[on] = ((1 - mask_alpha) * canvas[on] + mask_alpha * tint).astype(np.uint8)
            occupied = on.view(np.uint8).copy()
        for catheter in self.catheters:
            line = np.round(catheter.centreline).astype(np.int32).reshape(-1, 1, 2)
            if len(line) >= 2:
                colour = type_colour(catheter.type)
                cv2.polylines(canvas, [line], bool(catheter.closed), colour, scale, cv2.LINE_AA)
                cv2.polylines(occupied, [line], bool(catheter.closed), 1, 3 * scale)
        types = self.electrode_types()
        for (x, y), kind in zip(np.round(self.electrodes).astype(int).tolist(), types):
            cv2.drawMarker(canvas, (x, y), type_colour(kind), cv2.MARKER_CROSS, 5 * scale, scale)
            cv2.drawMarker(occupied, (x, y), 1, cv2.MARKER_CROSS, 5 * scale, 3 * scale)
        _draw_text(canvas, [c for c in self.catheters if len(c.centreline)], occupied, scale, legend)
        return canvas

    def save(self, folder: Path | str) -> dict[str, Path]:
        """Write this frame's files into ``folder``, in `cathx predict`'s layout; returns their paths.

        masks/NAME.png (0/255), json/NAME.json and, when an image is attached, overlays/NAME.png;
        NAME is ``meta["name"]``. ``folder`` must be new, empty or earlier cathx output: files cathx
        did not write are never overwritten (CathxError otherwise). Each file is written atomically.
        """
        from cathx.fileio import atomic_write_bytes, atomic_write_text, claim_output_folder

        folder = claim_output_folder(folder, option="Results.save")
        name = _file_name(str(self.meta.get("name") or "image"))
        written = {"mask": folder / "masks" / f"{name}.png", "json": folder / "json" / f"{name}.json"}
        mask = self.mask if self.mask is not None else np.zeros(self.image_size, np.uint8)
        atomic_write_bytes(written["mask"], encode_png((mask > 0).astype(np.uint8) * 255))
        atomic_write_text(written["json"], self.to_json() + "\n")
        if self.image is not None:
            written["overlay"] = folder / "overlays" / f"{name}.png"
            atomic_write_bytes(written["overlay"], encode_png(self.plot()))
        return written

    def _repr_png_(self) -> bytes | None:
        """The overlay as PNG for Jupyter (at most 1024 px a side); None without an attached image."""
        if self.image is None:
            return None
        import cv2

        drawn = self.plot()
        scale = 1024 / max(drawn.shape[:2])
        if scale < 1:
            size = (max(1, round(drawn.shape[1] * scale)), max(1, round(drawn.shape[0] * scale)))
            drawn = cv2.resize(drawn, size, interpolation=cv2.INTER_AREA)
        return encode_png(drawn)


def type_colour(kind: str) -> tuple[int, int, int]:
    """RGB colour of a catheter type: keyed by the type, so the same in every frame (grey for others)."""
    return TYPE_COLOURS.get(kind, TYPE_COLOURS["unknown"])


LABEL_FONT_SCALE = 0.35  # cv2 Hershey simplex at 512 px a side and below: 9 px capitals
LEGEND_MAX_AREA = 0.15  # share of the frame the legend may take (small frames go without)


def _label_text(catheter: Catheter, detail: int = 2) -> str:
    """``#id type confidence`` (detail 2), ``#id type`` (1) or ``#id`` (0); without the ``#id`` for
    a catheter whose track has no id yet (id -1: not yet confirmed; then "" at detail 0). Nothing
    for one without an id whose type is unknown (a track that never held a ring: a wire or lead as
    often as a catheter, ``Tracker.confirm_electrodes``): its grey centreline says all there is."""
    if catheter.id < 0 and catheter.type == "unknown":
        return ""
    # "unknown" carries no vote share worth reading (the tracker gives it 0.00)
    shown = detail >= 2 and catheter.confidence is not None and catheter.type != "unknown"
    confidence = f" {catheter.confidence:.2f}" if shown else ""
    words = [f"#{catheter.id}"] if catheter.id >= 0 else []
    if detail >= 1:
        words.append(f"{catheter.type}{confidence}")
    return " ".join(words)


def _label_anchors(centreline: np.ndarray) -> np.ndarray:
    """(8, 2) points a label may sit beside: the tip, then along the centreline to its far end."""
    points = np.asarray(centreline, np.float64).reshape(-1, 2)
    along = arc_length(points)
    if along[-1] <= 0:
        return points[:1]
    at = np.array([0.0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0]) * along[-1]
    return np.stack([np.interp(at, along, points[:, 0]), np.interp(at, along, points[:, 1])], axis=1)


def _text_size(text: str, font_scale: float, thickness: int, pad: int) -> tuple[tuple[int, int], int]:
    """((width, height) of the text's box with ``pad`` around it, baseline)."""
    import cv2

    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    return (width + 2 * pad, height + baseline + 2 * pad), baseline


def _dark_box(canvas: np.ndarray, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    region = canvas[y0:y1, x0:x1]
    region >>= 2  # a quarter of the brightness: light text on it reads over any background


def _draw_text(canvas: np.ndarray, catheters: list[Catheter], occupied: np.ndarray, scale: int,
               legend: bool) -> None:
    """Labels (``#id type confidence``) beside their catheters and the legend of types, in place."""
    import cv2

    from cathx.postprocess.overlay_layout import legend_box, place_labels, summed_area

    if not catheters:
        return
    font, thickness, pad = LABEL_FONT_SCALE * scale, scale, 2 * scale
    table = summed_area(occupied)
    image_size = canvas.shape[:2]
    blocked, legend_rows = [], []
    if legend:
        known = list(TYPE_COLOURS)  # the legend's order, the same in every frame
        kinds = sorted({c.type for c in catheters},
                       key=lambda kind: (known.index(kind) if kind in known else len(known), kind))
        rows = [_text_size(kind, font, thickness, pad) for kind in kinds]
        row_height = max(size[1] for size, _ in rows)
        swatch = row_height - 2 * pad
        size = (swatch + pad + max(size[0] for size, _ in rows), row_height * len(kinds))
        box = None
        if size[0] * size[1] <= LEGEND_MAX_AREA * image_size[0] * image_size[1]:
            box = legend_box(size, image_size, table)
        if box is not None:
            blocked.append(box)
            legend_rows = [(kind, box[1] + i * row_height, baseline) for i, (kind, (_, baseline)) in
                           enumerate(zip(kinds, rows))]
    # One label per id (the pieces of a catheter cut at a crossing share it; any piece may hold it).
    # Known types first, then by id: the same order every frame keeps tracked labels where they were.
    # Catheters without an id yet (-1) are each labelled on their own.
    pieces: dict[object, list[Catheter]] = {}
    for k, catheter in enumerate(catheters):
        pieces.setdefault(catheter.id if catheter.id >= 0 else ("new", k), []).append(catheter)
    groups = sorted(pieces.values(), key=lambda group: (group[0].type == "unknown", group[0].id < 0, group[0].id))
    order = [group[0] for group in groups]
    anchors = [np.concatenate([_label_anchors(c.centreline) for c in group]) for group in groups]
    labels = []  # (catheter, text, baseline, placement)
    pending = list(range(len(order)))
    for detail in (2, 1, 0):  # no room for the whole label: drop the confidence, then the type
        texts = {i: _label_text(order[i], detail) for i in pending}
        pending = [i for i in pending if texts[i]]  # nothing left to say (no id yet, no room for the type)
        sizes = {i: _text_size(texts[i], font, thickness, pad) for i in pending}
        placed = place_labels([anchors[i] for i in pending], [sizes[i][0] for i in pending], image_size,
                              table, blocked, gap=2 * scale)
        for i, placement in zip(list(pending), placed):
            if placement is not None:
                pending.remove(i)
                blocked.append(placement.box)
                labels.append((order[i], texts[i], sizes[i][1], placement))
        if not pending:
            break
    if pending:
        logger.debug("overlay: no room for the labels of catheters %s", [order[i].id for i in pending])
    # Leader lines first, so that no line crosses a label or the legend.
    for catheter, _, _, placement in labels:
        if placement.leader:
            x0, y0, x1, y1 = placement.box
            ax, ay = (int(round(v)) for v in placement.anchor)
            nearest = (min(max(ax, x0), x1 - 1), min(max(ay, y0), y1 - 1))
            cv2.line(canvas, nearest, (ax, ay), type_colour(catheter.type), scale, cv2.LINE_AA)
            cv2.circle(canvas, (ax, ay), 2 * scale, type_colour(catheter.type), -1, cv2.LINE_AA)
    for catheter, text, baseline, placement in labels:
        _dark_box(canvas, placement.box)
        cv2.putText(canvas, text, (placement.box[0] + pad, placement.box[3] - pad - baseline),
                    cv2.FONT_HERSHEY_SIMPLEX, font, type_colour(catheter.type), thickness, cv2.LINE_AA)
    if legend_rows:
        box = blocked[0]
        _dark_box(canvas, box)
        for kind, top, baseline in legend_rows:
            corner = (box[0] + pad, top + pad)
            far = (corner[0] + swatch - 1, corner[1] + swatch - 1)
            cv2.rectangle(canvas, corner, far, type_colour(kind), -1)
            cv2.putText(canvas, kind, (box[0] + swatch + 2 * pad, top + row_height - pad - baseline),
                        cv2.FONT_HERSHEY_SIMPLEX, font, (235, 235, 235), thickness, cv2.LINE_AA)


def _file_name(name: str) -> str:
    """``name`` safe as a file name: path separators and control characters become '_'."""
    cleaned = "".join("_" if ch in '/\\:' or ord(ch) < 32 else ch for ch in name).strip(". ")
    return cleaned or "image"


def encode_png(image: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) RGB uint8 -> PNG bytes."""
    import cv2

    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - cv2 fails only on invalid arrays
        raise CathxError("cannot encode PNG")
    return data.tobytes()


def _to_rgb8(image: np.ndarray, bits_stored: int | None = None) -> np.ndarray:
    """Any frame -> (H, W, 3) uint8 for drawing; 16-bit and float pixels scaled by cathx's one rule
    (``cathx.data.formats.imageio.to_unit_float``)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        from cathx.data.formats.imageio import to_unit_float

        unit = to_unit_float(image, bits_stored)
        image = (np.clip(unit, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def analyse_frame(
    mask: np.ndarray | None,
    peaks: np.ndarray | None,
    *,
    max_distance: float = 6.0,
    min_length: int = 16,
    split_gap: float = 12.0,
    split_at_junctions: bool = False,
    max_mask_fraction: float = 0.5,
    min_bare_length: float = 32.0,
    meta: dict[str, Any] | None = None,
    type_probabilities: np.ndarray | None = None,
    type_classifier: Any | None = None,
    loose_rows: bool = True,
    image_size: tuple[int, int] | None = None,
) -> Results:
    """Post-process one frame at one resolution.

    mask: (H, W) binary mask or None; peaks: (K, 5) [x, y, score, w, h] in the same pixels, or
    None. image_size: (H, W) of the frame when there is no mask (a detection-only network): the
    type head's cells are read at that scale. Centrelines come from the mask; each electrode goes to the nearest centreline within
    ``max_distance`` pixels; the type of each catheter comes from its electrode pattern.

    A binary mask merges catheters that touch or run side by side, so one centreline may carry
    the electrodes of several catheters: electrodes along a centreline are split into separate
    catheters where the gap between neighbours exceeds both ``split_gap`` pixels and three times
    the median gap (see split_electrode_groups). ``split_at_junctions`` also splits where other
    skeleton branches leave the centreline; off by default: on synthetic frames it cut crossing
    catheters' electrode rows as often as it separated merged ones (type accuracy 70.8% vs 72.0%).
    With electrodes detected (``peaks`` given), a centreline holding none of them and shorter
    than ``min_bare_length`` pixels is not reported as a catheter: on a network's masks over a
    third of the pieces are such stubs (shafts cut at crossings, look-alike wires, edges) that
    would each be drawn with an id and a type (benchmark sequences: 6.0 -> 5.0 catheters per frame
    against 2.9 true ones; ids and types neutral, docs/inference.md). Without peaks every piece
    of at least ``min_length`` is kept.
    ``loose_rows``: electrodes that no centreline took and that lie farther than twice
    ``max_distance`` from every centreline (the mask missed a faint shaft, or kept only a stub
    shorter than ``min_length``, while the metal rings were found) form catheters of their own
    where they lie within ``split_gap`` of each other, their centreline the row through them
    (``loose_electrode_rows``; two or more electrodes), typed like every catheter: where the
    catheter was missed before, its rings now give its type. Electrodes nearer a centreline are
    left out: they are that catheter's (a lasso's rings beside its skeleton), and as rows of their
    own they were typed pacing or quadripolar.
    A mask covering more than ``max_mask_fraction`` of the frame (an untrained or broken model)
    gets no centrelines, instead of a skeleton of the whole frame (tens of milliseconds).

    type_probabilities: (T, h, w) output of a network's type head (softmax) covering the frame:
    each catheter then takes the head's type along its centreline (``type_from_probabilities``)
    instead of the electrode-pattern rule, with the head's probability as its confidence.
    type_classifier: a fitted ``type_classifier.TypeClassifier`` (or anything with its ``decide``:
    (N, F) features -> N (type, probability)); it then decides every type from
    the electrode pattern, the centreline's length and the head's probabilities together (its
    probability as the confidence).
    """
    size = mask.shape if mask is not None else (tuple(image_size) if image_size is not None else (0, 0))
    bare_cut = min_bare_length if peaks is not None else 0.0  # a segmentation-only model has no electrodes
    peaks = np.zeros((0, 5), np.float32) if peaks is None else np.asarray(peaks, np.float32).reshape(-1, 5)
    meta = dict(meta or {})
    lines = []
    if mask is not None:
        fraction = float(np.count_nonzero(mask)) / max(mask.size, 1)
        if fraction <= max_mask_fraction:
            lines = extract_centrelines(mask, min_length=min_length)
        else:  # catheters cover a few percent of a frame: this is not a catheter mask
            meta["skipped_centrelines"] = f"mask covers {fraction:.0%} of the frame"
    assignment, oriented = assign_electrodes(peaks[:, :2], [line.points for line in lines], max_distance)
    catheter_of = np.full(len(peaks), -1, dtype=np.int64)
    index_of = np.full(len(peaks), -1, dtype=np.int64)
    catheters: list[Catheter] = []
    measured = []  # (pattern features, electrodes from the tip) of every catheter, for the learned decision
    held: list[list[int]] = [[] for _ in lines]  # each centreline's electrodes, in index order
    for e, c in enumerate(assignment.catheter.tolist()):
        if c >= 0:
            held[c].append(e)
    for c, (line, points) in enumerate(zip(lines, oriented)):
        members = np.array(held[c], np.int64)
        if len(members) == 0 and line.length < bare_cut:
            continue
        junctions = None
        if split_at_junctions:
            junctions = line.junctions
            if len(points) and len(line.points) and not np.array_equal(points[0], line.points[0]):
                junctions = polyline_length(points) - junctions  # the centreline was flipped tip-first
        groups = split_electrode_groups(assignment.arc[members], points, split_gap, junctions)
        for group, piece in groups:
            chosen = members[group]
            arc = assignment.arc[chosen]
            if len(groups) > 1 and len(chosen):
                # A piece cut from a shared centreline may hold its catheter tip-last: re-orient it.
                piece, arc = _orient_piece(piece, peaks[chosen, :2])
            closed = line.closed and len(groups) == 1
            features = pattern_features(arc, peaks[chosen, 3:5], closed, peaks[chosen, :2])
            kind = classify_pattern(features)
            if kind == "ablation" and features.tail_ratio > max(features.tip_ratio, TAIL_TIP_RATIO) and len(piece) > 1:
                # the long tip electrode sits at the far end: the centreline ran tail-first
                length = polyline_length(piece)
                piece, arc = piece[::-1].copy(), (length - arc).astype(np.float32)
            tip_first = chosen[np.argsort(arc, kind="stable")]
            catheter_of[chosen] = len(catheters)
            index_of[tip_first] = np.arange(len(chosen))
            catheters.append(Catheter(id=len(catheters), type=kind, centreline=piece, closed=closed))
            measured.append((features, peaks[tip_first, :2], peaks[chosen, 2]))
    if loose_rows:  # after every centreline took its electrodes: rows of the ones left over
        lone = catheter_of < 0
        if lines and lone.any():  # electrodes just beyond a centreline's reach are its own, not a row
            gap, _ = project_to_polylines(peaks[lone, :2], [line.points for line in lines])
            lone[np.flatnonzero(lone)[gap.min(axis=0) <= 2 * max_distance]] = False
        for members in loose_electrode_rows(peaks[:, :2], lone, split_gap):
            row = peaks[members, :2].astype(np.float32)
            features = pattern_features(arc_length(row).astype(np.float32), peaks[members, 3:5], False, row)
            kind = classify_pattern(features)
            if kind == "ablation" and features.tail_ratio > max(features.tip_ratio, TAIL_TIP_RATIO):
                members, row = members[::-1], row[::-1].copy()  # the long tip electrode came last: start there
            catheter_of[members] = len(catheters)
            index_of[members] = np.arange(len(members))
            catheters.append(Catheter(id=len(catheters), type=kind, centreline=row, closed=False))
            measured.append((features, peaks[members, :2], peaks[members, 2]))
    if catheters and (type_classifier is not None or type_probabilities is not None):
        if type_classifier is not None:
            # One call for the frame's catheters: the perceptron's fixed cost is paid once.
            table = np.stack([centreline_features(features, catheter.centreline, type_probabilities, size, tip_first,
                                                  scores)
                              for (features, tip_first, scores), catheter in zip(measured, catheters)])
            decided = type_classifier.decide(table)
        else:
            decided = [type_from_probabilities(type_probabilities, c.centreline, size) for c in catheters]
        for catheter, (kind, confidence) in zip(catheters, decided):
            catheter.type, catheter.confidence = kind, confidence
    return Results(
        image_size=(int(size[0]), int(size[1])),
        mask=None if mask is None else (np.asarray(mask) > 0).astype(np.uint8),
        electrodes=peaks[:, :2].copy(), scores=peaks[:, 2].copy(), sizes=peaks[:, 3:5].copy(),
        electrode_catheter=catheter_of, electrode_index=index_of,
        electrode_ids=np.full(len(peaks), -1, dtype=np.int64), catheters=catheters, meta=meta,
        type_probabilities=None if type_probabilities is None else np.asarray(type_probabilities, np.float32),
    )


def loose_electrode_rows(points: np.ndarray, free: np.ndarray, link: float) -> list[np.ndarray]:
    """Rows of the electrodes no centreline took, each (K,) indices into ``points`` in order along it.

    points: (N, 2) electrodes; free: (N,) bool, the ones no catheter holds. Free electrodes are
    linked to neighbours within ``link`` pixels; each linked group of two or more is walked from
    the member farthest from the group's centre to its nearest unvisited neighbour, step by step
    (a row of rings, straight or curved). A lone electrode is no row.
    """
    loose = np.flatnonzero(free)
    if len(loose) < 2:
        return []
    from cathx.postprocess.compiled import connected_labels

    xy = np.asarray(points, np.float64)[loose]
    gap = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    group = connected_labels(gap <= link)
    rows = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        if len(members) < 2:
            continue
        current = int(members[np.argmax(np.linalg.norm(xy[members] - xy[members].mean(axis=0), axis=1))])
        order, left = [current], set(members.tolist()) - {current}
        while left:
            rest = np.array(sorted(left))
            current = int(rest[np.argmin(gap[current, rest])])
            order.append(current)
            left.discard(current)
        rows.append(loose[np.array(order)])
    return rows


def _orient_piece(piece: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orient a centreline piece to start at the end nearer its electrodes; (piece, electrode arcs)."""
    from cathx.postprocess.assignment import project_to_polyline

    _, arc = project_to_polyline(points, piece)
    length = float(np.linalg.norm(np.diff(piece, axis=0), axis=1).sum()) if len(piece) > 1 else 0.0
    if arc.min() > length - arc.max():
        return piece[::-1].copy(), (length - arc).astype(np.float32)
    return piece, arc.astype(np.float32)


def split_electrode_groups(arc: np.ndarray, centreline: np.ndarray, split_gap: float = 12.0,
                           junctions: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split the electrodes on one centreline at junctions and where they leave a large gap.

    arc: (N,) electrode arc positions along ``centreline`` (oriented from the tip); junctions:
    arc positions where other skeleton branches leave it (catheters merged in the mask): two
    neighbouring electrodes with a junction between them go to different groups. A gap larger
    than both ``split_gap`` and three times the group's median gap splits too. Returns
    (member positions into ``arc``, centreline piece) per group, from the tip: a group's piece
    runs from just before its first electrode to just before the next group's first one (the
    last group keeps the rest). No electrodes: one empty group with the whole centreline.
    """
    if len(arc) == 0:
        return [(np.zeros(0, dtype=np.int64), centreline)]
    from cathx.postprocess.compiled import gap_cuts

    order = np.argsort(arc, kind="stable")
    sorted_arc = np.ascontiguousarray(arc[order])
    cut = gap_cuts(sorted_arc, float(split_gap))
    if junctions is not None and len(junctions) and len(cut):
        for position in np.asarray(junctions, dtype=np.float64):
            cut |= (sorted_arc[:-1] < position) & (sorted_arc[1:] > position)
    if not cut.any():
        return [(order, centreline)]
    starts = np.concatenate([[0], np.flatnonzero(cut) + 1])
    ends = np.concatenate([starts[1:], [len(order)]])
    position = arc_length(centreline)
    margin = 0.25 * split_gap
    groups = []
    for k, (start, end) in enumerate(zip(starts, ends)):
        low = 0.0 if k == 0 else arc[order[start]] - margin
        high = arc[order[ends[k]]] - margin if k + 1 < len(starts) else np.inf
        keep = (position >= low) & (position <= high)
        groups.append((order[start:end], centreline[keep] if keep.any() else centreline))
    return groups


def rescale_results(results: Results, image_size: tuple[int, int], mask: np.ndarray | None = None) -> Results:
    """Map Results computed at one resolution to ``image_size`` (H, W) pixels.

    Pixel centres map as x' = (x + 0.5) * W'/W - 0.5. ``mask`` is the result's mask at the new size
    (the caller resizes probabilities, which is better than resizing a binary mask); without it the
    result carries no mask (``mask`` None): the tracker, which rescales every frame to its reference
    size and back, needs none and should not pay for a resize.
    """
    height, width = results.image_size
    sx, sy = image_size[1] / max(width, 1), image_size[0] / max(height, 1)
    scale = np.array([sx, sy], dtype=np.float32)

    def points(p: np.ndarray) -> np.ndarray:
        return ((p + 0.5) * scale - 0.5).astype(np.float32)

    catheters = [Catheter(c.id, c.type, points(c.centreline), c.closed, c.confidence) for c in results.catheters]
    return Results(
        image_size=(int(image_size[0]), int(image_size[1])), mask=mask,
        electrodes=points(results.electrodes), scores=results.scores, sizes=results.sizes * scale,
        electrode_catheter=results.electrode_catheter, electrode_index=results.electrode_index,
        electrode_ids=results.electrode_ids, catheters=catheters, meta=results.meta,
        type_probabilities=results.type_probabilities,
    )
