"""Paths named by annotation files, and symlinks found in dataset folders, stay inside the dataset:
anything leading out is skipped and reported in ``reader.problems`` (one line naming the file and
the entry), never read."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cathx.data.formats import open_dataset
from cathx.data.formats.base import entry_path, files_below, open_each, outside_reason
from cathx.errors import DataError


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", np.full((16, 16), 80, np.uint8))
    path.write_bytes(data.tobytes())
    return path


@pytest.fixture
def layout(tmp_path):
    """tmp/set (a dataset with images/a.png, masks/a.png) and tmp/outside/secret.png beside it."""
    root = tmp_path / "set"
    _png(root / "images" / "a.png")
    _png(root / "masks" / "a.png")
    secret = _png(tmp_path / "outside" / "secret.png")
    return root, secret


def _annotations(root, *records):
    images = [{"id": i, **record} for i, record in enumerate(records)]
    (root / "annotations.json").write_text(json.dumps({"images": images, "annotations": [], "categories": []}))
    return root / "annotations.json"


@pytest.mark.parametrize("name", ["../outside/secret.png", "images/../../outside/secret.png", "/etc/passwd",
                                  "{secret}"])
def test_annotation_file_name_leaving_the_dataset_is_skipped(layout, name):
    root, secret = layout
    name = name.format(secret=secret)
    source = _annotations(root, {"file_name": "images/a.png"}, {"file_name": name})
    reader = open_dataset(root)
    assert len(reader) == 1 and reader[0].meta["source"].endswith("a.png")
    assert reader.problems == [f"{source}: image 1 file_name {name!r} leaves the dataset folder (skipped)"]


def test_annotation_mask_file_leaving_the_dataset_is_skipped(layout):
    root, _ = layout
    source = _annotations(root, {"file_name": "images/a.png", "mask_file": "../outside/secret.png"})
    reader = open_dataset(root)
    assert len(reader) == 0
    assert reader.problems == [f"{source}: image 0 mask_file '../outside/secret.png' leaves the dataset "
                               "folder (skipped)"]


def test_annotation_entry_through_a_symlink_out_is_skipped(layout):
    root, secret = layout
    (root / "images" / "link.png").symlink_to(secret)
    source = _annotations(root, {"file_name": "images/a.png"}, {"file_name": "images/link.png"})
    reader = open_dataset(root)
    assert len(reader) == 1
    assert reader.problems == [f"{source}: image 1 file_name 'images/link.png': resolves to {secret}, outside "
                               f"the dataset folder {root} (skipped)"]


def test_annotation_file_name_that_is_not_a_path(layout):
    root, _ = layout
    source = _annotations(root, {"file_name": "images/a.png"}, {"file_name": ["x"]})
    reader = open_dataset(root)
    assert reader.problems == [f"{source}: image 1 file_name ['x'] is not a file path (skipped)"]


@pytest.mark.parametrize("fmt", ["folder", "xraycath"])
def test_symlinks_out_of_the_folder_broken_and_looping_are_reported(layout, fmt):
    root, secret = layout
    (root / "images" / "b.png").symlink_to(secret)  # out of the dataset
    (root / "images" / "c.png").symlink_to(root / "images" / "a.png")  # inside: fine
    _png(root / "masks" / "c.png")
    (root / "images" / "d.png").symlink_to(root / "images" / "gone.png")  # broken
    (root / "images" / "e.png").symlink_to(root / "images" / "e.png")  # a loop
    reader = open_dataset(root, format=fmt)
    assert [reader.source_of(i).rsplit("/", 1)[1] for i in range(len(reader))] == ["a.png", "c.png"]
    images = root / "images"
    assert reader.problems == [
        f"{images / 'b.png'}: resolves to {secret}, outside the dataset folder {root} (skipped)",
        f"{images / 'd.png'}: broken symlink (skipped)",
        f"{images / 'e.png'}: symlink loop (skipped)",
    ]


def test_images_folder_that_is_a_symlink_out(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    _png(elsewhere / "a.png")
    root = tmp_path / "set"
    root.mkdir()
    (root / "images").symlink_to(elsewhere)
    reader_problems = open_dataset(root, format="folder").problems
    assert reader_problems == [f"{root / 'images' / 'a.png'}: resolves to {elsewhere / 'a.png'}, outside the "
                               f"dataset folder {root} (skipped)"]


def test_helpers(tmp_path):
    assert outside_reason(tmp_path, tmp_path / "missing.png") is None  # missing: the caller reports it
    path, problem = entry_path(tmp_path, "images/x.png", tmp_path / "a.json", "image 1 file_name")
    assert path == tmp_path / "images" / "x.png" and problem is None
    path, problem = entry_path(tmp_path, "a\x00b", tmp_path / "a.json", "image 1 file_name")
    assert path is None and "leaves the dataset folder" in problem


def test_folder_scanning_readers_skip_symlinks_out(tmp_path):
    from pydicom.data import get_testdata_file

    folder = tmp_path / "study"
    folder.mkdir()
    sample = get_testdata_file("CT_small.dcm")
    (folder / "a.dcm").write_bytes(open(sample, "rb").read())
    (folder / "b.dcm").symlink_to(sample)  # a real DICOM, but outside the folder
    reader = open_dataset(folder, format="dicom")
    assert len(reader) == 1
    assert len(reader.problems) == 1 and reader.problems[0].startswith(f"{folder / 'b.dcm'}: resolves to ")


def test_recognise_format_says_none_where_detect_format_names_the_flag(tmp_path):
    import re

    from cathx.data.formats import detect_format, recognise_format
    from cathx.errors import DataError

    (tmp_path / "notes.txt").write_text("nothing to read")
    (tmp_path / "data.xyz").write_bytes(b"x")
    assert recognise_format(tmp_path) is None and recognise_format(tmp_path / "data.xyz") is None
    for path in (tmp_path, tmp_path / "data.xyz"):
        with pytest.raises(DataError, match=f"^{re.escape(str(path))}: cannot tell the data format; pass --format "
                                            "with one of xraycath, folder, ucl, duke, dicom, video$"):
            detect_format(path)
    (tmp_path / "images").mkdir()
    assert recognise_format(tmp_path) == detect_format(tmp_path) == "folder"


def test_files_below_lists_accepted_files_sorted_and_reports_links_out(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside.dcm"
    (root / "b").mkdir(parents=True)
    outside.write_bytes(b"x")
    (root / ".Trash-1000").mkdir()
    for name in ("z.dcm", "b/a.dcm", "b/notes.txt", ".hidden.dcm", ".Trash-1000/deleted.dcm"):
        (root / name).write_bytes(b"x")
    (root / "b" / "dir.dcm").mkdir()  # a folder is never a file, whatever its name
    (root / "out.dcm").symlink_to(outside)
    problems: list[str] = []
    found = files_below(root, lambda p: p.suffix == ".dcm", problems)  # hidden files and folders: never
    assert found == [root / "b" / "a.dcm", root / "z.dcm"]
    assert len(problems) == 1 and problems[0].startswith(f"{root / 'out.dcm'}: ")
    assert problems[0].endswith("(skipped)")


def test_open_each_keeps_what_opens_and_lists_each_refusal():
    def open_one(path):
        if path.name == "bad":
            raise DataError(f"{path}: not readable")
        return path.name.upper()

    problems: list[str] = []
    assert open_each([Path("a"), Path("bad"), Path("c")], open_one, problems) == ["A", "C"]
    assert problems == ["bad: not readable (skipped)"]
