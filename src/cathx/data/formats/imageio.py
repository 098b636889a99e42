"""Image and mask decoding shared by the file-based readers and `cathx predict`.

cv2 returns None (or raises deep inside) on unreadable files; these helpers turn every such case
into one DataError naming the file, and normalise pixels to the sample schema.

Pixel scale (one rule for every reader, training, `val` and `predict`): integer pixels are divided
by the full range of the bits the file declares as significant (PNG sBIT, DICOM BitsStored,
or an explicit ``--bit-depth``), and otherwise by their container's full range (255 for 8-bit,
65535 for 16-bit). Never by a frame's own brightest pixel: the same file always gives the same
float image, and a dark frame stays dark.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

import cv2
import numpy as np

from cathx.data.formats.base import outside_reason
from cathx.data.formats.limits import check_frame_count, check_frame_size
from cathx.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def drop_image_suffix(name: str) -> str:
    """``name`` without its image suffix (``.png``, ``.jpg``, ...), any other dot kept: a listed
    ``1.2.840.113619.2.55.1`` (a DICOM UID) or ``case.01`` is the image's whole stem, not a stem
    with suffix ``.1``. Folders in ``name`` are kept."""
    name = name.strip()
    suffix = PurePath(name).suffix
    return name[: -len(suffix)] if suffix and suffix.lower() in IMAGE_SUFFIXES else name


def decode_image_file(path: Path | str) -> np.ndarray:
    """Read an image file as stored (8/16-bit, grey or colour; a JPEG turned upright by its EXIF
    orientation) or raise DataError naming it."""
    return decode_image_and_depth(path)[0]


def decode_image_and_depth(path: Path | str) -> tuple[np.ndarray, int | None]:
    """(pixels as stored, significant bits the file declares or None) or DataError naming the file.

    The declaration is a PNG sBIT chunk (e.g. 12 for 12-bit detector data in 16-bit words).
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if data.size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    declared = header_size(bytes(data[:65536])) or tiff_size(data)
    if declared is not None:
        check_frame_size(path, *declared)  # a resource bomb is refused before cv2 allocates it
    try:
        with quiet_opencv():
            array = cv2.imdecode(data, _decode_flags(data))
    except cv2.error as exc:
        raise DataError(f"{path}: cannot decode image ({str(exc).strip().splitlines()[-1]})") from None
    if array is None:
        raise DataError(f"{path}: not a readable image (corrupt, truncated or unsupported format)")
    if _looks_truncated(path, data):
        raise DataError(f"{path}: image file is truncated")
    return array, png_significant_bits(bytes(data[:65536]), array.dtype)


def _decode_flags(data: np.ndarray) -> int:
    """cv2.imdecode flags: pixels as stored; for a JPEG also turned upright by its EXIF orientation
    (a radiograph photographed with a phone or exported by a viewer is stored sideways with a tag
    that every image viewer obeys, and its annotations are drawn on the upright image).
    IMREAD_UNCHANGED ignores the tag; a JPEG has neither alpha nor 16-bit pixels to lose otherwise."""
    if data[:2].tobytes() == b"\xff\xd8":
        return cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH
    return cv2.IMREAD_UNCHANGED


