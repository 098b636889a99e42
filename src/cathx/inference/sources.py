"""What `cathx predict` reads: an image, a folder of images, a video, a DICOM file or a folder of
DICOM, or a dataset (its images/ folders, or the frames of its reader).

``open_source(path)`` looks at the path and the files' names and headers only (cheap), recognising
everything but loose images through cathx.data.formats.recognise_format, and returns a Source whose
``frames()`` decodes lazily, one frame at a time, through the readers of cathx.data.formats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cathx.errors import DataError

KINDS: tuple[str, ...] = ("image", "folder", "video", "dicom", "dataset", "stack")
SEQUENCE_KINDS: tuple[str, ...] = ("video", "dicom", "stack")  # one time series: tracked, a video and a motion curve


@dataclass
class Frame:
    """One decoded frame: image as an array (any dtype/channels; the Predictor converts) and meta
    with at least ``name`` (unique, file-name safe) and ``frame`` (0-based position in the source)."""

    image: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Source:
    """A frame source. kind: one of KINDS ("dataset": the frames of a dataset's reader; "stack":
    the pages of a multi-page TIFF, read as a sequence); sequence: frames belong to one time series
    (video, multi-frame DICOM, DICOM series, TIFF stack): an MP4 and a motion curve are written for it."""

    path: Path
    kind: str
    length: int
    sequence: bool
    fps: float | None = None
    problems: list[str] = field(default_factory=list)
    sequences: int = 1  # distinct time series (a folder of videos: one per video), each tracked on its own
    _files: list[Path] = field(default_factory=list)
    _reader: Any = None

    def frames(self) -> Iterator[Frame]:
        """Decode frames in order, one at a time."""
        if self.kind in ("image", "folder"):
            from cathx.data.formats.imageio import decode_image_and_depth, to_grey

            names = output_names(self._files)
            for index, path in enumerate(self._files):
                try:
                    stored, bits_stored = decode_image_and_depth(path)
                    image = to_grey(stored)  # cv2 decodes colour as BGR
                except ValueError as exc:
                    raise DataError(f"{path}: {exc}") from None
                yield Frame(image, {"name": names[index], "frame": index, "source": str(path),
                                    "bits_stored": bits_stored})
            return
        if self.kind == "stack":
            from cathx.data.formats.imageio import decode_tiff_page, to_grey

            path = self._files[0]
            for page in range(self.length):
                try:
                    image = to_grey(decode_tiff_page(path, page))
                except ValueError as exc:
                    raise DataError(f"{path}: page {page}: {exc}") from None
                yield Frame(image, {"name": f"{path.stem}_{page:05d}", "frame": page, "source": str(path),
                                    "bits_stored": None, "sequence": str(path), "sequence_label": path.stem})
            return
        names: set[str] = set()
        labels: dict[str, str] = {}  # sequence id -> its unique, file-name-safe label
        for index, sample in enumerate(self._reader.iter_frames()):
            source = Path(str(sample.meta.get("source", self.path)))
            local = int(sample.meta.get("frame_index", index))
            sequence = str(sample.meta.get("sequence_id") or source)
            if sequence not in labels:
                labels[sequence] = unique_name(source.stem, source, set(labels.values()))
            meta = {"name": unique_name(f"{source.stem}_{local:05d}", source, names), "frame": index,
                    "source": str(source), "fps": sample.meta.get("fps"), "sequence": sequence,
                    "sequence_label": labels[sequence]}
            yield Frame(sample.image, meta)


def unique_name(name: str, source: Path, taken: set[str]) -> str:
    """``name``, or, when ``taken`` holds it (two videos called run.mp4 in two folders, IM0 of two
    series), the source's folder name before it, then a counter; the result is added to ``taken``."""
    candidate = name if name not in taken else f"{source.parent.name}_{name}"
    base, n = candidate, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def output_names(files: list[Path]) -> list[str]:
    """A unique, file-name-safe output name per input file: its stem, or stem_ext when two inputs
    share a stem (x.png and x.jpg give x_png and x_jpg, never one overwriting the other)."""
    stems: dict[str, int] = {}
    for path in files:
        stems[path.stem] = stems.get(path.stem, 0) + 1
    names = [path.stem if stems[path.stem] == 1 else f"{path.stem}_{path.suffix.lstrip('.').lower()}"
             for path in files]
    taken: set[str] = set()
    unique = []
    for name in names:  # x_png.png beside x.png + x.PNG: still distinct
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate)
        unique.append(candidate)
    return unique


def _image_suffixes() -> tuple[str, ...]:
    from cathx.data.formats.imageio import IMAGE_SUFFIXES

    return IMAGE_SUFFIXES


def _video_suffixes() -> tuple[str, ...]:
    from cathx.data.formats.video import VIDEO_SUFFIXES

    return VIDEO_SUFFIXES


def _frames_source(path: Path, kind: str, reader: Any, fps: float | None = None,
                   sequence: bool | None = None) -> Source:
    """A Source over ``reader``'s frames (sequence: default, more than one frame)."""
    length = len(reader)
    if length == 0:
        detail = f" ({reader.problems[0]})" if reader.problems else ""
        raise DataError(f"{path}: no readable frames{detail}")
    # problems is the reader's own list: what it finds while decoding (a video that ends early)
    # reaches the run's summary as well
    return Source(path, kind, length, sequence=length > 1 if sequence is None else sequence, fps=fps,
                  problems=reader.problems, sequences=len(getattr(reader, "sequence_ids", [path])),
                  _reader=reader)


