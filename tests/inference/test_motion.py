from __future__ import annotations

import cv2
import numpy as np

from cathx.inference.motion import motion_csv, motion_png, write_motion
from cathx.postprocess.motion import Motion


def _motion(catheter_id: int | None = 2) -> Motion:
    displacement = np.array([[0, 0], [1, 0.5], [np.nan, np.nan], [3, 1.5], [3, 1.5]], np.float64)
    quality = np.array(["measured", "partial", "missing", "measured", "held"])
    return Motion(np.arange(5), displacement + [50, 60], displacement, quality, np.array([10, 2, 0, 9, 0]),
                  catheter_id)


def test_motion_csv_rows_and_empty_cells():
    lines = motion_csv(_motion()).splitlines()
    assert lines[0] == "frame,x,y,dx,dy,quality,electrodes,catheter_id"
    assert lines[2] == "1,51.0,60.5,1.0,0.5,partial,2,2"
    assert lines[3] == "2,,,,,missing,0,2"
    assert len(lines) == 6


def test_motion_png_decodes_with_and_without_cs(tmp_path):
    for motion in (_motion(), _motion(None)):
        image = cv2.imdecode(np.frombuffer(motion_png(motion, fps=15.0, title="clip.mp4"), np.uint8),
                             cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] > 300 and image.shape[1] > 600
        assert image.std() > 5  # something is drawn
    paths = write_motion(tmp_path, _motion())
    assert paths["csv"].read_text().startswith("frame,") and paths["png"].read_bytes()[:4] == b"\x89PNG"
