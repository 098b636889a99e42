"""XRayCath reader: a tiny fixture written here in the exact layout of the CathMTL code."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from cathx.data.formats import detect_format, open_dataset
from cathx.errors import DataError


def _write_xraycath(root, n=4, size=64, csv_text=None):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "csv").mkdir()
    (root / "imagesets").mkdir()
    rows = ["imageId,Center X,Center Y,Strength"]
    for i in range(n):
        image = np.full((size, size), 200, np.uint8)
        image[10:20, 5 + i : 40] = 30
        cv2.imwrite(str(root / "images" / f"{i:04d}.jpg"), image)
        mask = np.zeros((size, size), np.uint8)
        mask[10:20, 5 + i : 40] = 255
        # The real masks are JPEG-compressed under a .png name.
        ok, jpeg = cv2.imencode(".jpg", mask, [cv2.IMWRITE_JPEG_QUALITY, 75])
        (root / "masks" / f"{i:04d}.png").write_bytes(jpeg.tobytes())
        rows.append(f"{i:04d},{0.25 + 0.01 * i},0.5,0.6")
        rows.append(f"{i:04d}.jpg,0.5,0.25,0.8")
    (root / "csv" / "blob.csv").write_text(csv_text if csv_text is not None else "\n".join(rows) + "\n")
    (root / "imagesets" / "train.txt").write_text("\n".join(f"{i:04d}" for i in range(n - 1)) + "\n")
    (root / "imagesets" / "val.txt").write_text(f"{n - 1:04d}\n")
    return root


def test_reads_images_jpeg_masks_and_blob_csv(tmp_path):
    root = _write_xraycath(tmp_path / "xc")
    assert detect_format(root) == "xraycath"
    reader = open_dataset(root)
    assert reader.name == "xraycath" and len(reader) == 4 and reader.problems == []
    sample = reader[1]
    sample.validate()
    assert sample.image.dtype == np.float32 and sample.image.shape == (64, 64)
    assert abs(float(sample.image[0, 0]) - 200 / 255) < 0.02  # not inverted
    assert set(np.unique(sample.mask)) == {0, 1}
    assert sample.mask[12, 20] == 1 and sample.mask[40, 40] == 0
    np.testing.assert_allclose(sample.electrodes, [[0.26 * 64, 32], [32, 16]], atol=1e-4)
    # Strength 0.6 at width 64 -> side 0.6 * 10 * 64 / 256 = 1.5 px
    np.testing.assert_allclose(sample.electrode_sizes, [[1.5, 1.5], [2.0, 2.0]], atol=1e-5)
    assert sample.meta["source"].endswith("0001.jpg")


def test_split_files_select_ids(tmp_path):
    root = _write_xraycath(tmp_path / "xc")
    train = open_dataset(root, split="train")
    val = open_dataset(root, split="val")
    assert len(train) == 3 and len(val) == 1
    assert val[0].meta["image_id"] == "0003" and val[0].meta["split"] == "val"
    assert len(train.split_files) == 2
    with pytest.raises(DataError, match="no split 'test'.*found: train, val"):
        open_dataset(root, split="test")


def test_cathmtl_parent_folder_with_split_subfolders(tmp_path):
    _write_xraycath(tmp_path / "XRayCath" / "trainval")
    test_root = _write_xraycath(tmp_path / "XRayCath" / "test", n=2)
    for listing in (test_root / "imagesets").iterdir():
        listing.unlink()
    assert len(open_dataset(tmp_path / "XRayCath", split="test", format="xraycath")) == 2
    assert len(open_dataset(tmp_path / "XRayCath", split="train", format="xraycath")) == 3


def test_annotations_json_gives_full_labels(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=2)
    annotations = {
        "images": [
            {
                "id": 1,
                "file_name": "images/0000.jpg",
                "mask_file": "masks/0000.png",
                "width": 64,
                "height": 64,
                "split": "train",
                "sequence_id": 3,
                "frame_index": 7,
                "fps": 15.0,
            },
            {
                "id": 2,
                "file_name": "images/0001.jpg",
                "mask_file": None,
                "width": 64,
                "height": 64,
                "split": "val",
                "sequence_id": None,
                "frame_index": None,
                "fps": None,
            },
        ],
        "categories": [{"id": 1, "name": "cs_decapolar"}, {"id": 3, "name": "ablation"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 3,
                "catheter_id": 5,
                "iscrowd": 0,
                "keypoints": [10, 12, 2, 20, 12, 2],
                "num_keypoints": 2,
                "electrode_sizes": [[3, 3], [2, 4]],
                "centreline": [[5, 12], [30, 12]],
                "segmentation": None,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "catheter_id": 2,
                "iscrowd": 0,
                "keypoints": [40, 40, 2],
                "num_keypoints": 1,
                "electrode_sizes": [[2, 2]],
                "centreline": [[40, 30], [40, 50], [45, 55]],
            },
            {
                "id": 3,
                "image_id": 2,
                "category_id": 1,
                "catheter_id": 0,
                "iscrowd": 0,
                "keypoints": [],
                "num_keypoints": 0,
                "electrode_sizes": [],
                "centreline": [[1, 1], [2, 2]],
                "segmentation": {"size": [64, 64], "counts": [130, 4, 64 * 64 - 134]},
            },
        ],
    }
    (root / "annotations.json").write_text(json.dumps(annotations))
    reader = open_dataset(root)
    assert len(reader) == 2
    first = reader[0]
    first.validate()
    # Catheters in catheter_id order: cs_decapolar (2) first, then ablation (5).
    assert first.catheter_types == ["cs_decapolar", "ablation"]
    assert first.meta["catheter_ids"] == [2, 5]
    np.testing.assert_allclose(first.electrodes, [[40, 40], [10, 12], [20, 12]])
    np.testing.assert_allclose(first.electrode_sizes, [[2, 2], [3, 3], [2, 4]])
    assert first.electrode_catheter_ids.tolist() == [0, 1, 1]
    assert first.centrelines[0].shape == (3, 2)
    assert first.meta["sequence_id"] == 3 and first.meta["frame_index"] == 7 and first.meta["fps"] == 15.0
    assert first.mask is not None and first.mask.max() == 1
    second = reader[1]
    assert second.electrodes.shape == (0, 2)
    assert second.mask.sum() == 4  # from the RLE when there is no mask file
    assert len(open_dataset(root, split="val")) == 1


def test_without_csv_electrodes_are_none(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=2)
    (root / "csv" / "blob.csv").unlink()
    sample = open_dataset(root, format="xraycath")[0]
    assert sample.electrodes is None and sample.mask is not None


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("imageId,Center X,Strength\n0000,0.5,0.5\n", r"blob\.csv: missing column\(s\) Center Y"),
    ],
)
def test_csv_missing_columns(tmp_path, csv_text, message):
    root = _write_xraycath(tmp_path / "xc", n=2, csv_text=csv_text)
    with pytest.raises(DataError, match=message):
        open_dataset(root)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("0001,abc,0.5,0.5", r"blob\.csv line 3: Center X 'abc' is not a number \(image 0001 skipped\)"),
        ("0001,0.5,1.7,0.5", r"blob\.csv line 3: Center Y 1\.7 is outside \[0, 1\].*\(image 0001 skipped\)"),
        ("0001,0.5,0.5,-1", r"blob\.csv line 3: Strength -1 is negative \(image 0001 skipped\)"),
        ("0009,0.5,0.5,0.5", r"blob\.csv line 3: image '0009' not found in images/"),
        ("0001,0.5,0.5,0.5,0.5", r"blob\.csv line 3: more cells than the 4 columns \(image 0001 skipped\)"),
    ],
)
def test_bad_csv_rows_are_reported_not_dropped_silently(tmp_path, row, message):
    text = f"imageId,Center X,Center Y,Strength\n0000,0.5,0.5,0.5\n{row}\n"
    root = _write_xraycath(tmp_path / "xc", n=2, csv_text=text)
    reader = open_dataset(root)
    assert len(reader.problems) == 1
    assert re.search(message, reader.problems[0]), reader.problems
    if "skipped" in message:
        assert len(reader) == 1


def test_image_without_mask_and_mask_without_image(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=3)
    (root / "masks" / "0001.png").unlink()
    (root / "images" / "0002.jpg").unlink()
    reader = open_dataset(root)
    assert len(reader) == 1
    assert any("0001.jpg: no mask in" in p and "(skipped)" in p for p in reader.problems)
    assert any("0002.png: mask has no image" in p for p in reader.problems)


def test_size_mismatch_and_corrupt_image_name_the_file(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=3)
    cv2.imwrite(str(root / "masks" / "0001.png"), np.zeros((32, 32), np.uint8))
    (root / "images" / "0002.jpg").write_bytes(b"not a jpeg at all")
    reader = open_dataset(root)
    with pytest.raises(
        DataError, match=r"masks/0001\.png: mask size 32x32 differs from image .*0001\.jpg size 64x64"
    ):
        reader[1]
    with pytest.raises(DataError, match=r"images/0002\.jpg: not a readable image"):
        reader[2]


def test_zero_byte_image_is_reported(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=2)
    (root / "images" / "0001.jpg").write_bytes(b"")
    reader = open_dataset(root)
    assert len(reader) == 1
    assert any("0001.jpg: file is empty (0 bytes) (skipped)" in p for p in reader.problems)


def test_invalid_annotations_json_names_the_file(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=1)
    (root / "annotations.json").write_text('{"images": [')
    with pytest.raises(DataError, match=r"annotations\.json: invalid JSON"):
        open_dataset(root)
    (root / "annotations.json").write_text('{"foo": 1}')
    with pytest.raises(DataError, match=r"annotations\.json: not a cathx annotations file"):
        open_dataset(root)


def test_empty_csv_reports_missing_columns(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=1, csv_text="")
    with pytest.raises(
        DataError, match=r"blob\.csv: missing column\(s\) imageId, Center X, Center Y, Strength; found none"
    ):
        open_dataset(root)


def test_malformed_annotation_names_the_file(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=1)
    document = {
        "images": [{"id": 1, "file_name": "images/0000.jpg", "mask_file": "masks/0000.png"}],
        "categories": [{"id": 1, "name": "lasso"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "catheter_id": None, "keypoints": [1, 2]}],
    }
    (root / "annotations.json").write_text(json.dumps(document))
    reader = open_dataset(root)
    with pytest.raises(DataError, match=r"annotations\.json: malformed annotation of 0000\.jpg"):
        reader[0]


def test_annotations_json_with_wrong_structure_or_encoding_names_the_file(tmp_path):
    """Cases found by tests/robustness/test_fuzz_readers.py (they were tracebacks)."""
    root = _write_xraycath(tmp_path / "xc", n=2)
    cases = [
        (b"\xfb{}", r"annotations\.json: not UTF-8 text$"),
        (b'{"images": [' + b"1" * 5000 + b"]}", r"annotations\.json: unreadable JSON \(Exceeds the limit"),
        (b"[" * 100000 + b"]" * 100000, r"annotations\.json: JSON nested too deeply$"),
        (b'{"images": [null]}', r"annotations\.json: 'images' must be a list of objects$"),
        (b'{"images": [], "annotations": "0"}', r"annotations\.json: 'annotations' must be a list of objects$"),
        (b'{"images": [{"id": [], "file_name": "images/0000.jpg"}]}',
         r"annotations\.json: image record id \[\]; expected a number or string$"),
        (b'{"images": [], "annotations": [{"id": 4, "image_id": {}}]}',
         r"annotations\.json: annotation 4 has image_id \{\}; expected a number or string$"),
        (b'{"images": [{"id": 1, "file_name": "images/0000.jpg"}, {"id": 1, "file_name": "images/0001.jpg"}], '
         b'"annotations": [{"id": 1, "image_id": 1}]}',
         r"annotations\.json: image id 1 is used by two image records; their labels would merge$"),
    ]
    for data, message in cases:
        (root / "annotations.json").write_bytes(data)
        with pytest.raises(DataError, match=message):
            open_dataset(root)


def test_blob_csv_that_is_not_utf8_names_the_file(tmp_path):
    root = _write_xraycath(tmp_path / "xc", n=1)
    (root / "csv" / "blob.csv").write_bytes(b"imageId,Center X,Center Y,Strength\n0000,0.5,\xff\xfe,0.5\n")
    with pytest.raises(DataError, match=r"blob\.csv: not UTF-8 text$"):
        open_dataset(root)


def test_a_split_file_not_in_utf8_is_a_problem_line_in_the_summary_and_an_error_for_the_split(tmp_path):
    from cathx.data.formats.summary import summarize

    root = _write_xraycath(tmp_path / "xc")
    (root / "imagesets" / "val.txt").write_bytes("0003\n".encode("utf-16"))
    summary = summarize(open_dataset(root))
    assert any("val.txt: split file is not UTF-8 text" in p for p in summary.problems), summary.problems
    with pytest.raises(DataError, match=r"val\.txt: split file is not UTF-8 text"):
        open_dataset(root, split="val")
