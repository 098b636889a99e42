"""One reader per on-disk format, each returning cathx.structures.Sample.

``open_dataset(path)`` detects the format (or takes ``format=``) and returns a lazy Reader: a
``Sequence[Sample]`` with ``.name``, ``.problems`` (every skipped sample or inconsistency, one line
each) and ``.iter_frames()``. Heavy libraries (pydicom, h5py, scipy.io) are imported only when
their reader is used, so importing this package stays cheap for the CLI.
"""

from __future__ import annotations

from pathlib import Path

from cathx.data.formats import xraycath_layout as layout
from cathx.data.formats.base import FrameReader, Reader, require_path
from cathx.data.formats.dicom import DicomReader, is_dicom_file
from cathx.data.formats.duke import DukeReader
from cathx.data.formats.folder import FolderReader
from cathx.data.formats.imageio import IMAGE_SUFFIXES
from cathx.data.formats.ucl import UCL_GROUPS, UCLReader
from cathx.data.formats.video import VIDEO_SUFFIXES, VideoReader
from cathx.data.formats.xraycath import XRayCathReader
from cathx.errors import DataError

__all__ = ["FORMATS", "FrameReader", "Reader", "detect_format", "open_dataset", "recognise_format"]

FORMATS: dict[str, type[Reader]] = {
    "xraycath": XRayCathReader,
    "folder": FolderReader,
    "ucl": UCLReader,
    "duke": DukeReader,
    "dicom": DicomReader,
    "video": VideoReader,
}

HDF5_SUFFIXES = (".hdf5", ".h5")
DUKE_SUFFIXES = (".mat", ".npy")
DICOM_SUFFIXES = (".dcm", ".dicom")


def open_dataset(path: Path | str, split: str | None = None, format: str | None = None) -> Reader:
    """Open ``path`` with the reader of ``format`` (detected when None). Raises DataError."""
    name = format or detect_format(path)
    try:
        reader_class = FORMATS[name]
    except KeyError:
        raise DataError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}") from None
    return reader_class(path, split=split)


def detect_format(path: Path | str) -> str:
    """Name of the format of ``path`` (a key of FORMATS), from its layout and file types."""
    name = recognise_format(path)
    if name is None:
        raise DataError(f"{path}: cannot tell the data format; pass --format with one of {', '.join(FORMATS)}")
    return name


def recognise_format(path: Path | str) -> str | None:
    """Name of the format of ``path`` (a key of FORMATS), or None when nothing in it is recognised.

    DataError (one line with a hint) for a missing path, an empty folder, a single image file and
    a folder of loose images: the cases a caller may read its own way (``cathx predict`` does)."""
    path = require_path(path)
    if path.is_file():
        return _detect_file(path)
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if not entries:
        raise DataError(f"{path}: folder is empty")
    if (path / layout.ANNOTATIONS_FILE).is_file() or (path / layout.CSV_PATH).is_file():
        return "xraycath"
    if (path / layout.IMAGES_DIR).is_dir():
        if (path / layout.IMAGESETS_DIR).is_dir() and (path / layout.MASKS_DIR).is_dir():
            return "xraycath"
        return "folder"
    children = [p for p in entries if p.is_dir()]
    with_images = [c for c in children if (c / layout.IMAGES_DIR).is_dir()]
    if with_images:
        if any(c.name in UCL_GROUPS for c in with_images):
            return "ucl"
        if any(
            (c / layout.CSV_PATH).is_file() or (c / layout.ANNOTATIONS_FILE).is_file() for c in with_images
        ):
            return "xraycath"
        return "folder"
    files = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    suffixes = {p.suffix.lower() for p in files}
    if suffixes & set(HDF5_SUFFIXES):
        return "ucl"
    if suffixes & set(DUKE_SUFFIXES):
        return "duke"
    if suffixes & set(DICOM_SUFFIXES) or any(is_dicom_file(p) for p in files[:20]):
        return "dicom"
    if suffixes & set(VIDEO_SUFFIXES):
        return "video"
    if suffixes & set(IMAGE_SUFFIXES):
        raise DataError(
            f"{path}: holds images but no {layout.IMAGES_DIR}/ folder; put them in "
            f"{path}/{layout.IMAGES_DIR}/ (and masks in {path}/{layout.MASKS_DIR}/)"
        )
    return None


def _detect_file(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        return "ucl"
    if suffix in DUKE_SUFFIXES:
        return "duke"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in DICOM_SUFFIXES or is_dicom_file(path):
        return "dicom"
    if suffix in IMAGE_SUFFIXES:
        raise DataError(f"{path}: a single image is not a dataset; point at its folder's parent")
    return None
