"""Reader for the UCL CatheterSegmentationData release: HDF5 volumes, or their extracted folders.

HDF5 layout (each image file has a ``<stem>_label.<suffix>`` partner holding key ``label``)::

    Phantom/Phantom.hdf5   key 'test'         Phantom/Phantom_label.hdf5  key 'label'
    T1T2/T1T2.hdf5         key 'train_img'    T1T2/T1T2_label.hdf5        key 'label'
    T3-T6/T3-T6.hdf5       key 'test'         T3-T6/T3-T6_label.hdf5      key 'label'

Frames are stacked on the first axis: (N, H, W), (N, H, W, 1|3) or (N, 1, H, W). Frames are read
one at a time through h5py (never the whole volume); file handles are opened lazily per process,
so the reader can be handed to DataLoader workers. ``split`` is a file stem (Phantom, T1T2, T3-T6)
or 'train' / 'test' (the files whose image key is 'train_img' / 'test').

Extracted variant: ROOT/<group>/images + masks folders, read with the generic folder reader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cathx.data.formats.base import Reader, files_below
from cathx.data.formats.folder import FolderReader
from cathx.data.formats.imageio import binarize_mask, to_grey, to_unit_float
from cathx.data.formats.limits import check_frame_count, check_frame_size
from cathx.errors import DataError
from cathx.structures import Sample

UCL_GROUPS = ("Phantom", "T1T2", "T3-T6")
IMAGE_KEYS = ("train_img", "test")
LABEL_KEY = "label"
HDF5_SUFFIXES = (".hdf5", ".h5")
_SPLIT_KEYS = {"train": "train_img", "test": "test"}


@dataclass
class _Volume:
    image_path: Path
    image_key: str
    label_path: Path | None
    frames: int
    layout: str  # "nhw", "nhwc" or "nchw"
    label_layout: str = "nhw"  # the label volume's own (a (N,1,H,W) image may come with (N,H,W) labels)


class UCLReader(Reader):
    """Lazy reader of UCL HDF5 volumes (a file, a group folder or the release root)."""

    name = "ucl"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, split)
        root = self.root
        self._handles: dict[Path, Any] = {}
        self._pid = os.getpid()
        self._folder: FolderReader | None = None
        if root.is_file():
            paths = [root]
        else:
            paths = files_below(root, lambda p: p.suffix.lower() in HDF5_SUFFIXES and not p.stem.endswith("_label"),
                                self.problems)
            if not paths:
                if not any(root.iterdir()):
                    raise DataError(f"{root}: folder is empty")
                self._folder = FolderReader(root, split)
                self._folder.name = self.name
                self.problems = self._folder.problems
                self.split_files = self._folder.split_files
                return
        self._volumes: list[_Volume] = []
        errors = []
        for path in paths:
            try:
                volume = self._index_checked(path)
            except DataError as exc:
                if root.is_file():
                    raise
                errors.append(str(exc))
                self.problems.append(f"{exc} (skipped)")
                continue
            if (
                split is None
                or split in (path.stem, path.parent.name)
                or _SPLIT_KEYS.get(split) == volume.image_key
            ):
                self._volumes.append(volume)
        if not self._volumes:
            if errors:
                raise DataError(errors[0])
            found = sorted({p.stem for p in paths} | {"train", "test"})
            raise DataError(f"{root}: no HDF5 volume for split {split!r}; choose from {', '.join(found)}")
        self._starts = np.cumsum([0] + [v.frames for v in self._volumes])

    def _index_checked(self, path: Path) -> _Volume:
        try:
            return self._index(path)
        except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:  # a damaged HDF5 structure
            raise DataError(f"{path}: damaged HDF5 file ({_short(exc)})") from None

    def _index(self, path: Path) -> _Volume:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty (0 bytes)")
        handle = self._open(path)
        key = next((k for k in IMAGE_KEYS if k in handle), None)
        if key is None:
            raise DataError(
                f"{path}: no image dataset {' or '.join(map(repr, IMAGE_KEYS))} "
                f"(keys found: {', '.join(sorted(handle.keys())) or 'none'})"
            )
        _check_local(handle, key, path)
        images = handle[key]
        layout = _frame_layout(images.shape, path, key)
        _check_volume(images, path, key, layout)
        label_path = path.with_name(f"{path.stem}_label{path.suffix}")
        if not label_path.is_file():
            self.problems.append(f"{path}: no label file {label_path.name}; frames read without masks")
            return _Volume(path, key, None, int(images.shape[0]), layout)
        labels_file = self._open(label_path)
        if LABEL_KEY not in labels_file:
            found = ", ".join(sorted(labels_file.keys())) or "none"
            raise DataError(f"{label_path}: no dataset {LABEL_KEY!r} (keys found: {found})")
        _check_local(labels_file, LABEL_KEY, label_path)
        labels = labels_file[LABEL_KEY]
        if labels.shape[0] != images.shape[0]:
            raise DataError(
                f"{label_path}: {labels.shape[0]} labels for {images.shape[0]} images in {path.name}"
            )
        label_layout = _frame_layout(labels.shape, label_path, LABEL_KEY)
        _check_volume(labels, label_path, LABEL_KEY, label_layout)
        return _Volume(path, key, label_path, int(images.shape[0]), layout, label_layout)

    def _open(self, path: Path) -> Any:
        import h5py

        if self._pid != os.getpid():  # forked into a worker: h5py handles must not be shared
            self._handles = {}
            self._pid = os.getpid()
        handle = self._handles.get(path)
        if handle is None:
            try:
                handle = h5py.File(path, "r")
            except OSError as exc:
                raise DataError(f"{path}: not a readable HDF5 file ({_short(exc)})") from None
            self._handles[path] = handle
        return handle

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state

    def close(self) -> None:
        """Close the HDF5 files this process opened."""
        for handle in self._handles.values():
            handle.close()
        self._handles = {}

    def __len__(self) -> int:
        if self._folder is not None:
            return len(self._folder)
        return int(self._starts[-1])

    def source_of(self, index: int) -> str | None:
        return self._folder.source_of(index) if self._folder is not None else None

    def read(self, index: int) -> Sample:
        if self._folder is not None:
            return self._folder.read(index)
        volume_index = int(np.searchsorted(self._starts, index, side="right") - 1)
        volume = self._volumes[volume_index]
        frame = index - int(self._starts[volume_index])
        try:
            raw = self._open(volume.image_path)[volume.image_key][frame]
            image = to_unit_float(_as_frame(raw, volume.layout))
            mask = None
            if volume.label_path is not None:
                label = self._open(volume.label_path)[LABEL_KEY][frame]
                mask = binarize_mask(_as_frame(label, volume.label_layout))
        except DataError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
            raise DataError(f"{volume.image_path}: cannot read frame {frame} ({_short(exc)})") from None
        if mask is not None and mask.shape != image.shape:
            raise DataError(
                f"{volume.label_path}: label {frame} size {mask.shape} differs from image {image.shape}"
            )
        meta = {
            "source": str(volume.image_path),
            "dataset": self.name,
            "group": volume.image_path.stem,
            "frame_index": frame,
        }
        if self.split:
            meta["split"] = self.split
        return Sample(image, mask, meta=meta)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _frame_layout(shape: tuple[int, ...], path: Path, key: str) -> str:
    if len(shape) == 3:
        return "nhw"
    if len(shape) == 4 and shape[-1] in (1, 3):
        return "nhwc"
    if len(shape) == 4 and shape[1] in (1, 3):
        return "nchw"
    raise DataError(
        f"{path}: dataset {key!r} has shape {shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W)"
    )


def _check_local(handle: Any, key: str, path: Path) -> None:
    """Refuse a dataset whose pixels live in another file: an external link, external raw storage
    or a virtual dataset could make cathx read any file of the system as an image."""
    import h5py

    if isinstance(handle.get(key, getlink=True), h5py.ExternalLink):
        raise DataError(f"{path}: {key!r} is an external link to another file, not a dataset stored in this "
                        "file; refused")
    dataset = handle[key]
    if not isinstance(dataset, h5py.Dataset):
        raise DataError(f"{path}: {key!r} is a {type(dataset).__name__}, not a dataset")
    if dataset.external or dataset.is_virtual:
        raise DataError(f"{path}: dataset {key!r} keeps its data in other files (external storage or a virtual "
                        "dataset); refused")


def _check_volume(dataset: Any, path: Path, key: str, layout: str) -> None:
    """Refuse, from the HDF5 metadata alone, pixel types cathx cannot scale and declared sizes above
    the limits (an HDF5 dataset may declare any shape without storing its chunks)."""
    if getattr(dataset, "dtype", None) is None or dataset.dtype.kind not in "biuf":
        raise DataError(f"{path}: dataset {key!r} holds {dataset.dtype} values; expected numbers")
    shape = tuple(int(v) for v in dataset.shape)
    height, width = shape[2:4] if layout == "nchw" else shape[1:3]
    check_frame_size(path, width, height, f"dataset {key!r}")
    check_frame_count(path, shape[0], f"dataset {key!r}")


def _as_frame(raw: np.ndarray, layout: str) -> np.ndarray:
    array = np.asarray(raw)
    if layout == "nchw":
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3:
        if array.shape[2] == 3 and array.dtype == np.float64:
            array = array.astype(np.float32)
        array = to_grey(np.ascontiguousarray(array)) if array.shape[2] == 3 else array[:, :, 0]
    return array
