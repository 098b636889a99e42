"""Image and mask decoding shared by the file-based readers.

cv2 returns None (or raises deep inside) on unreadable files; these helpers turn every such case
into one DataError naming the file, and normalise pixels to the sample schema.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cathx.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def decode_image_file(path: Path | str) -> np.ndarray:
    """Read an image file as stored (8/16-bit, grey or colour) or raise DataError naming it."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if data.size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    try:
        array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise DataError(f"{path}: cannot decode image ({str(exc).strip().splitlines()[-1]})") from None
    if array is None:
        raise DataError(f"{path}: not a readable image (corrupt, truncated or unsupported format)")
    if _looks_truncated(path, data):
        raise DataError(f"{path}: image file is truncated")
    return array


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


def to_unit_float(array: np.ndarray) -> np.ndarray:
    """Integer or float pixels -> float32 in [0, 1].

    Integers are scaled by their type's range; floats by 1, 255 or 65535, the first that holds them.
    """
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        scaled = (array.astype(np.float32) - info.min) / float(info.max - info.min)
        return scaled.astype(np.float32)
    result = np.nan_to_num(array.astype(np.float32))
    high = float(result.max()) if result.size else 0.0
    low = float(result.min()) if result.size else 0.0
    if low >= 0.0:
        # Float pixels usually keep an integer range: pick the smallest that holds the frame.
        for full_scale in (1.0, 255.0, 65535.0):
            if high <= full_scale:
                return (result / full_scale).astype(np.float32)
    # No agreed range: stretch to the frame's own range.
    return ((result - low) / max(high - low, 1e-12)).astype(np.float32)


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
    """Image file -> (H, W) float32 in [0, 1] as stored (not inverted). Raises DataError."""
    array = decode_image_file(path)
    try:
        return to_unit_float(to_grey(array))
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None


def read_mask(path: Path | str) -> np.ndarray:
    """Mask file -> (H, W) uint8 {0, 1}. Raises DataError."""
    array = decode_image_file(path)
    try:
        return binarize_mask(array)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None


def check_same_size(image: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    """Raise DataError when an image and its mask differ in size."""
    if image.shape != mask.shape:
        raise DataError(
            f"{mask_path}: mask size {mask.shape[1]}x{mask.shape[0]} differs from image {image_path} "
            f"size {image.shape[1]}x{image.shape[0]}"
        )


def image_files_by_stem(folder: Path, problems: list[str]) -> dict[str, Path]:
    """Image files of ``folder`` keyed by stem, sorted; duplicates are reported, the first kept."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
            continue
        if path.stem in found:
            problems.append(f"{path}: same name as {found[path.stem].name} (ignored)")
            continue
        found[path.stem] = path
    return found
