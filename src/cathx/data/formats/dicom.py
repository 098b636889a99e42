"""Reader for DICOM X-ray angiography / fluoroscopy: single- and multi-frame files, or a folder.

Pixels go through the Modality LUT (rescale or LUT sequence), then the VOI LUT (window or LUT
sequence, first one), are scaled to [0, 1] by the output range those transforms define, and
MONOCHROME1 frames are inverted so that the sample follows the MONOCHROME2 convention (the usual
display, dense = dark). Frame rate comes from Frame Time, Frame Time Vector or Cine Rate.

Memory: frames are decoded one at a time with ``pydicom.pixels.pixel_array(path, index=i)`` and
``iter_pixels``, which read only the bytes of the requested frame from the file (native and
encapsulated transfer syntaxes alike); only headers are held (pixel data deferred).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cathx.data.formats.base import FileFramesReader, plausible_fps
from cathx.data.formats.limits import check_frame_count, check_frame_size
from cathx.errors import DataError
from cathx.structures import Sample

logger = logging.getLogger(__name__)

DICOM_SUFFIXES = (".dcm", ".dicom")
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def is_dicom_file(path: Path) -> bool:
    """True when ``path`` has the DICM preamble marker (or a .dcm/.dicom suffix)."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


@dataclass
class _File:
    path: Path
    header: Any  # pydicom Dataset with pixel data deferred
    frames: int
    fps: float | None
    sequence: str = ""  # the file (multi-frame) or its series (single-frame files)
    first_frame: int = 0  # frame index of this file's first frame within its sequence


class DicomReader(FileFramesReader):
    """Lazy frame reader over one DICOM file or every DICOM file under a folder (sorted by name)."""

    name = "dicom"
    no_splits = "DICOM"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, split)
        # DICOMDIR indexes the folder; it has no pixels and is not a sample.
        self._open_files(lambda p: p.name.upper() != "DICOMDIR" and is_dicom_file(p), _read_header,
                         "no DICOM files found")
        _order_series(self._files)
        self._index_frames()

    def read(self, index: int) -> Sample:
        from pydicom.pixels import pixel_array

        file_index, frame = self._locate(index)
        record = self._files[file_index]
        try:
            if _is_deflated(record.header):
                array = _decode_whole(record.path)
                array = array[frame] if record.frames > 1 else array
            else:
                array = pixel_array(record.path, index=frame if record.frames > 1 else None)
        except Exception as exc:  # pydicom and its plugins raise many types
            raise DataError(f"{record.path}: cannot decode frame {frame} ({_short(exc)})") from None
        return self._sample(record, frame, array)

    def iter_frames(self) -> Iterator[Sample]:
        """Stream every frame of every file, decoding one frame at a time."""
        from pydicom.pixels import iter_pixels

        for record in self._files:
            frame = 0
            try:
                if _is_deflated(record.header):
                    whole = _decode_whole(record.path)
                    frames = whole if record.frames > 1 else whole[None]
                else:
                    frames = iter_pixels(record.path)
                # ``frame`` counts the frame being decoded, so a failure in the iterator's next step
                # names that frame (enumerate would still hold the last good one).
                for array in frames:
                    yield self._sample(record, frame, array)
                    frame += 1
            except DataError:
                raise
            except Exception as exc:
                raise DataError(f"{record.path}: cannot decode frame {frame} ({_short(exc)})") from None

    def _sample(self, record: _File, frame: int, array: np.ndarray) -> Sample:
        image = frame_to_unit(array, record.header, record.path)
        meta: dict[str, Any] = {
            "source": str(record.path),
            "dataset": self.name,
            "sequence_id": record.sequence,
            "frame_index": record.first_frame + frame,
            "fps": record.fps,
        }
        spacing = pixel_spacing(record.header)
        if spacing is not None:
            meta["pixel_spacing"] = spacing
        return Sample(image, meta=meta)