def _video_source(path: Path) -> Source:
    from cathx.data.formats.video import VideoReader

    reader = VideoReader(path)
    return _frames_source(path, "video", reader, next((f for f in reader.frame_rates if f), None))


def _dicom_source(path: Path) -> Source:
    from cathx.data.formats.dicom import DicomReader

    reader = DicomReader(path)
    if path.is_dir():  # a folder holding DICOM is read as DICOM: say which videos beside it are not
        from cathx.data.formats.base import files_below

        videos = files_below(path, lambda p: p.suffix.lower() in _video_suffixes(), [])
        if videos:
            reader.problems.append(f"{path}: {len(videos)} video file(s) not predicted, e.g. {videos[0].name} "
                                   "(a folder holding DICOM is read as DICOM; predict the videos on their own)")
    return _frames_source(path, "dicom", reader, next((f for f in reader.frame_rates if f), None))


def _dataset_source(path: Path, format: str) -> Source:
    """Every frame of a labelled dataset (UCL HDF5, Duke OCT): its reader decodes them."""
    from cathx.data.formats import open_dataset

    return _frames_source(path, "dataset", open_dataset(path, format=format), sequence=False)


def _image_files(folder: Path, root: Path, problems: list[str]) -> list[Path]:
    """The image files directly inside ``folder`` (symlinks leading out of ``root`` reported in
    ``problems`` instead), sorted; hidden files ignored."""
    candidates = sorted(p for p in folder.iterdir() if (p.is_file() or p.is_symlink())
                        and not p.name.startswith(".") and p.suffix.lower() in _image_suffixes())
    from cathx.data.formats.base import files_inside

    return files_inside(root, candidates, problems)


def _note_stacks(files: list[Path], problems: list[str]) -> None:
    """A multi-page TIFF inside a folder is predicted by its first page, as one image among the
    folder's: say so in ``problems`` (given alone, its pages are predicted as a sequence)."""
    from cathx.data.formats.imageio import TIFF_SUFFIXES, tiff_pages

    for file in files:
        if file.suffix.lower() in TIFF_SUFFIXES:
            try:
                pages = tiff_pages(file)
            except DataError:
                continue  # decoding the file says what is wrong with it
            if pages > 1:
                problems.append(f"{file}: a TIFF of {pages} pages; only its first is predicted in a folder "
                                "(give the file alone to predict its pages as a sequence)")


def _images_folders_source(path: Path) -> Source:
    """A dataset of images/ folders (XRayCath, generic folder, or several groups of either):
    predict the images of its images/ folder, or of every group's."""
    if (path / "images").is_dir():
        folders = [path / "images"]
    else:
        folders = sorted(c / "images" for c in path.iterdir() if c.is_dir() and (c / "images").is_dir())
    problems: list[str] = []
    files = [f for folder in folders for f in _image_files(folder, folder.parent, problems)]
    if not files:
        where = ", ".join(str(f.relative_to(path)) for f in folders) or "images"
        raise DataError(f"{path}: no image to predict in {where}/"
                        + (f" ({len(problems)} skipped: {problems[0]})" if problems else ""))
    _note_stacks(files, problems)
    # one images/ folder: the source is that folder, as if it had been given
    root = folders[0] if len(folders) == 1 else path
    return Source(root, "folder", len(files), sequence=False, _files=files, problems=problems)


# format of cathx.data.formats (a key of FORMATS) -> how to predict from it; a test keeps the two in step
SOURCES_BY_FORMAT: dict[str, Callable[[Path], Source]] = {
    "xraycath": _images_folders_source,
    "folder": _images_folders_source,
    "ucl": partial(_dataset_source, format="ucl"),
    "duke": partial(_dataset_source, format="duke"),
    "dicom": _dicom_source,
    "video": _video_source,
}


def open_source(path: Path | str) -> Source:
    """Recognise ``path`` and return its Source. Raises DataError (one line naming the path).

    An image file, or a folder with images directly inside, is predicted as such; anything else
    is recognised by cathx.data.formats.recognise_format (the recognition of every reader) and
    opened by SOURCES_BY_FORMAT: a video, DICOM file or folder, a dataset's images/ folders, the
    frames of an HDF5 or Duke dataset.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() in _image_suffixes():
        from cathx.data.formats.imageio import tiff_pages

        pages = tiff_pages(path)  # a multi-page TIFF is a stack of frames, not its first page
        if pages > 1:
            return Source(path, "stack", pages, sequence=True, _files=[path])
        return Source(path, "image", 1, sequence=False, _files=[path])
    if path.is_dir():
        problems: list[str] = []
        images = _image_files(path, path, problems)
        if images:
            _note_stacks(images, problems)
            return Source(path, "folder", len(images), sequence=False, _files=images, problems=problems)
        if problems:
            raise DataError(f"{path}: no image to predict inside this folder "
                            f"({len(problems)} skipped: {problems[0]})")
    from cathx.data.formats import recognise_format

    name = recognise_format(path)
    if name is None and path.is_file():
        raise DataError(
            f"{path}: unsupported file type {path.suffix.lower() or '(none)'}; expected an image "
            f"({', '.join(_image_suffixes())}), a video ({', '.join(_video_suffixes())}) or DICOM"
        )
    if name is None:
        raise DataError(f"{path}: no images, videos or DICOM files in this folder")
    try:
        opener = SOURCES_BY_FORMAT[name]
    except KeyError:
        raise DataError(f"{path}: a {name} dataset, which cannot be predicted from; "
                        f"choose from {', '.join(SOURCES_BY_FORMAT)}") from None
    return opener(path)
