"""The reader interface every format implements, and small helpers shared by the readers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

import numpy as np

from cathx.errors import DataError
from cathx.structures import Sample


@runtime_checkable
class FrameReader(Protocol):
    """What a consumer may rely on: a sized, indexable sequence of samples with a problem list."""

    name: str
    problems: list[str]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...

    def iter_frames(self) -> Iterator[Sample]: ...


class Reader(Sequence[Sample]):
    """Base class: a lazy, indexable sequence of samples read from ``root``.

    Subclasses index their files in ``__init__`` (cheap: names, sizes, headers) and decode pixels
    only in ``read(index)``. ``problems`` lists every skipped sample or inconsistency found, one
    line each naming the file; a labelled sample is never dropped without an entry there.
    """

    name: str = "reader"
    #: what ``root`` must be when the format reads folders only (for the message), else "".
    folder_only: str = ""
    #: the format's name in the message refusing ``split`` when it has no splits, else "".
    no_splits: str = ""

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        root = require_path(root)
        if self.folder_only and not root.is_dir():
            raise DataError(f"{root}: expected {self.folder_only}, got a file")
        if self.no_splits and split is not None:
            raise DataError(f"{root}: {self.no_splits} data has no splits (got --split {split!r})")
        self.root = root
        self.split = split
        self.problems: list[str] = []
        self.split_files: list[str] = []

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, index: int) -> Sample:
        """Decode sample ``index`` (0 <= index < len)."""
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def source_of(self, index: int) -> str | None:
        """The file that sample ``index`` comes from, without decoding it (None if unknown)."""
        return None

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.read(i) for i in range(*index.indices(len(self)))]
        count = len(self)
        position = int(index)
        if position < 0:
            position += count
        if not 0 <= position < count:
            raise IndexError(f"index {index} out of range for {count} samples")
        return self.read(position)

    def __iter__(self) -> Iterator[Sample]:
        return self.iter_frames()

    def iter_frames(self) -> Iterator[Sample]:
        """Yield every sample in order, holding at most one decoded sample at a time."""
        for index in range(len(self)):
            yield self.read(index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"


# Above any fluoroscopy or video frame rate: a container's time-base fallback or a mistyped tag.
MAX_FPS = 1000.0


def plausible_fps(value: object) -> float | None:
    """``value`` as frames per second when it is a finite rate in (0, MAX_FPS], else None (the
    caller's fallback then applies: an unreadable or absurd rate is no rate)."""
    try:
        fps = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return fps if math.isfinite(fps) and 0.0 < fps <= MAX_FPS else None


def read_split_listing(path: Path) -> list[str]:
    """The whitespace-separated names in a split file (``imagesets/train.txt``), or DataError naming
    it. UTF-8, with or without the byte-order mark Windows editors write (it would otherwise glue
    itself to the first name and drop that image from the split)."""
    try:
        return path.read_text(encoding="utf-8-sig").split()
    except UnicodeDecodeError:
        raise DataError(f"{path}: split file is not UTF-8 text; save it as UTF-8 (one image name per line)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read split file ({exc.strerror or exc})") from None


def require_path(path: Path | str) -> Path:
    """Return ``path`` as a Path, or raise DataError if it does not exist."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    return path


def outside_reason(root: Path, path: Path) -> str | None:
    """Why ``path`` may not be read as part of the dataset in ``root``, or None when it may.

    Refused: a path whose target, after following symlinks, is not inside ``root`` (also resolved),
    a broken symlink and a symlink loop. A symlink from one place in the dataset to another is fine.
    """
    try:
        target = path.resolve(strict=True)
        target.relative_to(root.resolve())
    except FileNotFoundError:
        return "broken symlink" if path.is_symlink() else None  # a missing file is reported by the caller
    except (OSError, RuntimeError):  # ELOOP; Python 3.11 raises RuntimeError for a symlink loop
        return "symlink loop"
    except ValueError:
        return f"resolves to {target}, outside the dataset folder {root}"
    return None


def entry_path(root: Path, name: object, source: Path, what: str) -> tuple[Path | None, str | None]:
    """(root / name, None) for a relative path named in an annotation file, or (None, problem line)
    when it is not a path string, is absolute, climbs out with '..' or leads outside by a symlink.

    ``source`` is the annotation file and ``what`` the entry (e.g. "image 3 file_name"); the problem
    line names both and ends with "(skipped)".
    """
    if not isinstance(name, str) or not name.strip():
        return None, f"{source}: {what} {name!r} is not a file path (skipped)"
    relative = PurePath(name)
    if relative.is_absolute() or ".." in relative.parts or "\x00" in name:
        return None, f"{source}: {what} {name!r} leaves the dataset folder (skipped)"
    path = root / relative
    reason = outside_reason(root, path)
    if reason is not None:
        return None, f"{source}: {what} {name!r}: {reason} (skipped)"
    return path, None


def files_inside(root: Path, paths: Sequence[Path], problems: list[str]) -> list[Path]:
    """The regular files among ``paths`` whose target lies inside ``root``; each symlink leading out,
    broken symlink and symlink loop gets a problem line "(skipped)" instead."""
    kept = []
    for path in paths:
        reason = outside_reason(root, path)
        if reason is not None:
            problems.append(f"{path}: {reason} (skipped)")
        elif path.is_file():
            kept.append(path)
    return kept


OUTPUT_INSIDE = "a cathx output folder inside the input; its files are not read"


def files_below(root: Path, accept: Callable[[Path], bool], problems: list[str]) -> list[Path]:
    """The files (and symlinks to files) anywhere below the folder ``root`` that ``accept`` takes,
    sorted by path, those leading out of ``root`` reported in ``problems`` instead (files_inside).
    Hidden files and everything in hidden folders (``.Trash-1000/``, ``.ipynb_checkpoints/``,
    ``.git/``) are not inputs. A cathx output folder inside ``root`` (its marker file; `cathx
    predict --out` put inside the input) is passed over with one problem line: its overlay videos
    are not inputs."""
    from cathx.fileio import OUTPUT_MARKER

    entries = list(root.rglob("*"))  # one walk of the tree for both the markers and the files
    outputs = sorted(p.parent for p in entries if p.name == OUTPUT_MARKER and p.parent != root)
    for folder in outputs:
        problems.append(f"{folder}: {OUTPUT_INSIDE}")
    found = (p for p in entries if (p.is_file() or p.is_symlink())
             and not any(part.startswith(".") for part in p.relative_to(root).parts) and accept(p)
             and not any(folder in p.parents for folder in outputs))
    return files_inside(root, sorted(found), problems)


Opened = TypeVar("Opened")


def open_each(paths: Iterable[Path], open_one: Callable[[Path], Opened], problems: list[str]) -> list[Opened]:
    """``open_one(path)`` for each path; one that refuses (DataError) becomes a problem line
    "... (skipped)" and the rest are still opened (a folder reader keeps its readable files)."""
    opened = []
    for path in paths:
        try:
            opened.append(open_one(path))
        except DataError as exc:
            problems.append(f"{exc} (skipped)")
    return opened


class FileFramesReader(Reader):
    """Base of the readers whose samples are the frames of one file, or of every file below a
    folder concatenated in path order (DICOM, video). ``_files`` holds one record per file, each
    with ``path``, ``frames`` (its frame count) and ``fps``."""

    _files: list[Any]

    def _open_files(self, accept: Callable[[Path], bool], open_one: Callable[[Path], Any], none_found: str) -> None:
        """Fill ``_files``: ``open_one(root)`` for a file; for a folder, ``open_one`` on each file
        below it that ``accept`` takes (a refusal becomes a problem line). A folder without visible
        files is "folder is empty"; one where nothing is accepted and nothing refused raises
        "ROOT: ``none_found``"."""
        if self.root.is_file():
            files = [open_one(self.root)]
        else:
            visible = files_below(self.root, lambda p: True, self.problems)  # hidden files are left out
            if not visible and not self.problems:
                raise DataError(f"{self.root}: folder is empty")
            files = open_each((p for p in visible if accept(p)), open_one, self.problems)
            if not files and not self.problems:
                raise DataError(f"{self.root}: {none_found}")
        self._files = files

    def _index_frames(self) -> None:
        """Number the frames across ``_files`` (call once their order is final)."""
        self._starts = np.cumsum([0] + [record.frames for record in self._files])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _locate(self, index: int) -> tuple[int, int]:
        """The position in ``_files`` of the file holding sample ``index``, and the frame's index
        within that file."""
        file_index = int(np.searchsorted(self._starts, index, side="right") - 1)
        return file_index, index - int(self._starts[file_index])

    @property
    def frame_rates(self) -> list[float | None]:
        """Frames per second of each file (None when the file does not say)."""
        return [record.fps for record in self._files]

    @property
    def sequence_ids(self) -> list[str]:
        """The distinct time series of the frames, in frame order: each file's own, or the
        ``sequence`` a record carries (the series of single-frame DICOM files)."""
        ids = [str(getattr(record, "sequence", "") or record.path) for record in self._files]
        return list(dict.fromkeys(ids))
