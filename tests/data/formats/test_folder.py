"""Generic images/ + masks/ folders: formats, bit depths, the masks/0/ layout and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cathx.data.formats import detect_format, open_dataset
from cathx.data.formats.imageio import read_image, read_mask
from cathx.errors import DataError


def _pair(size=32, dtype=np.uint8):
    high = np.iinfo(dtype).max
    image = np.zeros((size, size), dtype)
    image[:, size // 2 :] = high
    mask = np.zeros((size, size), np.uint8)
    mask[4:10, 4:20] = 255
    return image, mask


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_formats_8bit_grey_and_rgb(tmp_path, suffix):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    image, mask = _pair()
    cv2.imwrite(str(root / "images" / f"a{suffix}"), image)
    cv2.imwrite(str(root / "images" / f"b{suffix}"), cv2.merge([image, image, image]))
    for stem in "ab":
        cv2.imwrite(str(root / "masks" / f"{stem}.png"), mask)
    assert detect_format(root) == "folder"
    reader = open_dataset(root)
    assert len(reader) == 2 and reader.problems == []
    for sample in reader:
        sample.validate()
        assert sample.image[0, 0] < 0.05 and sample.image[0, -1] > 0.95
        assert sample.mask.sum() == 6 * 16 and sample.electrodes is None


def test_16bit_png_keeps_its_range(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    image = np.full((16, 16), 1000, np.uint16)
    image[0, 0] = 65535
    cv2.imwrite(str(root / "images" / "x.png"), image)
    sample = open_dataset(root)[0]
    assert sample.mask is None
    assert abs(float(sample.image[1, 1]) - 1000 / 65535) < 1e-6 and sample.image[0, 0] == 1.0


def test_benchmark_layout_masks_0(tmp_path):
    root = tmp_path / "busi"
    (root / "images").mkdir(parents=True)
    (root / "masks" / "0").mkdir(parents=True)
    image, mask = _pair()
    for stem in ("p1", "p2", "p3"):
        cv2.imwrite(str(root / "images" / f"{stem}.png"), image)
        cv2.imwrite(str(root / "masks" / "0" / f"{stem}.png"), mask)
    (root / "train.txt").write_text("p1\np3\n")
    assert len(open_dataset(root)) == 3
    train = open_dataset(root, split="train")
    assert [s.meta["image_id"] for s in train] == ["p1", "p3"]


def test_jpeg_compressed_mask_under_png_name_is_thresholded(tmp_path):
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 14:18] = 255
    ok, data = cv2.imencode(".jpg", mask, [cv2.IMWRITE_JPEG_QUALITY, 50])
    path = tmp_path / "m.png"
    path.write_bytes(data.tobytes())
    decoded = read_mask(path)
    assert decoded.dtype == np.uint8 and set(np.unique(decoded)) == {0, 1}
    assert np.array_equal(decoded, (mask > 0).astype(np.uint8))


def test_group_folders_and_split_by_group(tmp_path):
    image, mask = _pair()
    for group in ("A", "B"):
        (tmp_path / group / "images").mkdir(parents=True)
        (tmp_path / group / "masks").mkdir()
        cv2.imwrite(str(tmp_path / group / "images" / "1.png"), image)
        cv2.imwrite(str(tmp_path / group / "masks" / "1.png"), mask)
    assert len(open_dataset(tmp_path, format="folder")) == 2
    assert open_dataset(tmp_path, format="folder", split="B")[0].meta["group"] == "B"
    with pytest.raises(DataError, match="no split 'C'.*groups found: A, B"):
        open_dataset(tmp_path, format="folder", split="C")


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match=r"nope: no such file or folder"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: folder is empty"):
        open_dataset(tmp_path / "empty")
    with pytest.raises(DataError, match=r"empty: folder is empty"):
        open_dataset(tmp_path / "empty", format="folder")
    with pytest.raises(DataError, match=r"unknown format 'bogus'; choose from xraycath, folder"):
        open_dataset(tmp_path, format="bogus")


def test_mismatch_unpaired_zero_byte_corrupt_truncated(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    image, mask = _pair(64)
    for stem in ("ok", "small", "corrupt", "trunc", "empty", "lonely"):
        cv2.imwrite(str(root / "images" / f"{stem}.png"), image)
    for stem in ("ok", "corrupt", "trunc", "empty", "orphan"):
        cv2.imwrite(str(root / "masks" / f"{stem}.png"), mask if stem != "orphan" else mask[:8])
    cv2.imwrite(str(root / "masks" / "small.png"), mask[:32, :32])
    (root / "images" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    data = (root / "images" / "trunc.png").read_bytes()
    (root / "images" / "trunc.png").write_bytes(data[: len(data) // 2])
    (root / "images" / "empty.png").write_bytes(b"")
    reader = open_dataset(root)
    problems = "\n".join(reader.problems)
    assert "images/empty.png: file is empty (0 bytes) (skipped)" in problems
    assert "images/lonely.png: no mask in" in problems
    assert "masks/orphan.png: mask has no image in" in problems
    keys = [pair.key for pair in reader._pairs]
    assert keys == ["corrupt", "ok", "small", "trunc"]
    with pytest.raises(DataError, match=r"images/corrupt\.png: not a readable image"):
        reader[0]
    assert reader[1].image.shape == (64, 64)
    with pytest.raises(
        DataError, match=r"masks/small\.png: mask size 32x32 differs from image .*small\.png size 64x64"
    ):
        reader[2]
    with pytest.raises(DataError, match=r"images/trunc\.png: (not a readable image|image file is truncated)"):
        reader[3]


def test_truncated_jpeg_is_an_error(tmp_path):
    image, _ = _pair(64)
    image = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    path = tmp_path / "t.jpg"
    cv2.imwrite(str(path), image)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])
    with pytest.raises(DataError, match=r"t\.jpg: (image file is truncated|not a readable image)"):
        read_image(path)


def test_loose_images_get_a_hint(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match="holds images but no images/ folder"):
        detect_format(tmp_path)


def test_split_listing_reports_unknown_ids_once(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    image, mask = _pair()
    for stem in ("a", "b"):
        cv2.imwrite(str(root / "images" / f"{stem}.png"), image)
    cv2.imwrite(str(root / "masks" / "a.png"), mask)
    (root / "imagesets").mkdir()
    (root / "imagesets" / "train.txt").write_text("a\nb\nzz\n")
    reader = open_dataset(root, split="train", format="folder")
    assert len(reader) == 1
    assert len(reader.problems) == 2  # b has no mask (skipped); zz does not exist
    assert any("lists 'zz' but no such image" in p for p in reader.problems), reader.problems


def test_split_listing_keeps_dots_in_names_and_reads_a_byte_order_mark(tmp_path):
    """A listed DICOM UID (``1.2.840.5``) is the image's stem, not ``1.2.840`` with suffix ``.5``;
    a listing saved with a UTF-8 byte-order mark keeps its first name; one not in UTF-8 is refused
    in one line naming it."""
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    image, mask = _pair()
    for stem in ("1.2.840", "1.2.840.5", "case.01"):
        cv2.imwrite(str(root / "images" / f"{stem}.png"), image)
        cv2.imwrite(str(root / "masks" / f"{stem}.png"), mask)
    (root / "imagesets").mkdir()
    (root / "imagesets" / "train.txt").write_text("\ufeff1.2.840.5\ncase.01.png\n", encoding="utf-8")
    reader = open_dataset(root, split="train", format="folder")
    assert sorted(reader.source_of(i).rsplit("/", 1)[-1] for i in range(len(reader))) == [
        "1.2.840.5.png", "case.01.png"]
    assert reader.problems == []
    (root / "imagesets" / "train.txt").write_bytes("caf\xe9\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"train\.txt: split file is not UTF-8 text"):
        open_dataset(root, split="train", format="folder")
