from __future__ import annotations

import pytest

from cathx.fileio import atomic_open, atomic_write_json


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":2}'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write(b"partial")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_atomic_write_uses_umask_mode_without_touching_the_umask(tmp_path, monkeypatch):
    import os

    from cathx import fileio

    monkeypatch.setattr(fileio, "_UMASK", 0o027)  # the process umask, read once at import
    monkeypatch.setattr(os, "umask", lambda mask: pytest.fail("umask set while writing"))  # threads
    atomic_write_json(tmp_path / "mode.json", {})
    assert (tmp_path / "mode.json").stat().st_mode & 0o777 == 0o640
    with fileio.atomic_folder(tmp_path / "set") as partial:
        (partial / "a.txt").write_text("a")
    assert (tmp_path / "set").stat().st_mode & 0o777 == 0o750


def test_replace_folder_puts_the_old_output_back_when_the_swap_fails(tmp_path, monkeypatch):
    import os

    from cathx.fileio import replace_folder

    out = tmp_path / "dataset"
    out.mkdir()
    (out / "old.txt").write_text("old")
    finished = tmp_path / ".dataset.partial"
    finished.mkdir()
    real_replace, calls = os.replace, []

    def replace(source, target):
        calls.append(source)
        if len(calls) == 2:  # the new folder onto out: a stop signal arrives
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        replace_folder(finished, out)
    assert (out / "old.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dataset.partial", "dataset"]


def test_atomic_folder_that_cannot_mark_its_partial_folder_leaves_none(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from cathx.errors import CathxError
    from cathx.fileio import atomic_folder

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(CathxError, match="dataset: cannot write here \\(No space left on device\\)"):
        with atomic_folder(tmp_path / "dataset"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_replace_folder_swaps_in_the_new_output_and_leaves_nothing_behind(tmp_path):
    from cathx.fileio import replace_folder

    out = tmp_path / "dataset"
    out.mkdir()
    (out / "old.txt").write_text("old")
    finished = tmp_path / ".dataset.partial"
    finished.mkdir()
    (finished / "new.txt").write_text("new")
    replace_folder(finished, out)
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    fresh = tmp_path / ".second.partial"
    fresh.mkdir()
    replace_folder(fresh, tmp_path / "second")  # nothing there yet: a plain rename
    assert (tmp_path / "second").is_dir() and not fresh.exists()


def test_atomic_folder_leaves_out_untouched_when_writing_fails(tmp_path):
    import pytest

    from cathx.fileio import atomic_folder

    out = tmp_path / "dataset"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_folder(out) as partial:
            (partial / "new.txt").write_text("new")
            raise RuntimeError("disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    assert (out / "old.txt").read_text() == "old"
    with atomic_folder(out) as partial:
        (partial / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]


def _dead_pid() -> int:
    """A process id that no process can have (above the kernel's pid_max): never reused."""
    return int(open("/proc/sys/kernel/pid_max").read()) + 1


def test_leftover_partial_folders_are_cleaned_or_reported(tmp_path, caplog):
    import json
    import logging
    import os
    import socket

    from cathx.fileio import PARTIAL_MARKER, atomic_folder

    out = tmp_path / "dataset"
    host = socket.gethostname()
    dead = tmp_path / ".dataset.partial-dead"
    dead.mkdir()
    (dead / PARTIAL_MARKER).write_text(json.dumps({"pid": _dead_pid(), "host": host, "started": 0}))
    (dead / "half.png").write_bytes(b"x")
    running = tmp_path / ".dataset.partial-running"
    running.mkdir()
    (running / PARTIAL_MARKER).write_text(json.dumps({"pid": os.getpid(), "host": host, "started": 0}))
    unmarked = tmp_path / ".dataset.partial-unmarked"
    unmarked.mkdir()
    old = tmp_path / ".dataset.old-x"
    (old / "dataset").mkdir(parents=True)
    other = tmp_path / ".other.partial-dead"  # another output's leftover: not looked at
    other.mkdir()
    with caplog.at_level(logging.WARNING, logger="cathx.fileio"):
        with atomic_folder(out) as partial:
            (partial / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]  # the marker does not end up in the output
    assert not dead.exists() and running.is_dir() and unmarked.is_dir() and old.is_dir() and other.is_dir()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 4
    assert lines[0].startswith(f"{dead}: removed the partial folder of a killed cathx run (pid ")
    assert lines[1] == f"{running}: partial folder of cathx run pid {os.getpid()} on {host}, which may still be " \
                       "writing; kept"
    assert lines[2].startswith(f"{unmarked}: leftover partial folder without a cathx marker; kept")
    assert lines[3].startswith(f"{old}: an earlier dataset moved aside by a run killed while replacing it; kept")


def test_synth_killed_leaves_a_partial_folder_that_the_next_run_removes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "set"
    command = [sys.executable, "-m", "cathx", "synth", str(out), "--size", "64", "--workers", "1", "--n"]
    child = subprocess.Popen([*command, "400"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob(".set.partial-*/.cathx-partial")):
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    leftovers = list(tmp_path.glob(".set.partial-*"))
    assert len(leftovers) == 1 and not out.exists()
    result = subprocess.run([*command, "2"], capture_output=True, text=True,
                            timeout=120, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert f"{leftovers[0]}: removed the partial folder of a killed cathx run" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
