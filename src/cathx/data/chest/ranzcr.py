"""Reader for the RANZCR CLiP layout (chest radiographs, line and tube position labels).

Layout::

    ROOT/train.csv              StudyInstanceUID, the 11 LABELS columns (0/1), PatientID
    ROOT/train/<uid>.jpg        one radiograph per study (8-bit grey; RGB files are converted)
    ROOT/train_annotations.csv  (optional) StudyInstanceUID, label, data = "[[x, y], ...]" points along
                                one line or tube in pixels of the stored image

Chest radiographs keep their usual display: dense (bone, tubes) = bright. This differs from the
fluoroscopy convention of ``cathx.structures.Sample`` (dense = dark) and is recorded in
``Sample.meta["polarity"]``.
"""

from __future__ import annotations

import ast
import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cathx.data.formats.imageio import read_image
from cathx.errors import DataError
from cathx.structures import Sample

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = (
    "ETT - Abnormal",
    "ETT - Borderline",
    "ETT - Normal",
    "NGT - Abnormal",
    "NGT - Borderline",
    "NGT - Incompletely Imaged",
    "NGT - Normal",
    "CVC - Abnormal",
    "CVC - Borderline",
    "CVC - Normal",
    "Swan Ganz Catheter Present",
)
# Device groups in LABELS order; the multi-head model has one head per group and the line masks
# one channel per group.
GROUPS: tuple[tuple[str, int], ...] = (("ETT", 3), ("NGT", 4), ("CVC", 3), ("Swan", 1))
GROUP_NAMES: tuple[str, ...] = tuple(name for name, _ in GROUPS)
UID_COLUMN = "StudyInstanceUID"
PATIENT_COLUMN = "PatientID"
CSV_FILE = "train.csv"
IMAGES_DIR = "train"
ANNOTATIONS_FILE = "train_annotations.csv"
ANNOTATION_COLUMNS = (UID_COLUMN, "label", "data")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Line thickness of the rasterised annotations, as a fraction of the image width (about 4 px at
# the 2,500-3,000 px of the original radiographs scaled to 256 px gives 2 px).
LINE_WIDTH_FRACTION = 1.0 / 128.0


def label_group(label: str) -> int:
    """Index into GROUPS of a label name (``"CVC - Normal"`` -> 2, ``"Swan Ganz..."`` -> 3)."""
    if label == LABELS[-1]:
        return 3
    return GROUP_NAMES.index(label.split(" - ")[0])


def parse_points(text: str, where: str) -> np.ndarray:
    """``"[[x, y], ...]"`` -> (N, 2) float32; DataError naming ``where`` if it is not such a list."""
    try:
        points = np.asarray(ast.literal_eval(text), dtype=np.float32)
    except (ValueError, SyntaxError, TypeError):
        raise DataError(f"{where}: data is not a list of [x, y] points: {text[:60]!r}") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 1:
        raise DataError(f"{where}: data is not a list of [x, y] points: {text[:60]!r}")
    return points


def format_points(points: np.ndarray) -> str:
    """(N, 2) -> ``"[[x, y], ...]"`` with integer pixels, as in the competition files."""
    return "[" + ", ".join(f"[{int(round(x))}, {int(round(y))}]" for x, y in points) + "]"


def draw_line_masks(lines: Sequence[tuple[int, np.ndarray]], shape: tuple[int, int],
                    scale: float = 1.0, width: int | None = None) -> np.ndarray:
    """Rasterise annotated lines into one channel per device group.

    lines: (group index, (N, 2) points in source pixels); shape: (H, W) of the output;
    scale: factor from source pixels to output pixels. Returns (len(GROUPS), H, W) uint8 {0, 1}.
    """
    height, width_px = shape
    thickness = width or max(1, int(round(width_px * LINE_WIDTH_FRACTION)))
    masks = np.zeros((len(GROUPS), height, width_px), np.uint8)
    shift = 4  # sub-pixel precision of cv2's fixed-point coordinates
    for group, points in lines:
        pts = np.round(np.asarray(points, np.float64) * scale * (1 << shift)).astype(np.int32)
        if len(pts) == 1:
            cv2.circle(masks[group], tuple(int(v) for v in pts[0]), thickness * (1 << shift) // 2, 1, -1,
                       shift=shift)
        else:
            cv2.polylines(masks[group], [pts.reshape(-1, 1, 2)], False, 1, thickness, cv2.LINE_8, shift)
    return masks


@dataclass(frozen=True)
class Study:
    """One row of train.csv: uid, labels (11,) float32 in LABELS order, patient id, image path."""

    uid: str
    labels: np.ndarray
    patient_id: str
    image_path: Path


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from None


def _name_some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def read_studies(root: Path | str) -> list[Study]:
    """Read and check ``ROOT/train.csv``; DataError on missing columns, bad values or missing images."""
    root = Path(root)
    csv_path = root / CSV_FILE
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: not found (expected the RANZCR CLiP layout: {CSV_FILE}, {IMAGES_DIR}/)")
    columns, rows = _read_csv(csv_path)
    missing = [c for c in (UID_COLUMN, *LABELS, PATIENT_COLUMN) if c not in columns]
    if missing:
        raise DataError(f"{csv_path}: missing column(s) {_name_some(missing, 11)}")
    studies, absent, seen = [], [], set()
    for line, row in enumerate(rows, start=2):
        uid = (row[UID_COLUMN] or "").strip()
        if not uid:
            raise DataError(f"{csv_path}:{line}: empty {UID_COLUMN}")
        if uid in seen:
            raise DataError(f"{csv_path}:{line}: duplicate {UID_COLUMN} {uid!r}")
        seen.add(uid)
        try:
            labels = np.array([float(row[name]) for name in LABELS], np.float32)
        except (TypeError, ValueError):
            raise DataError(f"{csv_path}:{line}: label values must be 0 or 1") from None
        if not np.isin(labels, (0.0, 1.0)).all():
            raise DataError(f"{csv_path}:{line}: label values must be 0 or 1")
        image_path = next((root / IMAGES_DIR / f"{uid}{s}" for s in IMAGE_SUFFIXES
                           if (root / IMAGES_DIR / f"{uid}{s}").is_file()), None)
        if image_path is None:
            absent.append(uid)
            continue
        studies.append(Study(uid, labels, (row[PATIENT_COLUMN] or "").strip() or uid, image_path))
    if absent:
        raise DataError(f"{csv_path}: {len(absent)} image(s) listed but missing in {root / IMAGES_DIR}: "
                        f"{_name_some(absent)}")
    return studies


def read_annotations(root: Path | str, uids: set[str] | None = None) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Read ``ROOT/train_annotations.csv`` (if present) into {uid: [(group index, (N, 2) points)]}.

    DataError on missing columns, label names not in LABELS, unparsable points, or (when ``uids``
    is given) studies that train.csv does not list.
    """
    path = Path(root) / ANNOTATIONS_FILE
    if not path.is_file():
        return {}
    columns, rows = _read_csv(path)
    missing = [c for c in ANNOTATION_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {_name_some(missing)}")
    unknown = sorted({row["label"] for row in rows} - set(LABELS))
    if unknown:
        raise DataError(f"{path}: unknown label name(s) {_name_some(unknown)}; valid: {', '.join(LABELS)}")
    lines: dict[str, list[tuple[int, np.ndarray]]] = {}
    for line, row in enumerate(rows, start=2):
        uid = row[UID_COLUMN].strip()
        lines.setdefault(uid, []).append((label_group(row["label"]), parse_points(row["data"], f"{path}:{line}")))
    if uids is not None:
        stray = sorted(set(lines) - uids)
        if stray:
            raise DataError(f"{path}: {len(stray)} annotated study id(s) not in {CSV_FILE}: {_name_some(stray)}")
    return lines


class RanzcrReader(Sequence[Sample]):
    """The RANZCR CLiP layout as a Sequence[Sample].

    Each Sample has ``image`` (H, W) float32 (resized to ``size`` x ``size`` when given), ``mask`` the
    union of annotated lines (or None when the study has no annotation) and ``meta`` with ``uid``,
    ``patient_id``, ``labels`` (11,) float32 and ``line_masks`` (4, H, W) uint8 (one per device group).
    All checks run in the constructor, so a bad folder fails before any training starts.
    """

    def __init__(self, root: Path | str, size: int | None = None) -> None:
        self.root = Path(root)
        self.size = size
        self.studies = read_studies(self.root)
        self.lines = read_annotations(self.root, {s.uid for s in self.studies})
        self.name = f"ranzcr:{self.root.name}"
        self.problems: list[str] = []
        if not self.studies:
            raise DataError(f"{self.root / CSV_FILE}: no studies listed")

    def __len__(self) -> int:
        return len(self.studies)

    @property
    def labels(self) -> np.ndarray:
        """(N, 11) float32 labels in LABELS order."""
        return np.stack([s.labels for s in self.studies])

    @property
    def patient_ids(self) -> list[str]:
        return [s.patient_id for s in self.studies]

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        study = self.studies[index]
        image = read_image(study.image_path)  # the one reader: size limits, pixel scale, errors
        height, width = image.shape
        lines = self.lines.get(study.uid, [])
        if self.size is not None and (height, width) != (self.size, self.size):
            factor = np.array([self.size / width, self.size / height], np.float32)
            image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
            lines = [(group, points * factor) for group, points in lines]
        annotated = study.uid in self.lines
        line_masks = draw_line_masks(lines, image.shape)
        return Sample(
            image=image.astype(np.float32),
            mask=line_masks.max(axis=0) if annotated else None,
            meta={"uid": study.uid, "patient_id": study.patient_id, "labels": study.labels.copy(),
                  "line_masks": line_masks, "annotated": annotated, "source": str(study.image_path),
                  "dataset": self.name, "polarity": "dense_bright"},
        )
