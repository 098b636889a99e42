"""Write any reader's samples into the XRayCath layout + annotations.json (``cathx data convert``).

Everything is written into a hidden temporary folder next to OUT and renamed onto OUT only when
complete. OUT must be new, empty, or (with ``overwrite``) an earlier cathx output, so a user's own
files are never deleted. Samples that fail to read are skipped and listed in ``conversion.json``
and in the returned report, never dropped silently.

Labels written: the union mask (masks/<id>.png), electrode centres and sizes (csv/blob.csv with
Strength from the box side, and COCO keypoints), catheter types, ids and centrelines. Sources without
per-catheter masks get each catheter's segmentation by assigning mask pixels to the nearest
centreline; sources without catheter labels get one "unknown" catheter per frame. A frame without
electrode labels is marked ``"has_electrodes": false`` in its image record (a cathx extension).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import cathx
from cathx.data.formats import xraycath_layout as layout
from cathx.data.formats.imageio import coco_rle, encode_png_fast, quantize
from cathx.errors import CathxError, DataError
from cathx.fileio import atomic_folder
from cathx.structures import CATHETER_TYPES, Sample

logger = logging.getLogger(__name__)

MARKER = "conversion.json"
KNOWN_MARKERS = (MARKER, "dataset_card.json")
DEFAULT_STRENGTH = 0.5


@dataclass
class ConversionReport:
    """What a conversion wrote and skipped."""

    out: Path
    written: int = 0
    problems: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)


def convert_dataset(
    src: Path | str,
    dst: Path | str,
    format: str | None = None,
    split: str | None = None,
    overwrite: bool = False,
    bit_depth: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> ConversionReport:
    """Read ``src`` (any format) and write it into ``dst`` in the XRayCath layout + annotations.json.

    Each sample keeps its split: from its own metadata, else from the source's split files.
    progress: called as ``progress(samples_read, samples)`` as the samples are read.
    """
    from cathx.data.formats import detect_format, open_dataset

    name = format or detect_format(src)
    check_output(Path(dst), overwrite)
    reader = open_dataset(src, split=split, format=name)
    membership = _split_membership(src, name, reader) if split is None else {}

    def pairs() -> Iterable[tuple[Sample | None, str | None]]:
        yield from ((None, problem) for problem in reader.problems)
        for index in range(len(reader)):
            if progress is not None and index:
                progress(index, len(reader))
            try:
                sample = reader[index]
            except DataError as exc:
                yield None, f"{exc} (skipped)"
                continue
            yield sample, sample.meta.get("split") or split or membership.get(reader.source_of(index))
        if progress is not None:
            progress(len(reader), len(reader))

    provenance = {"source": str(src), "format": name, "split": split}
    return write_samples(pairs(), dst, overwrite=overwrite, bit_depth=bit_depth, provenance=provenance)


def _split_membership(src: Path | str, name: str, reader: Any) -> dict[str, str]:
    """Source file -> split name, from the split files the reader found (imagesets/<split>.txt...)."""
    from cathx.data.formats import open_dataset

    membership: dict[str, str] = {}
    for split_file in getattr(reader, "split_files", []):
        split = Path(split_file).stem.split("_")[-1]
        try:
            part = open_dataset(src, split=split, format=name)
        except DataError:
            continue
        for index in range(len(part)):
            membership.setdefault(part.source_of(index), split)
    return membership


def check_output(out: Path, overwrite: bool) -> None:
    """Raise CathxError unless ``out`` may be written (new, empty, or an old cathx output with overwrite)."""
    if out.exists() and not out.is_dir():
        raise CathxError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise CathxError(f"{out}: folder is not empty; choose another DST or pass --overwrite")
        if not any((out / marker).is_file() for marker in KNOWN_MARKERS):
            raise CathxError(f"{out}: not a cathx dataset (no {MARKER}); refusing to overwrite it")


def write_samples(
    samples: Iterable[tuple[Sample | None, str | None]],
    out: Path | str,
    overwrite: bool = False,
    bit_depth: int = 8,
    provenance: dict[str, Any] | None = None,
) -> ConversionReport:
    """Write (sample, split) pairs into ``out``; a None sample carries a problem line in ``split``.

    Returns a ConversionReport. The iterable is consumed once, holding one sample at a time.
    """
    out = Path(out)
    if bit_depth not in (8, 16):
        raise CathxError(f"--bit-depth must be 8 or 16, got {bit_depth}")
    check_output(out, overwrite)
    with atomic_folder(out) as partial:
        report = _write_into(partial, samples, bit_depth, provenance or {})
        report.out = out
        if report.written == 0:  # raised inside: the partial folder goes, an earlier dataset at OUT stays
            first = f" (first: {report.problems[0]})" if report.problems else ""
            raise DataError(f"{out}: no sample could be written, {len(report.problems)} skipped{first}; "
                            "nothing was changed")
    return report


def _write_into(
    root: Path,
    samples: Iterable[tuple[Sample | None, str | None]],
    bit_depth: int,
    provenance: dict[str, Any],
) -> ConversionReport:
    for sub in (layout.IMAGES_DIR, layout.MASKS_DIR, Path(layout.CSV_PATH).parent, layout.IMAGESETS_DIR):
        (root / sub).mkdir(parents=True, exist_ok=True)
    report = ConversionReport(root)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    sequence_ids: dict[Any, int] = {}
    split_lists: dict[str, list[str]] = {}
    with open(root / layout.CSV_PATH, "w", encoding="utf-8", newline="") as csv:
        csv.write(",".join(layout.CSV_COLUMNS) + "\n")
        for sample, split in samples:
            if sample is None:
                report.problems.append(str(split))
                continue
            index = len(images)
            key = f"{index:06d}"
            record, rows, sample_annotations = _frame_record(
                sample, index, key, split, root, bit_depth, sequence_ids, len(annotations)
            )
            csv.writelines(rows)
            images.append(record)
            annotations.extend(sample_annotations)
            if split:
                split_lists.setdefault(split, []).append(key)
                report.splits[split] = report.splits.get(split, 0) + 1
    for split, keys in split_lists.items():
        (root / layout.IMAGESETS_DIR / f"{split}.txt").write_text(
            "".join(k + "\n" for k in keys), encoding="utf-8"
        )
    report.written = len(images)
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(CATHETER_TYPES)]
    document = {
        "info": {"description": "converted by cathx data convert", "version": cathx.__version__},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    (root / layout.ANNOTATIONS_FILE).write_text(json.dumps(document) + "\n", encoding="utf-8")
    marker = {
        "cathx_version": cathx.__version__,
        **provenance,
        "written": report.written,
        "splits": report.splits,
        "problems": report.problems,
    }
    (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return report


def _frame_record(
    sample: Sample,
    index: int,
    key: str,
    split: str | None,
    root: Path,
    bit_depth: int,
    sequence_ids: dict[Any, int],
    first_annotation_id: int,
) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    height, width = sample.image.shape
    (root / layout.IMAGES_DIR / f"{key}.png").write_bytes(encode_png_fast(quantize(sample.image, bit_depth)))
    mask_file = None
    if sample.mask is not None:
        mask_file = f"{layout.MASKS_DIR}/{key}.png"
        (root / mask_file).write_bytes(encode_png_fast((sample.mask > 0).astype(np.uint8) * np.uint8(255)))
    electrodes = sample.electrodes if sample.electrodes is not None else np.zeros((0, 2), np.float32)
    sizes = sample.electrode_sizes
    if sizes is None or len(sizes) != len(electrodes):
        side = layout.box_side_from_strength(np.full(len(electrodes), DEFAULT_STRENGTH), width)
        sizes = np.stack([side, side], axis=1) if len(electrodes) else np.zeros((0, 2), np.float32)
    strength = layout.strength_from_box_side(sizes.max(axis=1) if len(sizes) else np.zeros(0), width)
    rows = [
        f"{key},{x / width:.6f},{y / height:.6f},{s:.4f}\n"
        for (x, y), s in zip(electrodes.tolist(), strength.tolist(), strict=True)
    ]
    sequence = sample.meta.get("sequence_id")
    sequence_id = None
    if sequence is not None:
        sequence_id = sequence_ids.setdefault(sequence, len(sequence_ids))
    record = {
        "id": index,
        "file_name": f"{layout.IMAGES_DIR}/{key}.png",
        "mask_file": mask_file,
        "width": width,
        "height": height,
        "split": split,
        "sequence_id": sequence_id,
        "frame_index": _int_or_none(sample.meta.get("frame_index")),
        "fps": _float_or_none(sample.meta.get("fps")),
        "source": sample.meta.get("source"),
        "has_electrodes": sample.electrodes is not None,
    }
    annotations = _annotations(sample, index, electrodes, sizes, first_annotation_id)
    return record, rows, annotations


def _annotations(
    sample: Sample, image_id: int, electrodes: np.ndarray, sizes: np.ndarray, first_id: int
) -> list[dict[str, Any]]:
    types = list(sample.catheter_types)
    owners = sample.electrode_catheter_ids
    if owners is None or len(owners) != len(electrodes):
        owners = np.full(len(electrodes), -1, np.int64)
    orphans = (owners < 0) | (owners >= len(types))
    if not types and sample.mask is None and not len(electrodes):
        return []
    centrelines = list(sample.centrelines) if len(sample.centrelines) == len(types) else [None] * len(types)
    catheter_ids = list(sample.meta.get("catheter_ids") or range(len(types)))
    if len(catheter_ids) != len(types):
        catheter_ids = list(range(len(types)))
    masks = _split_mask(sample.mask, centrelines) if types else []
    entries = [
        (types[i], catheter_ids[i], masks[i] if masks else None, owners == i, centrelines[i])
        for i in range(len(types))
    ]
    if not types or orphans.any():
        union = sample.mask if not types else None
        entries.append(("unknown", max(catheter_ids, default=-1) + 1, union, orphans, None))
    annotations = []
    for offset, (kind, catheter_id, mask, mine, centreline) in enumerate(entries):
        points = electrodes[mine]
        annotation: dict[str, Any] = {
            "id": first_id + offset + 1,
            "image_id": image_id,
            "category_id": CATHETER_TYPES.index(kind if kind in CATHETER_TYPES else "unknown") + 1,
            "catheter_id": int(catheter_id),
            "iscrowd": 0,
            "segmentation": None,
            "area": 0,
            "bbox": [0, 0, 0, 0],
            "keypoints": [
                round(float(v), 3) if k < 2 else 2 for p in points.tolist() for k, v in enumerate((*p, 2))
            ],
            "num_keypoints": len(points),
            "electrode_sizes": [[round(float(w), 3), round(float(h), 3)] for w, h in sizes[mine].tolist()],
            "centreline": []
            if centreline is None
            else [
                [round(float(x), 2), round(float(y), 2)]
                for x, y in np.asarray(centreline).reshape(-1, 2).tolist()
            ],
        }
        if mask is not None:
            annotation["segmentation"] = coco_rle(mask)
            ys, xs = np.nonzero(mask)
            annotation["area"] = int(len(xs))
            if len(xs):
                annotation["bbox"] = [int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1)]
        annotations.append(annotation)
    return annotations


def _split_mask(mask: np.ndarray | None, centrelines: list[np.ndarray | None]) -> list[np.ndarray | None]:
    """Assign each mask pixel to the nearest catheter centreline -> one mask per catheter."""
    if mask is None:
        return [None] * len(centrelines)
    if len(centrelines) == 1:
        return [mask]
    if any(c is None or len(c) == 0 for c in centrelines):
        return [None] * len(centrelines)
    distances = []
    for centreline in centrelines:
        canvas = np.full(mask.shape, 255, np.uint8)
        points = np.round(np.asarray(centreline, np.float32)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [points], False, 0, 1)
        distances.append(cv2.distanceTransform(canvas, cv2.DIST_L2, 3))
    nearest = np.argmin(np.stack(distances), axis=0)
    return [((nearest == i) & (mask > 0)).astype(np.uint8) for i in range(len(centrelines))]


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