TIFF_SUFFIXES = (".tif", ".tiff")


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV's own log silenced inside: it prints errors for unreadable files, and cathx says
    them in one line (a DataError)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def tiff_pages(path: Path | str) -> int:
    """Images (pages) in a TIFF file, as ImageJ and many viewers store a stack or a sequence; 1 for
    any other file and for a TIFF whose page directory cannot be read (decoding then says why).
    DataError when a stack declares more pages than CATHX_MAX_FRAMES allows."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES or path.stat().st_size == 0:
        return 1
    declared = tiff_size(np.memmap(path, dtype=np.uint8, mode="r"))
    if declared is not None:
        check_frame_size(path, *declared)  # before libtiff allocates a page (a resource bomb)
    with quiet_opencv():
        try:
            pages = int(cv2.imcount(str(path)))
        except cv2.error:
            pages = 0
    if pages > 1:
        check_frame_count(path, pages, "TIFF file")
    return max(pages, 1)


def decode_tiff_page(path: Path | str, page: int) -> np.ndarray:
    """Page ``page`` (0-based) of a multi-page TIFF as stored, or DataError naming the file and page.
    The first page's declared size is checked by ``tiff_pages`` before anything is decoded; a
    later page larger than the limit is refused once decoded."""
    path = Path(path)
    with quiet_opencv():
        try:
            ok, pages = cv2.imreadmulti(str(path), int(page), 1, flags=cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:
            raise DataError(f"{path}: cannot decode page {page} ({str(exc).strip().splitlines()[-1]})") from None
    if not ok or not pages:
        raise DataError(f"{path}: cannot decode page {page} (corrupt or truncated TIFF)")
    array = pages[0]
    check_frame_size(path, array.shape[1], array.shape[0], f"page {page}")
    return array


def header_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG or BMP header (the file's first bytes); None if not found."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24 and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if head.startswith(b"BM") and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return abs(width), abs(height)
    if head.startswith(b"\xff\xd8"):
        position = 2
        while position + 9 <= len(head):
            if head[position] != 0xFF:
                return None
            marker = head[position + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
                position += 2
                continue
            length = struct.unpack(">H", head[position + 2:position + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                height, width = struct.unpack(">HH", head[position + 5:position + 9])
                return width, height
            position += 2 + length
    return None


def tiff_size(data: np.ndarray | bytes) -> tuple[int, int] | None:
    """(width, height) of the first image of a classic or BigTIFF file (ImageWidth and ImageLength of
    its first IFD, which may lie anywhere in the file); None if not a TIFF or not found."""
    head = bytes(data[:16])
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 16:
        return None
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 42:
        offset, count_format, entry_format, entry_size = struct.unpack(order + "I", head[4:8])[0], "H", "HHI", 12
    elif magic == 43:
        offset, count_format, entry_format, entry_size = struct.unpack(order + "Q", head[8:16])[0], "Q", "HHQ", 20
    else:
        return None
    count_size = struct.calcsize(count_format)
    table = bytes(data[offset:offset + count_size])
    if len(table) < count_size:
        return None
    count = min(struct.unpack(order + count_format, table)[0], 4096)
    entries = bytes(data[offset + count_size:offset + count_size + count * entry_size])
    found: dict[int, int] = {}
    value_size = entry_size - struct.calcsize(entry_format)
    for start in range(0, len(entries) - entry_size + 1, entry_size):
        tag, kind = struct.unpack(order + "HH", entries[start:start + 4])
        if tag in (256, 257) and kind in (3, 4, 16):  # SHORT, LONG, LONG8 values stored in the entry
            value = entries[start + entry_size - value_size:start + entry_size]
            width = {3: "H", 4: "I", 16: "Q"}[kind]
            found[tag] = struct.unpack(order + width, value[:struct.calcsize(width)])[0]
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


def png_significant_bits(head: bytes, dtype: np.dtype | None = None) -> int | None:
    """Bits per sample a PNG declares significant in its sBIT chunk; None without one.

    ``head``: the file's first bytes (the chunk precedes the image data). The largest of the colour
    channels' values is used; a value that is not below the container depth (``dtype``) means
    full range and returns None.
    """
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    position = 8
    while position + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[position:position + 8])
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"sBIT":
            body = head[position + 8:position + 8 + min(length, 4)]
            colour = body[:3] if len(body) >= 3 else body[:1]  # grey(+alpha): 1st; RGB(A): 3
            bits = max(colour) if colour else 0
            container = np.iinfo(dtype).bits if dtype is not None and np.issubdtype(dtype, np.integer) else 16
            return bits if 0 < bits < container else None
        position += 12 + length
    return None


def add_png_significant_bits(png: bytes, bits: int) -> bytes:
    """A PNG (bytes) with an sBIT chunk declaring ``bits`` significant bits (grey images)."""
    import zlib

    body = bytes([bits])
    chunk = struct.pack(">I", len(body)) + b"sBIT" + body
    chunk += struct.pack(">I", zlib.crc32(b"sBIT" + body) & 0xFFFFFFFF)
    end_of_header = 8 + 12 + struct.unpack(">I", png[8:12])[0]  # signature + IHDR chunk
    return png[:end_of_header] + chunk + png[end_of_header:]


def _looks_truncated(path: Path, data: np.ndarray) -> bool:
    # cv2 decodes truncated JPEGs with only a warning (grey fill): check the end markers.
    head = bytes(data[:8])
    if head.startswith(b"\x89PNG"):
        return b"IEND" not in bytes(data[-64:])
    if head.startswith(b"\xff\xd8"):
        return b"\xff\xd9" not in bytes(data[-4096:])
    return False


def to_grey(array: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as stored by cv2 -> (H, W), same dtype."""
    if array.ndim == 2:
        return array
    if array.ndim == 3 and array.shape[2] == 1:
        return array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2GRAY)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"unsupported image shape {array.shape}")


def full_scale(dtype: np.dtype, bits_stored: int | None = None) -> float:
    """The value that maps to 1.0 for integer pixels: 2**bits_stored - 1 when the file declares its
    significant bits (1..container depth), else the container's maximum (255, 65535)."""
    info = np.iinfo(dtype)
    if bits_stored is not None and 0 < int(bits_stored) < info.bits:
        return float(2 ** int(bits_stored) - 1)
    return float(info.max)


