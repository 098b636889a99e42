"""Reader for the Duke retinal OCT data (a segmentation-only pretraining source).

Two forms are read:

* MATLAB volumes (``Subject_01.mat`` ...) as released: ``images`` (H, W, N) uint8 B-scans,
  ``manualLayers1`` (L, W, N) layer boundary rows (NaN where not traced), ``manualFluid1``
  (H, W, N) fluid labels. MATLAB v7.3 files (HDF5 inside) are read with h5py (axes reversed).
  Only B-scans with traced layers are labelled; each becomes a sample whose mask is the retina,
  the pixels between the first and the last traced boundary of each column.
* NumPy pairs: ``<dir>/{img,images,image}/<stem>.npy`` with ``<dir>/{mask,masks,label,labels}/<stem>.npy``
  (2-D arrays; mask = label > 0), as in preprocessed releases.

``split`` picks ROOT/<split>/ (train, val, test) when such folders exist.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cathx.data.formats.base import Reader, files_below
from cathx.data.formats.imageio import binarize_mask, to_unit_float
from cathx.data.formats.limits import check_frame_count, check_frame_size
from cathx.errors import DataError
from cathx.structures import Sample

IMAGE_DIRS = ("img", "images", "image")
LABEL_DIRS = ("mask", "masks", "label", "labels")
IMAGES_KEY = "images"
LAYERS_KEY = "manualLayers1"
FLUID_KEY = "manualFluid1"


@dataclass
class _Entry:
    path: Path
    frame: int | None = None  # B-scan index in a .mat volume; None for a .npy pair
    label_path: Path | None = None


class DukeReader(Reader):
    """Lazy reader of Duke OCT .mat volumes or .npy image/label pairs."""

    name = "duke"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, split)
        root = self.root
        self._cache: OrderedDict[Path, dict[str, np.ndarray]] = OrderedDict()
        self.unlabelled_frames = 0
        base = root
        if split is not None:
            if root.is_file() or not (root / split).is_dir():
                found = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
                raise DataError(f"{root}: no split folder {split!r}; found: {', '.join(found) or 'none'}")
            base = root / split
        self._entries: list[_Entry] = []
        if base.is_file():
            if base.suffix.lower() != ".mat":
                raise DataError(
                    f"{base}: a lone .npy is not a Duke dataset; point at the folder holding img/ and mask/"
                )
            self._index_mat(base, single=True)
        else:
            mats = files_below(base, lambda p: p.name.endswith(".mat"), self.problems)
            for path in mats:
                self._index_mat(path, single=False)
            self._index_npy(base)
            if not self._entries and not self.problems:
                if not any(base.iterdir()):
                    raise DataError(f"{base}: folder is empty")
                raise DataError(f"{base}: no Duke .mat volumes or img/ + mask/ .npy pairs found")

    # ---------------------------------------------------------------- indexing
    def _index_mat(self, path: Path, single: bool) -> None:
        try:
            if path.stat().st_size == 0:
                raise DataError(f"{path}: file is empty (0 bytes)")
            names = _mat_variables(path)
            if IMAGES_KEY not in names:
                raise DataError(
                    f"{path}: no variable {IMAGES_KEY!r} (found: {', '.join(sorted(names)) or 'none'})"
                )
            if LAYERS_KEY not in names:
                raise DataError(f"{path}: no variable {LAYERS_KEY!r}: no labels to read")
            check_volume_shapes(path, names[IMAGES_KEY], names[LAYERS_KEY])  # before anything is loaded
            layers = _load_mat(path, (LAYERS_KEY,))[LAYERS_KEY]
        except DataError as exc:
            if single:
                raise
            self.problems.append(f"{exc} (skipped)")
            return
        frames = layers.shape[2] if layers.ndim == 3 else 1
        for frame in range(frames):
            boundaries = layers[:, :, frame] if layers.ndim == 3 else layers
            if np.isfinite(boundaries).any() and np.nanmax(boundaries) > 0:
                self._entries.append(_Entry(path, frame))
            else:
                self.unlabelled_frames += 1

    def _index_npy(self, base: Path) -> None:
        for image_dir in sorted(p for p in base.rglob("*") if p.is_dir() and p.name in IMAGE_DIRS):
            label_dir = next(
                (image_dir.parent / n for n in LABEL_DIRS if (image_dir.parent / n).is_dir()), None
            )
            images = {p.stem: p for p in sorted(image_dir.glob("*.npy"))}
            labels = {p.stem: p for p in sorted(label_dir.glob("*.npy"))} if label_dir else {}
            for stem, path in images.items():
                if stem not in labels:
                    self.problems.append(
                        f"{path}: no label .npy in {label_dir or image_dir.parent} (skipped)"
                    )
                    continue
                self._entries.append(_Entry(path, None, labels[stem]))
            for stem, path in labels.items():
                if stem not in images:
                    self.problems.append(f"{path}: label has no image in {image_dir} (skipped)")

    # ---------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._entries)

    def read(self, index: int) -> Sample:
        entry = self._entries[index]
        meta: dict[str, Any] = {"source": str(entry.path), "dataset": self.name}
        if self.split:
            meta["split"] = self.split
        if entry.frame is None:
            image = _load_npy(entry.path)
            label = _load_npy(entry.label_path)
            if image.shape != label.shape:
                raise DataError(
                    f"{entry.label_path}: label size {label.shape} differs from image {image.shape}"
                )
            return Sample(to_unit_float(image), binarize_mask(label > 0), meta=meta)
        arrays = self._volume(entry.path)
        images = arrays[IMAGES_KEY]
        image = images[:, :, entry.frame] if images.ndim == 3 else images
        layers = arrays[LAYERS_KEY]
        boundaries = layers[:, :, entry.frame] if layers.ndim == 3 else layers
        meta["frame_index"] = entry.frame
        meta["sequence_id"] = entry.path.stem
        return Sample(
            to_unit_float(np.ascontiguousarray(image)), retina_mask(boundaries, image.shape[0]), meta=meta
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)  # workers decode their own volumes: do not copy the cached one
        state["_cache"] = OrderedDict()
        return state

    def _volume(self, path: Path) -> dict[str, np.ndarray]:
        # Keep one decoded volume: samples are read volume by volume in order.
        if path not in self._cache:
            self._cache.clear()
            self._cache[path] = _load_mat(path, (IMAGES_KEY, LAYERS_KEY))
        return self._cache[path]


def retina_mask(boundaries: np.ndarray, height: int) -> np.ndarray:
    """(L, W) boundary rows (NaN = untraced) -> (height, W) uint8 mask between first and last boundary."""
    boundaries = np.asarray(boundaries, np.float64)
    width = boundaries.shape[1]
    mask = np.zeros((height, width), np.uint8)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(boundaries) & (boundaries > 0)
    rows = np.arange(height)[:, None]
    top = np.where(valid, boundaries, np.inf).min(axis=0)
    bottom = np.where(valid, boundaries, -np.inf).max(axis=0)
    traced = valid.sum(axis=0) >= 2
    inside = (rows >= np.round(top)[None, :]) & (rows <= np.round(bottom)[None, :]) & traced[None, :]
    mask[inside] = 1
    return mask


# MATLAB classes of numeric arrays (whosmat's third field); a cell array or struct is no volume.
NUMERIC_CLASSES = frozenset({"double", "single", "logical", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                             "int64", "uint64"})


def _mat_variables(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """{name: (shape, MATLAB class)} of a .mat file's variables, without loading its arrays (shapes
    in MATLAB's order, as loadmat returns the arrays)."""
    import scipy.io

    try:
        return {name: (tuple(int(n) for n in shape), str(kind)) for name, shape, kind in scipy.io.whosmat(path)}
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        import h5py

        try:
            with h5py.File(path, "r") as handle:
                found = {}
                for name, item in handle.items():
                    if isinstance(item, h5py.Dataset):  # h5py sees MATLAB's axes reversed
                        kind = "double" if item.dtype.kind == "f" else ("uint8" if item.dtype.kind in "iub" else "other")
                        found[name] = (tuple(int(n) for n in item.shape[::-1]), kind)
                    else:
                        found[name] = ((), "struct")
                return found
        except OSError as exc:
            raise DataError(f"{path}: not a readable MATLAB v7.3 file ({exc})") from None
    except Exception as exc:  # scipy raises MatReadError, ValueError, OSError, TypeError...
        raise _unreadable_mat(path, exc) from None


