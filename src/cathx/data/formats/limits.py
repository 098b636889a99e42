"""Size limits every reader checks from file headers before decoding pixels.

A file can declare a frame far larger than it holds (a 60000x60000 PNG of a few kB, a DICOM with
100000 frames of 4096x4096): the readers compare the declaration with these limits, and with the
bytes actually present, and refuse the file with one line before allocating anything.

The limits are a typed dataclass; ``read_limits()`` takes the defaults, overridden by environment
variables (``CATHX_MAX_IMAGE_SIDE``, ``CATHX_MAX_FRAMES``), so they apply to every command and
to the Python API alike. A bad value or an unknown ``CATHX_MAX_*`` variable is an error naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from cathx.errors import ConfigError, DataError

ENV_PREFIX = "CATHX_MAX_"


@dataclass(frozen=True)
class ReadLimits:
    """max_image_side: largest width or height in pixels of one frame (any format).
    max_frames: most frames one file (multi-frame DICOM, HDF5 volume) may declare."""

    max_image_side: int = 16384
    max_frames: int = 20000


def _env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.removeprefix("max_").upper()


def read_limits() -> ReadLimits:
    """The limits in force: ReadLimits defaults overridden by CATHX_MAX_IMAGE_SIDE / CATHX_MAX_FRAMES."""
    names = {_env_name(f.name): f.name for f in fields(ReadLimits)}
    for variable in os.environ:
        if variable.startswith(ENV_PREFIX) and variable not in names:
            raise ConfigError(f"unknown environment variable {variable}; valid: {', '.join(names)}")
    values = {}
    for variable, field_name in names.items():
        text = os.environ.get(variable)
        if text is None:
            continue
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"{variable}={text!r}: expected a positive whole number")
        values[field_name] = value
    return ReadLimits(**values)


def check_frame_size(source: object, width: int, height: int, what: str = "image header") -> None:
    """DataError naming ``source`` when a declared frame is empty or has a side above the limit."""
    limit = read_limits().max_image_side
    if width < 1 or height < 1:
        raise DataError(f"{source}: {what} declares {width}x{height} px (an empty frame)")
    if max(width, height) > limit:
        raise DataError(f"{source}: {what} declares {width}x{height} px; the largest supported side is "
                        f"{limit} (CATHX_MAX_IMAGE_SIDE; refused before decoding)")


def check_frame_count(source: object, frames: int, what: str = "header") -> None:
    """DataError naming ``source`` when a file declares no frames or more than the limit."""
    limit = read_limits().max_frames
    if frames < 1:
        raise DataError(f"{source}: {what} declares {frames} frames")
    if frames > limit:
        raise DataError(f"{source}: {what} declares {frames} frames; at most {limit} per file are read "
                        f"(CATHX_MAX_FRAMES; refused before decoding)")
