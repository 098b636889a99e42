"""`cathx data check` and `cathx data convert` on tiny fixtures written here."""

from __future__ import annotations

import json

import cv2
import h5py
import numpy as np
import pytest

from cathx.data.formats import open_dataset


def _folder(root, n=3, size=32):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(n):
        image = np.full((size, size), 50 * index, np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[2:6, :] = 255
        cv2.imwrite(str(root / "images" / f"{index}.png"), image)
        cv2.imwrite(str(root / "masks" / f"{index}.png"), mask)
    return root


def _xraycath(root, n=4, size=32):
    _folder(root, n, size)
    (root / "csv").mkdir()
    (root / "imagesets").mkdir()
    rows = ["imageId,Center X,Center Y,Strength"] + [f"{i},0.5,0.25,0.8" for i in range(n) for _ in range(i)]
    (root / "csv" / "blob.csv").write_text("\n".join(rows) + "\n")
    (root / "imagesets" / "train.txt").write_text("0\n1\n2\n")
    (root / "imagesets" / "val.txt").write_text("3\n")
    return root


def test_check_reports_counts_sizes_labels(run_cli, tmp_path):
    root = _xraycath(tmp_path / "xc")
    result = run_cli("data", "check", root)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "format: xraycath" in out and "samples: 4" in out
    assert "imagesets/train.txt: 3 ids" in out and "imagesets/val.txt: 1 ids" in out
    assert "image sizes: 32x32 (4)" in out
    assert "masks: 4 of 4 images; coverage % mean 12.50, min 12.50, max 12.50" in out
    assert (
        "electrodes: 4 of 4 images labelled, 6 in total; "
        "per image mean 1.5, min 0.0, max 3.0; images with none: 1" in out
    )
    assert "electrode size classes: small 0, medium 0, large 6" in out  # Strength 0.8
    assert "problems: none" in out


def test_check_lists_every_problem_and_exits_2(run_cli, tmp_path):
    root = _folder(tmp_path / "ds", n=4)
    (root / "masks" / "1.png").unlink()
    (root / "images" / "2.png").write_bytes(b"")
    (root / "images" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    cv2.imwrite(str(root / "masks" / "9.png"), np.zeros((4, 4), np.uint8))
    result = run_cli("data", "check", root)
    assert result.exit_code == 2
    assert "problems (4):" in result.stdout
    assert "1.png: no mask in" in result.stdout
    assert "2.png: file is empty (0 bytes) (skipped)" in result.stdout
    assert "3.png: not a readable image" in result.stdout
    assert "9.png: mask has no image" in result.stdout
    assert result.stderr.strip().count("\n") == 0 and "4 problem(s) found" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing",), "missing: no such file or folder"),
        (("empty",), "empty: folder is empty"),
        (("empty", "--format", "nope"), "--format 'nope': choose from xraycath, folder, ucl, duke, dicom, video"),
    ],
)
def test_check_bad_paths_one_line(run_cli, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    result = run_cli("data", "check", tmp_path / args[0], *args[1:])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_hdf5_without_key(run_cli, tmp_path):
    with h5py.File(tmp_path / "x.hdf5", "w") as handle:
        handle.create_dataset("foo", data=np.zeros((2, 8, 8), np.uint8))
    result = run_cli("data", "check", tmp_path / "x.hdf5")
    assert result.exit_code == 2
    assert "x.hdf5: no image dataset 'train_img' or 'test' (keys found: foo)" in result.stderr


def test_convert_xraycath_round_trip_keeps_splits_and_labels(run_cli, tmp_path):
    src = _xraycath(tmp_path / "xc")
    dst = tmp_path / "out"
    result = run_cli("data", "convert", src, dst)
    assert result.exit_code == 0, result.stderr
    assert "wrote 4 samples" in result.stdout and "train 3" in result.stdout and "val 1" in result.stdout
    before, after = open_dataset(src), open_dataset(dst)
    assert (dst / "annotations.json").is_file()
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a.image, b.image, atol=0.5 / 255)
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_allclose(a.electrodes, b.electrodes, atol=1e-3)
        np.testing.assert_allclose(a.electrode_sizes, b.electrode_sizes, atol=1e-3)
    assert len(open_dataset(dst, split="train")) == 3
    assert run_cli("data", "check", dst).exit_code == 0
    # A second convert needs --overwrite; a user's own folder is never overwritten.
    again = run_cli("data", "convert", src, dst)
    assert again.exit_code == 2 and "folder is not empty" in again.stderr
    assert run_cli("data", "convert", src, dst, "--overwrite").exit_code == 0
    refused = run_cli("data", "convert", src, src / "images", "--overwrite")
    assert refused.exit_code == 2 and "not a cathx dataset" in refused.stderr


