"""Atomic file output: write to a temporary file in the target folder, then rename.

A crash never leaves a half-written file under the final name, and nothing else is deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cathx.errors import CathxError

log = logging.getLogger(__name__)


def _read_umask() -> int:
    """The process umask, read once at import: reading it means setting it (os.umask), and a
    second thread creating a file in that moment would get mode 0666."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb") -> Iterator[BinaryIO]:
    """Open a temporary sibling of ``path`` for writing; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:  # owns fd from here: closed on any error below
            # mkstemp creates the file private (0600); give it the mode a plain open() would.
            os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
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
        try:
            os.replace(finished, out)
        except BaseException:  # the old output goes back where it was (an OSError, or a stop signal)
            os.replace(old / "dataset", out)
            old.rmdir()
            raise
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
    partial = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for line in clean_leftovers(out.absolute()):
            log.warning("%s", line)
        partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
        partial.chmod(0o777 & ~_UMASK)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        (partial / PARTIAL_MARKER).write_text(json.dumps(owner) + "\n")
    except OSError as exc:
        if partial is not None:  # without its marker no later run would ever clean it up
            shutil.rmtree(partial, ignore_errors=True)
        raise CathxError(f"{out}: cannot write here ({exc.strerror or exc})") from None
    try:
        yield partial
        (partial / PARTIAL_MARKER).unlink()
        replace_folder(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


OUTPUT_MARKER = ".cathx-output"
PARTIAL_MARKER = ".cathx-partial"  # in a partial folder while it is written: {"pid", "host", "started"}


def clean_leftovers(out: Path) -> list[str]:
    """Remove the partial folders that killed cathx runs left beside ``out``; report what is kept.

    A partial folder (``.OUT.partial-*``) is removed when its PARTIAL_MARKER names a process of this
    machine that no longer runs; one whose process still runs (a concurrent run) or which lacks the
    marker (not provably cathx's) is kept and reported, as is ``.OUT.old-*`` (the previous output,
    moved aside by a run killed while swapping it; it may be the only copy). Returns one line per
    folder found.
    """
    lines = []
    for leftover in sorted(out.parent.glob(f".{out.name}.partial-*")):
        owner = _partial_owner(leftover)
        if owner is None:
            lines.append(f"{leftover}: leftover partial folder without a cathx marker; kept (delete it by hand "
                         f"if no cathx run is writing {out})")
        elif owner.get("host") == socket.gethostname() and not _process_alive(owner.get("pid")):
            shutil.rmtree(leftover, ignore_errors=True)
            lines.append(f"{leftover}: removed the partial folder of a killed cathx run (pid {owner.get('pid')})")
        else:
            lines.append(f"{leftover}: partial folder of cathx run pid {owner.get('pid')} on "
                         f"{owner.get('host')}, which may still be writing; kept")
    for leftover in sorted(out.parent.glob(f".{out.name}.old-*")):
        lines.append(f"{leftover}: an earlier {out.name} moved aside by a run killed while replacing it; kept "
                     "(it may be the only copy: move it back or delete it by hand)")
    return lines


def _partial_owner(folder: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads((folder / PARTIAL_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _process_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def claim_output_folder(out: Path | str, option: str = "--out", create: bool = True) -> Path:
    """Make ``out`` a folder cathx may write into, or raise CathxError (one line naming it).

    Accepted: an absent folder (created), an empty one, or one an earlier cathx run created (it
    holds OUTPUT_MARKER). Refused: a file, a folder holding files cathx did not write (a dataset,
    a user's results: nothing of theirs is ever overwritten) and a folder that cannot be written.
    The marker is written here, so the next run may reuse the folder; ``create=False`` only checks
    (before slow work, without leaving a folder behind when a later check fails).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CathxError(f"{option} {out}: is a file, not a folder; choose a new folder")
    if out.is_dir() and not (out / OUTPUT_MARKER).is_file():
        try:
            entries = sorted(out.iterdir())
        except OSError as exc:
            raise CathxError(f"{option} {out}: cannot read this folder ({exc.strerror or exc})") from None
        if entries:
            raise CathxError(
                f"{option} {out}: folder already holds files cathx did not write (e.g. {entries[0].name}); "
                "choose an empty or new folder")
    if not create:
        _check_writable(out, option)
        return out
    mark_output_folder(out, option)
    return out


def mark_output_folder(out: Path | str, option: str = "--out") -> None:
    """Create ``out`` if needed and mark it as cathx output (OUTPUT_MARKER), so reruns may reuse it."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / OUTPUT_MARKER, "written by cathx; this folder's outputs may be replaced\n")
    except OSError as exc:
        raise CathxError(f"{option} {out}: cannot write here ({exc.strerror or exc})") from None


def check_output_file(path: Path | str, option: str = "--out") -> Path:
    """Check that a single output file can be written at ``path`` (its folder is created), or raise
    CathxError naming it: a folder in the way, or a folder that cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise CathxError(f"{option} {path}: is a folder; give a file name")
    parent = path.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CathxError(f"{option} {path}: cannot write here ({exc.strerror or exc})") from None
    return path


def check_output_folder(out: Path | str, option: str = "--out") -> Path:
    """Check that ``out`` is, or can be made, a writable folder (created here), or raise CathxError
    naming it. Unlike ``claim_output_folder`` it accepts a folder holding other files (a results
    folder the command adds its own named files to)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CathxError(f"{option} {out}: is a file, not a folder; choose a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".cathx-", suffix=".probe", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CathxError(f"{option} {out}: cannot write here ({exc.strerror or exc})") from None
    return out


def _check_writable(path: Path, option: str) -> None:
    """CathxError unless ``path`` or its nearest existing ancestor is a folder this process can write
    in: tried with a temporary folder, removed at once (permission bits do not tell for root or for
    read-only mounts)."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CathxError(f"{option} {path}: {existing} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".cathx-", suffix=".probe", dir=existing))
    except OSError as exc:
        raise CathxError(f"{option} {path}: cannot write here ({exc.strerror or exc})") from None


def csv_text(header: list[str], rows: list[list]) -> str:
    """A CSV document (header row, then ``rows``) as text with "\\n" line ends, for atomic_write_text."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
