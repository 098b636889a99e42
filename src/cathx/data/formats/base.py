"""The reader interface every format implements, and small helpers shared by the readers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, overload, runtime_checkable

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

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        self.root = Path(root)
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


def require_path(path: Path | str) -> Path:
    """Return ``path`` as a Path, or raise DataError if it does not exist."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    return path
