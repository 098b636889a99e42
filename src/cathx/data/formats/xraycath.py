"""Reader for the XRayCath layout (the CathMTL code's dataset), with cathx's annotations.json.

With ``annotations.json`` every label is read (masks, electrodes with sizes, catheter ids and types,
centrelines, sequence ids). Without it the reader falls back to ``masks/`` and ``csv/blob.csv``
(electrode centres normalised 0-1, Strength mapped to a square box by xraycath_layout).
See xraycath_layout.py for the layout and schema.

Length (about 400 lines): both label sources (annotations.json and masks/ + blob.csv) index the same
image list and share the split rules, so they stay in one reader.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cathx.data.formats import xraycath_layout as layout
from cathx.data.formats.base import Reader, entry_path, read_split_listing
from cathx.data.formats.imageio import drop_image_suffix, read_image_and_mask
from cathx.data.formats.pairing import pair_by_stem
from cathx.errors import DataError
from cathx.structures import Sample

logger = logging.getLogger(__name__)


@dataclass
class _Item:
    """One indexed frame: where its files are and the labels known before decoding pixels."""

    key: str
    image_path: Path
    mask_path: Path | None = None
    # annotations.json mode
    record: dict[str, Any] | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    # blob.csv mode: (N, 3) normalised x, y and Strength; None when there is no blob.csv
    blobs: np.ndarray | None = None


class XRayCathReader(Reader):
    """Lazy reader of an XRayCath folder; ``split`` selects imagesets/<split>.txt (or the JSON split)."""

    name = "xraycath"
    folder_only = "an XRayCath folder"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, split)
        root, split = _resolve_split_folder(self.root, split)
        self.root, self.split = root, split
        imagesets = root / layout.IMAGESETS_DIR
        self.split_files = sorted(str(p) for p in imagesets.glob("*.txt")) if imagesets.is_dir() else []
        self._categories: dict[int, str] = {}
        self._indexed_keys: set[str] = set()  # every image seen, including skipped ones
        annotations_path = root / layout.ANNOTATIONS_FILE
        if annotations_path.is_file():
            items = self._index_annotations(annotations_path)
        else:
            items = self._index_files()
        self._items = self._select_split(items, split)
        if not self._items and not self.problems:
            where = f" in split {split!r}" if split else ""
            raise DataError(f"{root}: no images found{where}")

    # ------------------------------------------------------------------ indexing
    def _index_annotations(self, path: Path) -> list[_Item]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None
        except RecursionError:
            raise DataError(f"{path}: JSON nested too deeply") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise DataError(f"{path}: unreadable JSON ({str(exc).splitlines()[0][:120]})") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise DataError(f"{path}: not a cathx annotations file (no 'images' list)")
        for key in ("images", "annotations", "categories"):
            entries = data.get(key) or []
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise DataError(f"{path}: {key!r} must be a list of objects")
        try:
            self._categories = {int(c["id"]): str(c["name"]) for c in data.get("categories") or []}
        except (KeyError, TypeError, ValueError, OverflowError):
            raise DataError(f"{path}: malformed 'categories' (each needs an integer id and a name)") from None
        by_image: dict[Any, list[dict[str, Any]]] = {}
        for annotation in data.get("annotations") or []:
            image_id = annotation.get("image_id")
            if not _is_id(image_id):
                raise DataError(f"{path}: annotation {annotation.get('id')!r} has image_id {image_id!r}; "
                                "expected a number or string")
            by_image.setdefault(image_id, []).append(annotation)
        items = []
        seen_ids: set[Any] = set()
        for record in data["images"]:
            record_id = record.get("id")
            if not _is_id(record_id):
                raise DataError(f"{path}: image record id {record_id!r}; expected a number or string")
            if record_id in seen_ids and record_id in by_image:
                raise DataError(f"{path}: image id {record_id!r} is used by two image records; their labels "
                                "would merge")
            seen_ids.add(record_id)
            file_name = record.get("file_name")
            if not file_name:
                self.problems.append(f"{path}: image record {record_id!r} has no file_name (skipped)")
                continue
            image_path, problem = entry_path(self.root, file_name, path, f"image {record_id!r} file_name")
            if image_path is None:
                self.problems.append(problem)
                continue
            self._indexed_keys.add(image_path.stem)
            if not image_path.is_file():
                self.problems.append(f"{image_path}: listed in {path.name} but missing (skipped)")
                continue
            if image_path.stat().st_size == 0:
                self.problems.append(f"{image_path}: file is empty (0 bytes) (skipped)")
                continue
            mask_path = None
            if record.get("mask_file"):
                mask_path, problem = entry_path(self.root, record["mask_file"], path,
                                                f"image {record_id!r} mask_file")
                if mask_path is None:
                    self.problems.append(problem)
                    continue
                if not mask_path.is_file():
                    self.problems.append(f"{mask_path}: mask of {image_path.name} is missing (skipped)")
                    continue
            annotations = sorted(by_image.get(record_id, []), key=_annotation_order)
            items.append(_Item(image_path.stem, image_path, mask_path, record, annotations))
        return items

    def _index_files(self) -> list[_Item]:
        images_dir = self.root / layout.IMAGES_DIR
        if not images_dir.is_dir():
            raise DataError(f"{self.root}: not an XRayCath folder (no {layout.IMAGES_DIR}/ folder)")
        pairing = pair_by_stem(images_dir, self.root / layout.MASKS_DIR, self.problems, self.root)
        self._indexed_keys.update(pairing.images)
        blobs = self._read_blob_csv(set(pairing.images)) if (self.root / layout.CSV_PATH).is_file() else None
        items = []
        for pair in pairing.pairs:
            item_blobs = None
            if blobs is not None:
                if pair.key in blobs.bad:
                    continue
                item_blobs = np.asarray(blobs.rows.get(pair.key, []), np.float32).reshape(-1, 3)
            items.append(_Item(pair.key, pair.image_path, pair.mask_path, blobs=item_blobs))
        return items

    def _read_blob_csv(self, image_keys: set[str]) -> _Blobs:
        path = self.root / layout.CSV_PATH
        blobs = _Blobs()
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
        with handle:
            reader = csv.DictReader(handle)
            try:
                columns = [c.strip() for c in (reader.fieldnames or [])]
            except UnicodeDecodeError:
                raise DataError(f"{path}: not UTF-8 text") from None
            except csv.Error as exc:
                raise DataError(f"{path}: malformed CSV header ({exc})") from None
            missing = [c for c in layout.CSV_COLUMNS if c not in columns]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}"
                )
            rows = enumerate(reader, start=2)
            while True:
                try:
                    line, row = next(rows)
                except StopIteration:
                    break
                except UnicodeDecodeError:
                    raise DataError(f"{path}: not UTF-8 text") from None
                except csv.Error as exc:
                    raise DataError(f"{path} line {reader.line_num}: malformed CSV ({exc})") from None
                if None in row:  # more cells than columns: DictReader gathers them under the key None
                    key = _strip_image_suffix(str(row.get("imageId") or ""))
                    if key in image_keys and key not in blobs.bad:
                        blobs.bad.add(key)
                        self.problems.append(f"{path} line {line}: more cells than the {len(columns)} columns "
                                             f"(image {key} skipped)")
                    elif key not in image_keys:
                        self.problems.append(f"{path} line {line}: more cells than the {len(columns)} columns "
                                             "(row ignored)")
                    continue
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                key = _strip_image_suffix(row["imageId"])
                if key not in image_keys:
                    self.problems.append(
                        f"{path} line {line}: image {row['imageId']!r} not found in {layout.IMAGES_DIR}/ "
                        "(electrode ignored)"
                    )
                    continue
                values, error = _parse_blob_row(row)
                if error:
                    if key not in blobs.bad:
                        blobs.bad.add(key)
                        self.problems.append(f"{path} line {line}: {error} (image {key} skipped)")
                    continue
                blobs.rows.setdefault(key, []).append(values)
        return blobs

    def _select_split(self, items: list[_Item], split: str | None) -> list[_Item]:
        if split is None:
            return items
        listing = self.root / layout.IMAGESETS_DIR / f"{split}.txt"
        if listing.is_file():
            wanted = [_strip_image_suffix(s) for s in read_split_listing(listing)]
            by_key = {item.key: item for item in items}
            selected = []
            for key in wanted:
                if key in by_key:
                    selected.append(by_key[key])
                elif key not in self._indexed_keys:
                    self.problems.append(
                        f"{listing}: lists {key!r} but {layout.IMAGES_DIR}/ has no such image"
                    )
            return selected
        json_splits = {
            str(item.record.get("split")) for item in items if item.record and item.record.get("split")
        }
        if split in json_splits:
            return [item for item in items if item.record and item.record.get("split") == split]
        found = sorted({Path(p).stem for p in self.split_files} | json_splits)
        raise DataError(
            f"{self.root}: no split {split!r} (no {layout.IMAGESETS_DIR}/{split}.txt); "
            f"found: {', '.join(found) or 'none'}"
        )

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._items)

    def source_of(self, index: int) -> str | None:
        return str(self._items[index].image_path)

    def keys(self) -> list[str]:
        """Image ids in reading order."""
        return [item.key for item in self._items]

    def read(self, index: int) -> Sample:
        item = self._items[index]
        image, mask = read_image_and_mask(item.image_path, item.mask_path)
        meta: dict[str, Any] = {"source": str(item.image_path), "dataset": self.name, "image_id": item.key}
        if self.split:
            meta["split"] = self.split
        if item.record is not None:
            try:
                return self._sample_from_annotations(item, image, mask, meta)
            except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as exc:
                source = self.root / layout.ANNOTATIONS_FILE
                raise DataError(f"{source}: malformed annotation of {item.image_path.name} ({exc})") from None
        electrodes = sizes = ids = None
        if item.blobs is not None:
            height, width = image.shape
            electrodes = np.stack([item.blobs[:, 0] * width, item.blobs[:, 1] * height], axis=1).astype(
                np.float32
            )
            side = layout.box_side_from_strength(item.blobs[:, 2], width)
            sizes = np.stack([side, side], axis=1).astype(np.float32)
            ids = np.full(len(electrodes), -1, np.int64)
            meta["strength"] = item.blobs[:, 2].copy()
        return Sample(image, mask, electrodes, sizes, ids, meta=meta)

    def _sample_from_annotations(
        self, item: _Item, image: np.ndarray, mask: np.ndarray | None, meta: dict[str, Any]
    ) -> Sample:
        record = item.record or {}
        height, width = image.shape
        for name in ("split", "sequence_id", "frame_index", "fps"):
            if record.get(name) is not None:
                meta[name] = record[name]
        if mask is None and any(a.get("segmentation") for a in item.annotations):
            mask = np.zeros((height, width), np.uint8)
            for annotation in item.annotations:
                if annotation.get("segmentation"):
                    mask |= _decode_rle(annotation["segmentation"], height, width, item.image_path)
        points, sizes, ids, types, centrelines, catheter_ids = [], [], [], [], [], []
        for position, annotation in enumerate(item.annotations):
            types.append(self._categories.get(int(annotation.get("category_id") or -1), "unknown"))
            catheter_id = annotation.get("catheter_id")
            catheter_ids.append(int(position if catheter_id is None else catheter_id))
            centrelines.append(np.asarray(annotation.get("centreline") or [], np.float32).reshape(-1, 2))
            keypoints = np.asarray(annotation.get("keypoints") or [], np.float32).reshape(-1, 3)
            visible = keypoints[:, 2] > 0
            count = int(visible.sum())
            points.append(keypoints[visible, :2])
            box = np.asarray(annotation.get("electrode_sizes") or [], np.float32).reshape(-1, 2)
            if len(box) == len(keypoints):
                box = box[visible]
            if len(box) != count:
                raise DataError(
                    f"{self.root / layout.ANNOTATIONS_FILE}: annotation {annotation.get('id')} has "
                    f"{count} keypoints but {len(box)} electrode_sizes"
                )
            sizes.append(box)
            ids.append(np.full(count, position, np.int64))
        meta["catheter_ids"] = catheter_ids
        if record.get("has_electrodes", True) is False:
            return Sample(image, mask, catheter_types=types, centrelines=centrelines, meta=meta)
        return Sample(
            image,
            mask,
            np.concatenate(points) if points else np.zeros((0, 2), np.float32),
            np.concatenate(sizes) if sizes else np.zeros((0, 2), np.float32),
            np.concatenate(ids) if ids else np.zeros((0,), np.int64),
            types,
            centrelines,
            meta,
        )


def _is_id(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool))


def _annotation_order(annotation: dict[str, Any]) -> tuple[tuple[int, float, str], ...]:
    # Sort by catheter then annotation id: numbers numerically, then any other JSON value by its text.
    def key(value: Any) -> tuple[int, float, str]:
        value = value or 0
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value) if abs(value) < 1e300 else math.inf  # huge JSON integers: no OverflowError
            if math.isfinite(number):
                return (0, number, "")
        return (1, 0.0, str(value)[:64])

    return key(annotation.get("catheter_id")), key(annotation.get("id"))


@dataclass
class _Blobs:
    rows: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)


def _parse_blob_row(row: dict[str, str]) -> tuple[tuple[float, float, float], str | None]:
    values = []
    for column in ("Center X", "Center Y", "Strength"):
        text = row.get(column, "")
        try:
            value = float(text)
        except ValueError:
            return (0.0, 0.0, 0.0), f"{column} {text!r} is not a number"
        if not math.isfinite(value):
            return (0.0, 0.0, 0.0), f"{column} {text!r} is not a finite number"
        if column != "Strength" and not 0.0 <= value <= 1.0:
            return (0.0, 0.0, 0.0), f"{column} {value:g} is outside [0, 1] (coordinates are normalised)"
        if column == "Strength" and value < 0.0:
            return (0.0, 0.0, 0.0), f"Strength {value:g} is negative"
        values.append(value)
    return (values[0], values[1], values[2]), None


def _decode_rle(segmentation: Any, height: int, width: int, image_path: Path) -> np.ndarray:
    from pycocotools import mask as mask_utils

    try:
        if isinstance(segmentation, dict):
            rle = dict(segmentation)
            if isinstance(rle.get("counts"), list):
                rle = mask_utils.frPyObjects(rle, height, width)
            elif isinstance(rle.get("counts"), str):
                rle["counts"] = rle["counts"].encode("ascii")
            decoded = mask_utils.decode(rle)
        else:  # polygons
            decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width)))
    except Exception as exc:  # pycocotools raises bare Exceptions on malformed RLE
        raise DataError(f"{image_path}: cannot decode its segmentation in annotations.json ({exc})") from None
    if decoded.shape[:2] != (height, width):
        raise DataError(
            f"{image_path}: segmentation size {decoded.shape[:2]} differs from image {(height, width)}"
        )
    return (decoded > 0).astype(np.uint8)


def _strip_image_suffix(name: str) -> str:
    """The image key of a listed name: its file name without folders or image suffix."""
    return Path(drop_image_suffix(name)).name


def _resolve_split_folder(root: Path, split: str | None) -> tuple[Path, str | None]:
    """Accept the CathMTL code's XRayCath/{trainval,test}/ parent as well as a layout folder."""
    if (root / layout.IMAGES_DIR).is_dir() or (root / layout.ANNOTATIONS_FILE).is_file():
        return root, split
    children = sorted(p for p in root.iterdir() if p.is_dir() and (p / layout.IMAGES_DIR).is_dir())
    if not children:
        return root, split
    if split is not None:
        for child in children:
            if child.name == split:
                return child, None
        for child in children:
            if (child / layout.IMAGESETS_DIR / f"{split}.txt").is_file():
                return child, split
    names = ", ".join(child.name for child in children)
    raise DataError(f"{root}: holds several XRayCath folders ({names}); pass --split with one of them")
