"""The one pixel-scaling rule: declared bits (PNG sBIT), else the container's range; the same file
gives the same float image in the readers of `val`/`train` and in `cathx predict`."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cathx.data.formats.imageio import (
    add_png_significant_bits,
    decode_image_and_depth,
    full_scale,
    png_significant_bits,
    read_image,
    to_unit_float,
)
from cathx.errors import DataError
from cathx.inference.predictor import prepare_input
from cathx.inference.sources import open_source, output_names


def _dark_frames(tmp_path):
    """A dark 12-bit frame (max 1200 of 4095) as a 16-bit PNG declaring 12 bits, and its 8-bit copy."""
    rng = np.random.default_rng(0)
    twelve = rng.integers(200, 1200, (64, 64)).astype(np.uint16)
    eight = np.round(twelve.astype(np.float64) * 255 / 4095).astype(np.uint8)
    ok, png = cv2.imencode(".png", twelve)
    assert ok
    (tmp_path / "dark12.png").write_bytes(add_png_significant_bits(png.tobytes(), 12))
    cv2.imwrite(str(tmp_path / "dark8.png"), eight)
    return tmp_path / "dark12.png", tmp_path / "dark8.png"


def test_full_scale_uses_declared_bits_else_the_container():
    assert full_scale(np.dtype(np.uint8)) == 255
    assert full_scale(np.dtype(np.uint16)) == 65535
    assert full_scale(np.dtype(np.uint16), 12) == 4095
    assert full_scale(np.dtype(np.uint16), 16) == 65535
    assert full_scale(np.dtype(np.uint8), 12) == 255  # more bits than the container: ignored


def test_to_unit_float_values():
    dark = np.array([[0, 1000, 4095]], np.uint16)
    assert to_unit_float(dark)[0].tolist() == pytest.approx([0, 1000 / 65535, 4095 / 65535])
    assert to_unit_float(dark, 12)[0].tolist() == pytest.approx([0, 1000 / 4095, 1.0])
    assert to_unit_float(np.array([[5000]], np.uint16), 12).item() == 1.0  # above the declared depth: clipped
    assert to_unit_float(np.array([[0.0, 127.5]], np.float32))[0].tolist() == pytest.approx([0, 0.5])
    small = np.array([[0.5]], np.float32)
    assert to_unit_float(small, reference=np.array([[0.0, 200.0]], np.float32)).item() == pytest.approx(0.5 / 255)


def test_sbit_round_trip_and_absence(tmp_path):
    twelve, eight = _dark_frames(tmp_path)
    assert decode_image_and_depth(twelve)[1] == 12
    assert decode_image_and_depth(eight)[1] is None
    assert png_significant_bits(b"not a png") is None


def test_the_same_file_gives_the_same_floats_in_val_and_predict(tmp_path):
    """Readers (val/train) and predict agree; a dark 12-bit frame matches its 8-bit copy."""
    twelve, eight = _dark_frames(tmp_path)
    read12, read8 = read_image(twelve), read_image(eight)
    assert np.abs(read12 - read8).max() <= 0.5 / 255 + 1e-6
    frames = {f.meta["name"]: f for f in open_source(tmp_path).frames()}
    for name, read in (("dark12", read12), ("dark8", read8)):
        frame = frames[name]
        network, shape = prepare_input(frame.image, 64, name, frame.meta["bits_stored"])
        assert shape == (64, 64)
        np.testing.assert_allclose(network, read, atol=1e-6)
    # a frame's brightness never changes its scale: half the values give half the floats
    undeclared = np.full((64, 64), 1000, np.uint16)
    half = prepare_input(undeclared // 2, 64)[0]
    np.testing.assert_allclose(half * 2, prepare_input(undeclared, 64)[0], atol=1e-6)


def test_output_names_never_collide(tmp_path):
    from pathlib import Path

    names = output_names([Path("a/x.png"), Path("a/x.jpg"), Path("a/y.png"), Path("a/x_png.png")])
    assert names == ["x_png", "x_jpg", "y", "x_png_2"]


def test_quantize_is_the_inverse_of_to_unit_float_without_a_declaration():
    from cathx.data.formats.imageio import quantize, to_unit_float

    image = np.array([[0.0, 0.5, 1.0, 1.7]])
    assert quantize(image, 8).tolist() == [[0, 128, 255, 255]]
    assert quantize(image, 16).dtype == np.uint16 and quantize(image, 16)[0, 2] == 65535
    assert np.allclose(to_unit_float(quantize(image, 16)), np.clip(image, 0, 1), atol=1e-5)


def test_coco_rle_round_trips_through_pycocotools():
    from pycocotools import mask as mask_utils

    from cathx.data.formats.imageio import coco_rle

    mask = np.zeros((5, 7), np.uint8)
    mask[1:3, 2:6] = 1
    rle = coco_rle(mask)
    assert rle["size"] == [5, 7]
    assert (mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}) == mask).all()


def test_tiff_size_reads_the_first_ifd_in_either_byte_order():
    import struct

    from cathx.data.formats.imageio import tiff_size

    ok, encoded = cv2.imencode(".tiff", np.zeros((20, 24), np.uint16))
    assert tiff_size(encoded.tobytes()) == (24, 20)
    entries = struct.pack(">HHIHH", 256, 3, 1, 700, 0) + struct.pack(">HHII", 257, 4, 1, 90000)
    big_endian = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 2) + entries + bytes(4)
    assert tiff_size(big_endian) == (700, 90000)
    assert tiff_size(b"MM\x00*" + struct.pack(">I", 10**9) + bytes(8)) is None  # IFD past the end
    assert tiff_size(b"not a tiff at all") is None


def _stack(path, pages=3):
    frames = [np.full((24, 32), 1000 * (i + 1), np.uint16) for i in range(pages)]
    assert cv2.imwritemulti(str(path), frames)
    return frames


def test_tiff_pages_counts_a_stack_and_one_for_anything_else(tmp_path):
    from cathx.data.formats.imageio import tiff_pages

    _stack(tmp_path / "s.tif")
    cv2.imwrite(str(tmp_path / "one.tif"), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(tmp_path / "p.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "bad.tiff").write_bytes(b"II*\x00" + b"garbage" * 10)
    assert [tiff_pages(tmp_path / n) for n in ("s.tif", "one.tif", "p.png", "bad.tiff")] == [3, 1, 1, 1]


def test_a_stack_over_the_frame_limit_is_refused(tmp_path, monkeypatch):
    from cathx.data.formats.imageio import tiff_pages

    _stack(tmp_path / "s.tif")
    monkeypatch.setenv("CATHX_MAX_FRAMES", "2")
    with pytest.raises(DataError, match=r"s\.tif: TIFF file declares 3 frames; at most 2 per file"):
        tiff_pages(tmp_path / "s.tif")


def test_decode_tiff_page_returns_that_page_and_names_a_missing_one(tmp_path):
    from cathx.data.formats.imageio import decode_tiff_page

    frames = _stack(tmp_path / "s.tif")
    assert np.array_equal(decode_tiff_page(tmp_path / "s.tif", 1), frames[1])
    with pytest.raises(DataError, match=r"s\.tif: cannot decode page 7"):
        decode_tiff_page(tmp_path / "s.tif", 7)


def test_a_stack_whose_first_page_declares_a_huge_size_is_refused_before_decoding(tmp_path, monkeypatch):
    from cathx.data.formats.imageio import tiff_pages

    _stack(tmp_path / "s.tif")  # pages of 32 x 24 px
    monkeypatch.setenv("CATHX_MAX_IMAGE_SIDE", "16")
    with pytest.raises(DataError, match=r"s\.tif: image header declares 32x24 px; the largest supported side is 16"):
        tiff_pages(tmp_path / "s.tif")


@pytest.mark.parametrize("channels", [1, 3])
def test_a_jpeg_is_turned_upright_by_its_exif_orientation(tmp_path, channels):
    """Orientation 6 (stored turned 90 degrees anticlockwise, shown turned back clockwise): the
    decoded frame is what a viewer shows, grey or colour as stored; a PNG is decoded as stored."""
    import io

    from PIL import Image

    stored = np.zeros((20, 40), np.uint8)
    stored[:5, :10] = 255  # bright block top left as stored: top right once upright
    pixels = stored if channels == 1 else np.repeat(stored[..., None], 3, axis=2)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    (tmp_path / "sideways.jpg").write_bytes(buffer.getvalue())
    upright, _ = decode_image_and_depth(tmp_path / "sideways.jpg")
    assert upright.shape[:2] == (40, 20) and upright.ndim == (2 if channels == 1 else 3)
    assert upright[:3, -3:].mean() > 200 and upright[:3, :3].mean() < 50
    cv2.imwrite(str(tmp_path / "plain.png"), stored)
    assert decode_image_and_depth(tmp_path / "plain.png")[0].shape == (20, 40)
