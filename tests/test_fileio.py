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


def test_atomic_write_uses_umask_mode(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "mode.json", {})
    finally:
        os.umask(umask)
    assert (tmp_path / "mode.json").stat().st_mode & 0o777 == 0o644


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
