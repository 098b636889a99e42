"""Preprocessing cache: studies resized once and stored as memory-mapped ``.npy`` arrays.

Decoding and resizing full-size radiographs dominates an epoch on CPU, so, as in the seed's
``preproc_npy`` step, every study is resized once and stored; training then reads slices of
memory-mapped arrays. A cache folder holds::

    images.npy     (N, S, S) uint8   radiographs, dense = bright
    lines.npy      (N, S, S) uint8   line masks, bit k set where device group k (GROUPS order) lies
    labels.npy     (N, 11) float32   LABELS order
    annotated.npy  (N,) bool         whether the study has line annotations
    meta.json      uids, patient ids, size, source and its fingerprint
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cathx.data.chest.ranzcr import CSV_FILE, GROUPS, IMAGES_DIR, LABELS, RanzcrReader
from cathx.errors import DataError
from cathx.fileio import atomic_write_json
from cathx.structures import Sample

log = logging.getLogger(__name__)
CACHE_VERSION = 1


def pack_line_masks(masks: np.ndarray) -> np.ndarray:
    """(G, H, W) {0, 1} -> (H, W) uint8 with bit g set where channel g is 1."""
    packed = np.zeros(masks.shape[1:], np.uint8)
    for group, mask in enumerate(masks):
        packed |= (mask.astype(np.uint8) & 1) << group
    return packed


def unpack_line_masks(packed: np.ndarray, groups: int = len(GROUPS)) -> np.ndarray:
    """Inverse of pack_line_masks: (..., H, W) uint8 -> (..., G, H, W) uint8 {0, 1}."""
    return np.stack([(packed >> g) & 1 for g in range(groups)], axis=-3).astype(np.uint8)


@dataclass
class ChestCache:
    """Opened cache: memory-mapped arrays plus study ids."""

    path: Path
    images: np.ndarray
    lines: np.ndarray
    labels: np.ndarray
    annotated: np.ndarray
    uids: list[str]
    patient_ids: list[str]
    size: int

    def __len__(self) -> int:
        return len(self.uids)

    @classmethod
    def open(cls, path: Path | str) -> ChestCache:
        path = Path(path)
        try:
            meta = json.loads((path / "meta.json").read_text())
            arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r")
                      for name in ("images", "lines", "labels", "annotated")}
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable chest cache ({exc})") from None
        if meta.get("version") != CACHE_VERSION or list(meta.get("labels", [])) != list(LABELS):
            raise DataError(f"{path}: chest cache of another version; delete it to rebuild")
        return cls(path, arrays["images"], arrays["lines"], arrays["labels"], arrays["annotated"],
                   list(meta["uids"]), list(meta["patient_ids"]), int(meta["size"]))


def write_cache(samples: Sequence[Sample], path: Path | str, size: int, source: str = "",
                fingerprint: str = "") -> ChestCache:
    """Write ``samples`` (already ``size`` x ``size``, meta with uid, patient_id, labels, line_masks).

    The arrays are filled through ``np.lib.format.open_memmap`` in a temporary sibling folder that
    is renamed onto ``path`` at the end, so a half-built cache is never opened.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        n = len(samples)
        images = np.lib.format.open_memmap(tmp / "images.npy", "w+", np.uint8, (n, size, size))
        lines = np.lib.format.open_memmap(tmp / "lines.npy", "w+", np.uint8, (n, size, size))
        labels = np.zeros((n, len(LABELS)), np.float32)
        annotated = np.zeros(n, bool)
        uids, patients = [], []
        for i in range(n):
            sample = samples[i]
            if sample.image.shape != (size, size):
                raise ValueError(f"sample {i} is {sample.image.shape}, expected {(size, size)}")
            images[i] = np.round(sample.image * 255).astype(np.uint8)
            lines[i] = pack_line_masks(sample.meta["line_masks"])
            labels[i] = sample.meta["labels"]
            annotated[i] = bool(sample.meta.get("annotated", sample.mask is not None))
            uids.append(sample.meta["uid"])
            patients.append(sample.meta["patient_id"])
        images.flush()
        lines.flush()
        del images, lines
        np.save(tmp / "labels.npy", labels)
        np.save(tmp / "annotated.npy", annotated)
        atomic_write_json(tmp / "meta.json", {"version": CACHE_VERSION, "size": size, "labels": list(LABELS),
                                              "source": source, "fingerprint": fingerprint,
                                              "uids": uids, "patient_ids": patients})
        if path.exists():
            # Only ever replace an earlier cache, never some other folder of the user's.
            if not (path / "meta.json").is_file():
                raise DataError(f"{path}: exists and is not a chest cache; choose another cache folder")
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ChestCache.open(path)


def source_fingerprint(root: Path) -> str:
    """Changes when train.csv, the annotations or any radiograph in ``train/`` changes (name, size
    and modification time: a study re-exported under the same name must not be trained on from
    its stale cached copy). One directory listing, no file is read: a few hundred ms for RANZCR's
    30,000 studies."""
    parts = []
    for name in (CSV_FILE, "train_annotations.csv"):
        file = root / name
        if file.is_file():
            stat = file.stat()
            parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    images = root / IMAGES_DIR
    if images.is_dir():
        with os.scandir(images) as entries:
            stats = sorted((entry.name, entry.stat()) for entry in entries if entry.is_file())
        parts.extend(f"{name}:{stat.st_size}:{stat.st_mtime_ns}" for name, stat in stats)
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def cached_dataset(root: Path | str, size: int, cache_dir: Path | str | None = None) -> ChestCache:
    """Open the cache of RANZCR folder ``root`` at ``size`` px, building it on first use.

    The cache lives in ``cache_dir`` (default ``ROOT/.cathx-cache``) under a name holding the size
    and a fingerprint of the CSV files and the radiographs (``source_fingerprint``), so edited
    labels or replaced images trigger a rebuild.
    """
    root = Path(root)
    reader = RanzcrReader(root, size=size)  # checks the folder before anything is written
    fingerprint = source_fingerprint(root)
    folder = Path(cache_dir) if cache_dir else _default_cache_folder(root)
    path = folder / f"ranzcr-{size}px-{fingerprint}"
    if (path / "meta.json").is_file():
        cache = ChestCache.open(path)
        if len(cache) == len(reader):
            return cache
    log.info("building chest cache %s (%d studies at %d px)", path, len(reader), size)
    try:
        return write_cache(reader, path, size, source=str(root.resolve()), fingerprint=fingerprint)
    except PermissionError as exc:
        raise DataError(f"{path}: cannot write the chest cache here ({exc.strerror}); set data.cache_dir "
                        "to a writable folder") from None


def _default_cache_folder(root: Path) -> Path:
    """ROOT/.cathx-cache, or, when the dataset folder cannot be written (a read-only share), a
    folder of the user's cache (XDG_CACHE_HOME or ~/.cache) named after the dataset's path."""
    folder = root / ".cathx-cache"
    try:
        folder.mkdir(exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-")
        probe.close()
        return folder
    except OSError:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        fallback = base / "cathx" / "chest" / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
        log.warning("%s cannot be written; the chest cache goes to %s", root, fallback)
        return fallback
