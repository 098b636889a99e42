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


# ----------------------------------------------------------------------------- one recognition path (issue 16)


def test_every_data_format_has_a_source():
    from cathx.data.formats import FORMATS
    from cathx.inference.sources import SOURCES_BY_FORMAT

    assert set(SOURCES_BY_FORMAT) == set(FORMATS)


def test_grouped_dataset_predicts_every_groups_images(tmp_path):
    # ROOT/<group>/images/: the data readers' grouped layout (detect_format "folder")
    for group, stems in (("test", ["x"]), ("train", ["x", "y"])):
        (tmp_path / group / "images").mkdir(parents=True)
        for stem in stems:
            cv2.imwrite(str(tmp_path / group / "images" / f"{stem}.png"), np.zeros((24, 24), np.uint8))
    source = open_source(tmp_path)
    assert source.kind == "folder" and source.length == 3 and source.path == tmp_path
    assert [f.meta["source"] for f in source.frames()] == [
        str(tmp_path / "test" / "images" / "x.png"), str(tmp_path / "train" / "images" / "x.png"),
        str(tmp_path / "train" / "images" / "y.png")]


def test_dataset_root_without_images_names_its_images_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "notes.txt").write_text("no picture")
    with pytest.raises(DataError, match=r"no image to predict in images/$"):
        open_source(tmp_path)


def test_duke_volume_streams_its_labelled_frames(tmp_path):
    import scipy.io

    images = np.zeros((40, 24, 3), np.uint8)
    layers = np.full((3, 24, 3), np.nan)
    layers[:, :, 1] = np.array([10.0, 20.0, 29.0])[:, None]
    scipy.io.savemat(tmp_path / "Subject_01.mat", {"images": images, "manualLayers1": layers,
                                                   "manualFluid1": np.zeros((40, 24, 3), np.uint8)})
    source = open_source(tmp_path / "Subject_01.mat")
    assert source.kind == "dataset" and source.length == 1 and not source.sequence
    (frame,) = source.frames()
    assert frame.image.shape == (40, 24) and frame.meta["name"] == "Subject_01_00001"


def test_folder_with_nothing_to_predict(tmp_path):
    (tmp_path / "notes.txt").write_text("no picture")
    with pytest.raises(DataError, match="no images, videos or DICOM files in this folder"):
        open_source(tmp_path)
    (tmp_path / "a.png").symlink_to(tmp_path / "missing.png")  # a broken link is not a picture either
    with pytest.raises(DataError, match=r"no image to predict inside this folder \(1 skipped"):
        open_source(tmp_path)


def test_a_multi_page_tiff_is_a_sequence_of_its_pages(tmp_path):
    frames = [np.full((24, 32), 1000 * (i + 1), np.uint16) for i in range(3)]
    assert cv2.imwritemulti(str(tmp_path / "stack.tif"), frames)
    source = open_source(tmp_path / "stack.tif")
    assert source.kind == "stack" and source.sequence and source.length == 3
    decoded = list(source.frames())
    assert [f.meta["name"] for f in decoded] == [f"stack_{i:05d}" for i in range(3)]
    assert all(np.array_equal(f.image, page) for f, page in zip(decoded, frames))
    cv2.imwrite(str(tmp_path / "one.tif"), frames[0])
    assert open_source(tmp_path / "one.tif").kind == "image"


def test_a_multi_page_tiff_in_a_folder_is_its_first_page_and_said_so(tmp_path):
    frames = [np.full((24, 32), 1000 * (i + 1), np.uint16) for i in range(3)]
    assert cv2.imwritemulti(str(tmp_path / "stack.tif"), frames)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((24, 32), np.uint8))
    source = open_source(tmp_path)
    assert source.kind == "folder" and source.length == 2
    assert source.problems == [f"{tmp_path / 'stack.tif'}: a TIFF of 3 pages; only its first is predicted in a "
                               "folder (give the file alone to predict its pages as a sequence)"]
    assert np.array_equal(list(source.frames())[1].image, frames[0])


def test_a_cathx_output_inside_a_video_folder_is_not_read_and_dicom_beside_videos_says_so(tmp_path):
    """`--out` inside the input: a rerun does not read the last run's overlay.mp4 as a video; a
    folder with DICOM and a video is read as DICOM, and the video's omission is a problem line."""
    import numpy as np

    from builders import write_dicom, write_video
    from cathx.fileio import OUTPUT_MARKER
    from cathx.inference.sources import open_source

    write_video(tmp_path / "run.mp4", frames=3)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / OUTPUT_MARKER).write_text("")
    write_video(tmp_path / "out" / "overlay.mp4", frames=3)
    source = open_source(tmp_path)
    assert source.length == 3 and source.sequences == 1
    assert source.problems == [f"{tmp_path / 'out'}: a cathx output folder inside the input; its files are not read"]

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_dicom(mixed / "a.dcm", np.zeros((2, 32, 32), np.uint16))
    write_video(mixed / "b.mp4", frames=2)
    source = open_source(mixed)
    assert source.kind == "dicom" and source.length == 2
    assert source.problems == [f"{mixed}: 1 video file(s) not predicted, e.g. b.mp4 (a folder holding DICOM is "
                               "read as DICOM; predict the videos on their own)"]