def to_unit_float(array: np.ndarray, bits_stored: int | None = None,
                  reference: np.ndarray | None = None) -> np.ndarray:
    """Integer or float pixels -> float32 in [0, 1]: the one pixel-scaling rule of cathx.

    Unsigned integers are divided by ``full_scale(dtype, bits_stored)`` (values above a declared
    depth are clipped), signed ones mapped from their type's range. Floats are divided by 1, 255
    or 65535, the first that holds ``reference`` (the full frame when ``array`` is a resized copy;
    default ``array``); floats with negative values are stretched to the reference's range.
    """
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.unsignedinteger):
        scaled = array.astype(np.float32) / np.float32(full_scale(array.dtype, bits_stored))
        return np.minimum(scaled, np.float32(1.0)) if bits_stored else scaled
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        scaled = (array.astype(np.float32) - info.min) / float(info.max - info.min)
        return scaled.astype(np.float32)
    result = np.nan_to_num(array.astype(np.float32))
    reference = result if reference is None else reference
    low, high = _finite_range(reference)
    if low >= 0.0:
        # Float pixels usually keep an integer range: pick the smallest that holds the frame.
        for scale in (1.0, 255.0, 65535.0):
            if high <= scale:
                return (result / scale).astype(np.float32)
    # No agreed range: stretch to the frame's own range.
    return np.clip((result - low) / max(high - low, 1e-12), 0.0, 1.0).astype(np.float32)


def _finite_range(array: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values, without a float copy of the array; (0, 0) when none."""
    if array.size == 0:
        return 0.0, 0.0
    low, high = float(array.min()), float(array.max())
    if np.isfinite(low) and np.isfinite(high):
        return low, high
    finite = array[np.isfinite(array)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def binarize_mask(array: np.ndarray) -> np.ndarray:
    """Any mask encoding -> uint8 {0, 1}.

    Masks stored as {0, 1} keep their values; otherwise threshold at half the type's range
    (0.5 of full scale), which also cleans JPEG-compressed masks saved under a .png name.
    """
    grey = to_grey(array) if array.ndim == 3 else array
    if grey.size == 0:
        return grey.astype(np.uint8)
    if np.issubdtype(grey.dtype, np.integer) or grey.dtype == np.bool_:
        if int(grey.max()) <= 1:
            return (grey > 0).astype(np.uint8)
        high = np.iinfo(grey.dtype).max if np.issubdtype(grey.dtype, np.integer) else 1
        return (grey.astype(np.float32) > high / 2.0).astype(np.uint8)
    grey = np.nan_to_num(grey.astype(np.float32))
    return (grey > (0.5 if grey.max() <= 1.0 else grey.max() / 2.0)).astype(np.uint8)


def read_image(path: Path | str) -> np.ndarray:
    """Image file -> (H, W) float32 in [0, 1] as stored (not inverted), scaled by ``to_unit_float``
    with the bits the file declares. Raises DataError."""
    array, bits_stored = decode_image_and_depth(path)
    try:
        return to_unit_float(to_grey(array), bits_stored)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None


def read_mask(path: Path | str) -> np.ndarray:
    """Mask file -> (H, W) uint8 {0, 1}. Raises DataError."""
    array = decode_image_file(path)
    try:
        return binarize_mask(array)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None


def read_image_and_mask(image_path: Path, mask_path: Path | None) -> tuple[np.ndarray, np.ndarray | None]:
    """An image (``read_image``) and its mask (``read_mask``; None without ``mask_path``).

    Raises DataError naming the mask when the two differ in size.
    """
    image = read_image(image_path)
    if mask_path is None:
        return image, None
    mask = read_mask(mask_path)
    if image.shape != mask.shape:
        raise DataError(
            f"{mask_path}: mask size {mask.shape[1]}x{mask.shape[0]} differs from image {image_path} "
            f"size {image.shape[1]}x{image.shape[0]}"
        )
    return image, mask


def image_files_by_stem(folder: Path, problems: list[str], root: Path | None = None) -> dict[str, Path]:
    """Image files of ``folder`` keyed by stem, sorted; duplicates are reported, the first kept.

    Files that lead outside the dataset folder ``root`` (default ``folder``) through a symlink,
    broken symlinks and symlink loops are reported and skipped."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
            continue
        reason = outside_reason(root or folder, path)
        if reason is not None:
            problems.append(f"{path}: {reason} (skipped)")
            continue
        if not path.is_file():
            continue
        if path.stem in found:
            problems.append(f"{path}: same name as {found[path.stem].name} (ignored)")
            continue
        found[path.stem] = path
    return found


def quantize(image: np.ndarray, bit_depth: int) -> np.ndarray:
    """(H, W) float in [0, 1] -> uint8 (bit_depth 8) or uint16 (16) grey levels over the full range,
    the inverse of ``to_unit_float`` for files that declare no significant bits."""
    top = 255 if bit_depth == 8 else 65535
    return np.round(np.clip(image, 0.0, 1.0) * top).astype(np.uint8 if bit_depth == 8 else np.uint16)


def encode_png_fast(array: np.ndarray) -> bytes:
    """(H, W) uint8/uint16 -> PNG bytes at low compression (dataset writers: speed over size)."""
    ok, buffer = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - cv2 only fails on unsupported dtypes
        raise DataError(f"PNG encoding failed for an array of {array.dtype} {array.shape}")
    return buffer.tobytes()


def coco_rle(mask: np.ndarray) -> dict:
    """(H, W) binary mask -> COCO run-length encoding {"size": [H, W], "counts": str}."""
    from pycocotools import mask as mask_utils

    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": encoded["counts"].decode("ascii")}
