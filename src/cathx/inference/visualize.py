"""Overlays and sequence video output."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cathx.errors import CathxError
from cathx.postprocess.results import Results


def overlay(image: np.ndarray, results: Results) -> np.ndarray:
    """(H, W, 3) uint8 RGB: mask tinted, centrelines, electrode crosses, type and id labels."""
    return results.plot(image)


def encode_png(image: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) RGB uint8 -> PNG bytes."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - cv2 fails only on invalid arrays
        raise CathxError("cannot encode PNG")
    return data.tobytes()


def mask_png(mask: np.ndarray | None, shape: tuple[int, int]) -> bytes:
    """Binary mask -> 8-bit PNG (0 / 255); an empty mask for detection-only models."""
    if mask is None:
        mask = np.zeros(shape, np.uint8)
    return encode_png((mask > 0).astype(np.uint8) * 255)


class VideoWriter:
    """MP4 writer (cv2, mp4v) opened on the first frame. Frames of another size are resized.

    Writes to a hidden temporary name and renames on ``close()``, so a crash never leaves a file
    that looks complete; ``close()`` after an error still keeps the frames written so far.
    """

    def __init__(self, path: Path | str, fps: float = 15.0) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 15.0
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._writer = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = rgb.shape[:2]
            # Even sides keep every MP4 decoder happy.
            self._size = (width - width % 2, height - height % 2)
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise CathxError(f"{self.path}: cannot open an MP4 writer (OpenCV without an mp4v encoder?)")
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if self.frames:
                self._tmp.replace(self.path)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