def test_convert_video_without_labels_and_reports_skips(run_cli, tmp_path):
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 32))
    for index in range(5):
        writer.write(np.full((32, 32, 3), 40 * index, np.uint8))
    writer.release()
    dst = tmp_path / "out"
    result = run_cli("data", "convert", path, dst)
    assert result.exit_code == 0, result.stderr
    converted = open_dataset(dst)
    assert len(converted) == 5
    sample = converted[3]
    assert sample.mask is None and sample.electrodes is None
    assert sample.meta["fps"] == pytest.approx(10.0) and sample.meta["frame_index"] == 3
    records = json.loads((dst / "annotations.json").read_text())["images"]
    assert {r["sequence_id"] for r in records} == {0}

    src = _folder(tmp_path / "ds", n=3)
    (src / "images" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    result = run_cli("data", "convert", src, tmp_path / "out2")
    assert result.exit_code == 0
    assert "1.png: not a readable image" in result.stderr
    assert json.loads((tmp_path / "out2" / "conversion.json").read_text())["written"] == 2


def test_convert_ucl_hdf5_and_dicom(run_cli, tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    with h5py.File(tmp_path / "T1T2.hdf5", "w") as handle:
        handle.create_dataset("train_img", data=np.full((3, 16, 16), 128, np.uint8))
    labels = np.zeros((3, 16, 16), np.uint8)
    labels[:, 3, :] = 1
    with h5py.File(tmp_path / "T1T2_label.hdf5", "w") as handle:
        handle.create_dataset("label", data=labels)
    assert run_cli("data", "convert", tmp_path / "T1T2.hdf5", tmp_path / "ucl_out").exit_code == 0
    converted = open_dataset(tmp_path / "ucl_out")
    assert len(converted) == 3 and converted[2].mask.sum() == 16
    assert converted[2].image[0, 0] == pytest.approx(128 / 255)

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = (
        ds.file_meta.MediaStorageSOPClassUID,
        ds.file_meta.MediaStorageSOPInstanceUID,
    )
    ds.Rows = ds.Columns = 8
    ds.NumberOfFrames, ds.SamplesPerPixel, ds.PhotometricInterpretation = 4, 1, "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = 133.333
    ds.PixelData = np.zeros((4, 8, 8), np.uint8).tobytes()
    ds.save_as(tmp_path / "run.dcm", enforce_file_format=True)
    result = run_cli("data", "convert", tmp_path / "run.dcm", tmp_path / "dcm_out", "--bit-depth", "16")
    assert result.exit_code == 0, result.stderr
    frames = open_dataset(tmp_path / "dcm_out")
    assert len(frames) == 4 and frames[3].image.min() == 1.0  # MONOCHROME1 zeros -> white
    assert frames[3].meta["fps"] == pytest.approx(7.5, rel=1e-3) and frames[3].meta["frame_index"] == 3
    assert (
        cv2.imread(str(tmp_path / "dcm_out" / "images" / "000000.png"), cv2.IMREAD_UNCHANGED).dtype
        == np.uint16
    )


def test_check_caps_the_problem_list_with_a_count(run_cli, tmp_path):
    import cv2
    import numpy as np

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    ok, png = cv2.imencode(".png", np.zeros((16, 16), np.uint8))
    for index in range(62):  # 61 images without a mask
        (tmp_path / "images" / f"{index:02d}.png").write_bytes(png.tobytes())
    (tmp_path / "masks" / "00.png").write_bytes(png.tobytes())
    result = run_cli("data", "check", tmp_path)
    assert result.exit_code == 2
    assert "skipped: 61 sample(s)\nproblems (61):" in result.stdout
    assert result.stdout.count("no mask in") == 50 and "  - ... and 11 more" in result.stdout
    assert "61 problem(s) found" in result.stderr