def check_volume_shapes(path: Path, images: tuple[tuple[int, ...], str], layers: tuple[tuple[int, ...], str]
                        ) -> None:
    """DataError naming ``path`` unless ``images`` (H, W[, N]) and ``manualLayers1`` (L, W[, N]),
    each given as (shape, MATLAB class), are numeric arrays of one width and frame count within
    the frame limits (CATHX_MAX_IMAGE_SIDE, CATHX_MAX_FRAMES). Checked from the file's header: a
    mismatch read later paired every frame's mask with one image, or failed with an IndexError."""
    for name, (shape, kind) in ((IMAGES_KEY, images), (LAYERS_KEY, layers)):
        if kind not in NUMERIC_CLASSES:
            raise DataError(f"{path}: {name!r} is a MATLAB {kind}, not a numeric array")
        if len(shape) not in (2, 3):
            raise DataError(f"{path}: {name!r} has shape {shape}; expected (rows, width) or (rows, width, frames)")
    (image_shape, _), (layer_shape, _) = images, layers
    check_frame_size(path, image_shape[1], image_shape[0], f"{IMAGES_KEY!r}")
    image_frames = image_shape[2] if len(image_shape) == 3 else 1
    layer_frames = layer_shape[2] if len(layer_shape) == 3 else 1
    check_frame_count(path, image_frames, f"{IMAGES_KEY!r}")
    if layer_shape[1] != image_shape[1] or layer_frames != image_frames:
        raise DataError(f"{path}: {LAYERS_KEY!r} of shape {layer_shape} does not match {IMAGES_KEY!r} of shape "
                        f"{image_shape} (same width and frame count expected)")


def _unreadable_mat(path: Path, exc: BaseException) -> DataError:
    return DataError(f"{path}: not a readable .mat file ({str(exc).strip() or type(exc).__name__})")


def _load_mat(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    import scipy.io

    try:
        return {
            k: v
            for k, v in scipy.io.loadmat(path, variable_names=list(names)).items()
            if not k.startswith("__")
        }
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        return _load_mat_v73(path, names)
    except Exception as exc:  # scipy raises MatReadError, ValueError, OSError, TypeError...
        raise _unreadable_mat(path, exc) from None


def _load_mat_v73(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            # h5py sees MATLAB's column-major arrays with their axes reversed.
            return {name: np.asarray(handle[name]).T for name in names if name in handle}
    except OSError as exc:
        raise DataError(f"{path}: not a readable MATLAB v7.3 file ({exc})") from None


def _load_npy(path: Path | None) -> np.ndarray:
    assert path is not None
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc})") from None
    array = np.squeeze(array)
    if array.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array, got shape {array.shape}")
    return array
