"""What `cathx predict` reads: an image, a folder of images, a video, a DICOM file or a folder of DICOM.

``open_source(path)`` looks at the path only (cheap) and returns a Source whose ``frames()``
decodes lazily, one frame at a time, through the readers of cathx.data.formats.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cathx.errors import DataError

KINDS: tuple[str, ...] = ("image", "folder", "video", "dicom")


@dataclass
class Frame:
    """One decoded frame: image as an array (any dtype/channels; the Predictor converts) and meta
    with at least ``name`` (unique, file-name safe) and ``frame`` (0-based position in the source)."""

    image: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Source:
    """A frame source. kind: one of KINDS; sequence: frames belong to one time series (video,
    multi-frame DICOM, DICOM series): an MP4 and a motion curve are written for it."""

    path: Path
    kind: str
    length: int
    sequence: bool
    fps: float | None = None
    problems: list[str] = field(default_factory=list)
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
        names: dict[str, int] = {}
        for index, sample in enumerate(self._reader.iter_frames()):
            source = Path(str(sample.meta.get("source", self.path)))
            local = int(sample.meta.get("frame_index", index))
            stem = source.stem
            names.setdefault(stem, len(names))
            meta = {"name": f"{stem}_{local:05d}", "frame": index, "source": str(source),
                    "fps": sample.meta.get("fps")}
            yield Frame(sample.image, meta)


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


def _is_dicom(path: Path) -> bool:
    from cathx.data.formats.dicom import is_dicom_file

    return path.suffix.lower() in (".dcm", ".dicom") or is_dicom_file(path)


def _reader_source(path: Path, kind: str) -> Source:
    if kind == "video":
        from cathx.data.formats.video import VideoReader

        reader = VideoReader(path)
        fps = next((v.fps for v in getattr(reader, "_videos", []) if v.fps), None)
    else:
        from cathx.data.formats.dicom import DicomReader

        reader = DicomReader(path)
        fps = next((f for f in reader.frame_rates if f), None)
    length = len(reader)
    if length == 0:
        detail = f" ({reader.problems[0]})" if reader.problems else ""
        raise DataError(f"{path}: no readable frames{detail}")
    return Source(path, kind, length, sequence=length > 1, fps=fps, problems=list(reader.problems),
                  _reader=reader)


def open_source(path: Path | str) -> Source:
    """Recognise ``path`` and return its Source. Raises DataError (one line naming the path)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in _image_suffixes():
            return Source(path, "image", 1, sequence=False, _files=[path])
        if suffix in _video_suffixes():
            return _reader_source(path, "video")
        if _is_dicom(path):
            return _reader_source(path, "dicom")
        raise DataError(
            f"{path}: unsupported file type {suffix or '(none)'}; expected an image "
            f"({', '.join(_image_suffixes())}), a video ({', '.join(_video_suffixes())}) or DICOM"
        )
    candidates = sorted(p for p in path.iterdir() if (p.is_file() or p.is_symlink()) and not p.name.startswith("."))
    entries = [p for p in candidates if p.is_file()]
    if not any(p.suffix.lower() in _image_suffixes() for p in entries) and (path / "images").is_dir():
        return open_source(path / "images")  # a dataset root (XRayCath layout): predict its images
    if not candidates:
        raise DataError(f"{path}: folder is empty")
    from cathx.data.formats.base import files_inside

    problems: list[str] = []
    images = files_inside(path, [p for p in candidates if p.suffix.lower() in _image_suffixes()], problems)
    if images:
        return Source(path, "folder", len(images), sequence=False, _files=images, problems=problems)
    if problems:
        raise DataError(f"{path}: no image to predict inside this folder ({len(problems)} skipped: {problems[0]})")
    if any(_is_dicom(p) for p in entries[:50]):
        return _reader_source(path, "dicom")
    if any(p.suffix.lower() in _video_suffixes() for p in entries):
        return _reader_source(path, "video")
    raise DataError(f"{path}: no images, videos or DICOM files in this folder")
