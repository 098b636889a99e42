"""Reader for video files (mp4, avi, ...) as frame streams, through OpenCV's VideoCapture.

``iter_frames()`` decodes sequentially, holding one frame. Random access (``reader[i]``) seeks,
which is exact for the intra-coded and mp4v/MJPG files cv2 writes but may be slow or approximate
for long-GOP codecs; prefer streaming. The frame count is the container's (CAP_PROP_FRAME_COUNT).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cathx.data.formats.base import FileFramesReader, plausible_fps
from cathx.data.formats.imageio import quiet_opencv, to_grey, to_unit_float
from cathx.data.formats.limits import check_frame_size, read_limits
from cathx.errors import DataError
from cathx.structures import Sample

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass
class _Video:
    path: Path
    frames: int
    fps: float | None
    width: int
    height: int


def _open_capture(path: Path) -> Any:
    with quiet_opencv():  # OpenCV logs its own warnings; our DataError says it in one line
        capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise DataError(f"{path}: cannot open video (corrupt, truncated or unsupported codec)")
    return capture


# Still-image signatures: OpenCV opens an image under a video name as a one-frame "video".
IMAGE_SIGNATURES = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"BM": "BMP", b"II*\x00": "TIFF",
                    b"MM\x00*": "TIFF", b"GIF8": "GIF"}


def _probe(path: Path) -> _Video:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    with path.open("rb") as handle:
        head = handle.read(8)
    for signature, kind in IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            raise DataError(f"{path}: is a {kind} image, not a video; rename it to its image suffix")
    capture = _open_capture(path)
    try:
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = plausible_fps(capture.get(cv2.CAP_PROP_FPS))  # 0, NaN or a time-base fallback: none
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if width and height:
            check_frame_size(path, width, height, "video header")
        if frames <= 0:
            # Some containers do not store a count: count by decoding once (no frames kept).
            frames = 0
            while capture.grab():
                frames += 1
        if frames == 0:
            raise DataError(f"{path}: video has no decodable frames")
    finally:
        capture.release()
    return _Video(path, frames, fps, width, height)


def _frame_to_unit(frame: np.ndarray) -> np.ndarray:
    return to_unit_float(to_grey(frame))


class VideoReader(FileFramesReader):
    """Frames of one video file, or of every video file under a folder (sorted by name)."""

    name = "video"
    no_splits = "video"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, split)
        self._open_files(lambda p: p.suffix.lower() in VIDEO_SUFFIXES, _probe,
                         f"no video files ({', '.join(VIDEO_SUFFIXES)}) found")
        self._index_frames()
        self._capture: Any = None
        self._position = (-1, -1)  # (video, next frame) of the open capture

    def __len__(self) -> int:
        return int(self._starts[-1])

    def read(self, index: int) -> Sample:
        video_index, frame_index = self._locate(index)
        video = self._files[video_index]
        capture = self._capture_at(video_index, frame_index)
        ok, frame = capture.read()
        if not ok or frame is None:
            self.close()
            raise DataError(f"{video.path}: cannot decode frame {frame_index} of {video.frames}")
        self._position = (video_index, frame_index + 1)
        return self._sample(video, frame_index, frame)

    def _capture_at(self, video_index: int, frame_index: int) -> Any:
        # Keep one capture open so reading frames in order never seeks.
        if self._capture is None or self._position[0] != video_index:
            self.close()
            self._capture = _open_capture(self._files[video_index].path)
            self._position = (video_index, 0)
        if self._position[1] != frame_index:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
        return self._capture

    def close(self) -> None:
        """Release the capture kept open for indexed reads."""
        if self._capture is not None:
            self._capture.release()
        self._capture = None
        self._position = (-1, -1)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)  # cv2 captures cannot be pickled (DataLoader workers)
        state["_capture"] = None
        state["_position"] = (-1, -1)
        return state

    def iter_frames(self) -> Iterator[Sample]:
        """Decode every frame of every video in order, one at a time."""
        for video in self._files:
            capture = _open_capture(video.path)
            try:
                for frame_index in range(video.frames):
                    ok, frame = capture.read()
                    if not ok or frame is None:
                        # The header's count is an estimate in some containers (duration x rate), and a
                        # cut file still holds its first frames: keep what decoded and say where it ended.
                        message = (f"{video.path}: stream ended at frame {frame_index} of {video.frames} "
                                   "(truncated or corrupt video, or a frame count the header overstates)")
                        if frame_index == 0:
                            raise DataError(message)
                        self.problems.append(f"{message}; the frames after it were not read")
                        break
                    yield self._sample(video, frame_index, frame)
                else:
                    yield from self._frames_past_count(video, capture)
            finally:
                capture.release()

    def _frames_past_count(self, video: _Video, capture: Any) -> Iterator[Sample]:
        """Frames the stream holds beyond its header's count (an estimate from duration x rate in
        some containers, e.g. MKV or variable-rate files), up to CATHX_MAX_FRAMES, with a problem
        line saying so: the end of the run is predicted, not silently dropped."""
        limit = read_limits().max_frames
        frame_index = video.frames
        while frame_index < limit:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            yield self._sample(video, frame_index, frame)
            frame_index += 1
        if frame_index > video.frames:
            read = (f"the first {frame_index} were read (CATHX_MAX_FRAMES)" if frame_index >= limit
                    else f"all {frame_index} were read")
            self.problems.append(f"{video.path}: the header declares {video.frames} frames but the stream holds "
                                 f"more; {read}")

    def _sample(self, video: _Video, frame_index: int, frame: np.ndarray) -> Sample:
        meta = {
            "source": str(video.path),
            "dataset": self.name,
            "sequence_id": str(video.path),
            "frame_index": frame_index,
            "fps": video.fps,
        }
        return Sample(_frame_to_unit(frame), meta=meta)
