"""Atomic file output: write to a temporary file in the target folder, then rename.

A crash never leaves a half-written file under the final name, and nothing else is deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cathx.errors import CathxError


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb") -> Iterator[BinaryIO]:
    """Open a temporary sibling of ``path`` for writing; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path | str, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def replace_folder(finished: Path, out: Path) -> None:
    """Move the finished folder ``finished`` onto ``out``, replacing an earlier output there.

    The old folder is moved aside first and removed only once the new one is in place, so a
    crash leaves either the old or the new output, never a half-written one. Callers check
    beforehand that ``out`` is theirs to replace (cathx output or --overwrite).
    """
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=finished.parent))
        os.replace(out, old / "dataset")
        os.replace(finished, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(finished, out)


@contextlib.contextmanager
def atomic_folder(out: Path) -> Iterator[Path]:
    """Yield a fresh partial folder beside ``out`` to write a whole dataset into; on success it
    replaces ``out`` (``replace_folder``), on any failure it is removed and ``out`` is untouched.

    CathxError when the parent of ``out`` cannot be written. The partial folder gets the umask's
    permissions (mkdtemp makes it private; a dataset should not be).
    """
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        partial.chmod(0o777 & ~umask)
    except OSError as exc:
        raise CathxError(f"{out}: cannot write here ({exc.strerror or exc})") from None
    try:
        yield partial
        replace_folder(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