def _order_series(files: list[_File]) -> None:
    """Sort files by series and Instance Number; number single-frame files as one sequence per series.

    A multi-frame file is its own sequence (one cine run); single-frame files of one series are the
    frames of that series' sequence, in Instance Number order.
    """

    def key(record: _File) -> tuple[str, int, str]:
        number = _tag(record.header, "InstanceNumber")  # pydicom raises on a stored "1a"
        try:
            number = int(number) if number not in (None, "") else 0
        except (TypeError, ValueError):
            number = 0
        return str(record.header.get("SeriesInstanceUID") or ""), number, str(record.path)

    files.sort(key=key)
    counters: dict[str, int] = {}
    for record in files:
        series = str(record.header.get("SeriesInstanceUID") or "")
        if record.frames == 1 and series:
            record.sequence = series
            record.first_frame = counters.get(series, 0)
            counters[series] = record.first_frame + 1
        else:
            record.sequence = str(record.path)
            record.first_frame = 0


def _is_deflated(header: Any) -> bool:
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    meta = getattr(header, "file_meta", None)
    return meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian


def _decode_whole(path: Path) -> np.ndarray:
    # pydicom cannot seek into a deflated stream frame by frame: inflate and decode the file.
    import pydicom

    return pydicom.dcmread(path).pixel_array


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_header(path: Path) -> _File:
    import pydicom
    from pydicom.errors import InvalidDicomError

    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    try:
        header = pydicom.dcmread(path, defer_size=1024)
    except InvalidDicomError:
        raise DataError(f"{path}: not a DICOM file (no DICM marker)") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot read DICOM header ({_short(exc)})") from None
    if not any(keyword in header for keyword in PIXEL_KEYWORDS):
        raise DataError(f"{path}: DICOM file has no pixel data (no PixelData element)")
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if keyword not in header:
            raise DataError(f"{path}: DICOM pixel data without {keyword}")
    _promote_shared_groups(header)
    try:
        frames = int(header.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        raise DataError(f"{path}: invalid NumberOfFrames {header.get('NumberOfFrames')!r}") from None
    _check_declared_size(path, header, frames)
    return _File(path, header, frames, frame_rate(header))


def _check_declared_size(path: Path, header: Any, frames: int) -> None:
    """Refuse, from the header alone, frames above the limits and pixel data the file cannot hold."""
    values = {}
    for keyword in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel"):
        value = header.get(keyword, 1)
        try:
            values[keyword] = int(value)
        except (TypeError, ValueError):
            raise DataError(f"{path}: invalid {keyword} {value!r}") from None
    check_frame_size(path, values["Columns"], values["Rows"], "DICOM header")
    check_frame_count(path, frames, "DICOM header (NumberOfFrames)")
    if values["BitsAllocated"] not in (1, 8, 16, 32, 64) or values["SamplesPerPixel"] not in (1, 3, 4):
        raise DataError(f"{path}: unsupported BitsAllocated {values['BitsAllocated']} or SamplesPerPixel "
                        f"{values['SamplesPerPixel']}")
    size = path.stat().st_size
    meta = getattr(header, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None and getattr(syntax, "is_compressed", False):
        needed = frames * 8  # every encapsulated frame has at least an 8-byte item header
    else:
        needed = (values["Rows"] * values["Columns"] * values["SamplesPerPixel"] * values["BitsAllocated"]
                  * frames + 7) // 8
    if needed > size and not _is_deflated(header):
        raise DataError(f"{path}: DICOM header declares {frames} frame(s) of {values['Columns']}x{values['Rows']} "
                        f"px ({needed} bytes of pixel data) but the file holds {size} bytes")


def _promote_shared_groups(header: Any) -> None:
    """Enhanced multi-frame files keep rescale and window in the Shared Functional Groups: copy
    them to the top level (where the LUT functions look) unless it already has them. Per-frame
    functional groups are not applied (the first frame's values would be a guess)."""
    shared = header.get("SharedFunctionalGroupsSequence")
    if not shared:
        return
    groups = shared[0]
    for sequence, keywords in (
        ("PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept")),
        ("FrameVOILUTSequence", ("WindowCenter", "WindowWidth", "VOILUTFunction")),
    ):
        items = groups.get(sequence)
        if not items:
            continue
        for keyword in keywords:
            if keyword in items[0] and keyword not in header:
                setattr(header, keyword, items[0].get(keyword))


def frame_rate(header: Any) -> float | None:
    """Frames per second from Frame Time (ms), Frame Time Vector (ms), Cine Rate or Recommended
    Display Frame Rate, the first that holds a plausible rate (``plausible_fps``); None if none does.
    A tag that is missing, zero, negative, unparsable or absurd is passed over, not an error."""
    frame_time = _number(_tag(header, "FrameTime"))
    if frame_time is not None and frame_time > 0 and (fps := plausible_fps(1000.0 / frame_time)):
        return fps
    vector = _tag(header, "FrameTimeVector")
    if vector not in (None, ""):
        items = list(vector) if isinstance(vector, Iterable) and not isinstance(vector, (str, bytes)) else [vector]
        values = [v for v in (_number(item) for item in items) if v is not None]
        # The first entry is the time of frame 1 relative to itself (0): average the rest.
        intervals = [v for v in values[1:] if v > 0] or [v for v in values if v > 0]
        if intervals and (fps := plausible_fps(1000.0 / float(np.mean(intervals)))):
            return fps
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        if fps := plausible_fps(_number(_tag(header, keyword))):
            return fps
    return None


def _tag(header: Any, keyword: str) -> Any:
    """``header.get(keyword)``, or None when pydicom cannot convert the stored value (a DS of "n/a")."""
    try:
        return header.get(keyword)
    except (TypeError, ValueError, OverflowError):
        return None


def pixel_spacing(header: Any) -> list[float] | None:
    """(row, column) spacing in mm from ImagerPixelSpacing, else PixelSpacing; None when neither
    holds two finite positive numbers (a single value or "n/a" is no spacing, not a failure: the
    pixels still decode)."""
    for keyword in ("ImagerPixelSpacing", "PixelSpacing"):
        value = _tag(header, keyword)
        try:
            numbers = [_number(v) for v in value] if value is not None and not isinstance(value, str) else []
        except TypeError:  # one value stored: pydicom gives a number, not a sequence
            numbers = []
        if len(numbers) == 2 and all(n is not None and n > 0 for n in numbers):
            return [float(n) for n in numbers]
    return None


def _number(value: Any) -> float | None:
    """A DICOM numeric string or number as a finite float, else None."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _modality_range(header: Any) -> tuple[float, float]:
    """Output range of the Modality LUT stage (the same one pydicom's windowing assumes)."""
    if header.get("ModalityLUTSequence"):
        bits = int(header.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    bits = int(header.get("BitsStored") or header.BitsAllocated)
    if int(header.get("PixelRepresentation", 0)) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = header.get("RescaleSlope"), header.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = sorted((low * float(slope) + float(intercept), high * float(slope) + float(intercept)))
    return low, high


def frame_to_unit(array: np.ndarray, header: Any, path: Path | str = "") -> np.ndarray:
    """One decoded frame -> (H, W) float32 in [0, 1], MONOCHROME2 convention.

    Modality LUT, then VOI LUT (first window / LUT) when the header has one, then scaling by the
    output range of the last stage; colour frames are converted to grey; MONOCHROME1 is inverted.
    """
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if array.ndim == 3:
        if photometric.startswith("MONOCHROME"):
            raise DataError(f"{path}: expected one frame, got an array of shape {array.shape}")
        if array.shape[-1] < 3:
            raise DataError(f"{path}: {photometric} frame of shape {array.shape}; expected 3 colour samples")
        try:
            bits = int(header.get("BitsStored") or header.get("BitsAllocated") or 8)
        except (TypeError, ValueError):
            raise DataError(f"{path}: invalid BitsStored {header.get('BitsStored')!r}") from None
        grey = array[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.clip(grey / float(2 ** min(max(bits, 1), 64) - 1), 0.0, 1.0).astype(np.float32)
    try:
        values = apply_modality_lut(array, header)
        low, high = _modality_range(header)
        if header.get("VOILUTSequence"):
            values = apply_voi_lut(values, header, index=0, prefer_lut=True)
            low, high = 0.0, float(2 ** int(header.VOILUTSequence[0].LUTDescriptor[2]) - 1)
        elif header.get("WindowCenter") is not None and header.get("WindowWidth") is not None:
            values = apply_voi_lut(values, header, index=0)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot apply the Modality/VOI LUT ({_short(exc)})") from None
    image = (np.asarray(values, np.float64) - low) / max(high - low, 1e-12)
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    if photometric == "MONOCHROME1":
        image = 1.0 - image
    return image
