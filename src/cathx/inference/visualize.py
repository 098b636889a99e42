"""Mask PNGs and sequence video output (overlays are ``Results.plot``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cathx.errors import CathxError
from cathx.postprocess.results import encode_png  # noqa: F401 - run.py imports it from here


def mask_png(mask: np.ndarray | None, shape: tuple[int, int]) -> bytes:
    """Binary mask -> 8-bit PNG (0 / 255); an empty mask for detection-only models."""
    if mask is None:
        mask = np.zeros(shape, np.uint8)
    return encode_png((mask > 0).astype(np.uint8) * 255)


class VideoWriter:
    """H.264 MP4 writer (PyAV's libx264, yuv420p, fast start) opened on the first frame.

    H.264 in yuv420p with the index at the front is what browsers play (cv2's mp4v, MPEG-4 part 2,
    is not). ``fps`` is the source's frame rate (a fraction, denominator at most 1001). Frames of
    another size than the first are resized; odd sides are trimmed to even (yuv420p needs even).
    Writes to a hidden temporary name and renames on ``close()``, so a crash never leaves a file
    that looks complete; ``close()`` after an error still keeps the frames written so far.
    """

    CODEC = "libx264"
    OPTIONS: dict[str, str] = {"crf": "23", "preset": "veryfast"}  # small files, cheap on a shared CPU

    def __init__(self, path: Path | str, fps: float = 15.0) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 15.0
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._container = None
        self._stream = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def _open(self, width: int, height: int) -> None:
        from fractions import Fraction

        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._size = (max(2, width - width % 2), max(2, height - height % 2))
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
            self._stream = self._container.add_stream(self.CODEC, rate=Fraction(self.fps).limit_denominator(1001),
                                                      options=dict(self.OPTIONS))
        except (av.FFmpegError, ValueError) as exc:
            self._container = None
            raise CathxError(f"{self.path}: cannot open an H.264 MP4 writer ({exc})") from None
        self._stream.width, self._stream.height = self._size
        self._stream.pix_fmt = "yuv420p"

    def write(self, rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        import av

        if self._container is None:
            self._open(rgb.shape[1], rgb.shape[0])
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is not None:
            try:
                for packet in self._stream.encode(None):  # flush the encoder's delayed frames
                    self._container.mux(packet)
            finally:
                self._container.close()
                self._container = None
            if self.frames:
                self._tmp.replace(self.path)
            else:
                self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
