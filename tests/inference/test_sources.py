from __future__ import annotations

import cv2
import numpy as np
import pytest

from cathx.errors import DataError
from cathx.inference.sources import open_source


def test_folder_of_images_streams_grey_frames(tmp_path):
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((40, 50, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((40, 50), np.uint16))
    (tmp_path / "notes.txt").write_text("ignored")
    source = open_source(tmp_path)
    assert source.kind == "folder" and source.length == 2 and not source.sequence
    frames = list(source.frames())
    assert [f.meta["name"] for f in frames] == ["a", "b"]
    assert frames[0].image.dtype == np.uint16 and frames[1].image.ndim == 2


def test_video_is_a_sequence(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    source = open_source(path)
    assert source.kind == "video" and source.sequence and source.length == 4
    names = [f.meta["name"] for f in source.frames()]
    assert names == [f"clip_{i:05d}" for i in range(4)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("clip.mp4", b"not a video at all", "clip.mp4"), ("scan.dcm", b"\x00" * 300, "scan.dcm"),
     ("data.xyz", b"x", "unsupported file type")],
)
def test_unreadable_files(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message):
        source = open_source(tmp_path / name)
        list(source.frames())


def test_empty_and_missing(tmp_path):
    with pytest.raises(DataError, match="empty"):
        open_source(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        open_source(tmp_path / "missing.png")


def test_dataset_root_uses_its_images_folder(tmp_path):
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "x.png"), np.zeros((40, 40), np.uint8))
    (tmp_path / "annotations.json").write_text("{}")
    source = open_source(tmp_path)
    assert source.kind == "folder" and source.length == 1


def test_symlinks_out_of_the_input_folder_are_skipped_and_reported(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    ok, png = cv2.imencode(".png", np.zeros((32, 32), np.uint8))
    (folder / "a.png").write_bytes(png.tobytes())
    secret = tmp_path / "secret.png"
    secret.write_bytes(png.tobytes())
    (folder / "b.png").symlink_to(secret)
    source = open_source(folder)
    assert source.length == 1
    assert source.problems == [f"{folder / 'b.png'}: resolves to {secret}, outside the dataset folder {folder} "
                               "(skipped)"]
    (folder / "a.png").unlink()
    (folder / "c.png").symlink_to(folder / "c.png")
    with pytest.raises(DataError, match=r"frames: no image to predict inside this folder \(2 skipped: .*b\.png"):
        open_source(folder)
