"""Post-processing: centrelines, electrode assignment, catheter type, tracking, Results."""

from __future__ import annotations

from cathx.postprocess.assignment import Assignment, assign_electrodes, project_to_polyline
from cathx.postprocess.catheter_type import (
    PatternFeatures,
    classify_catheter,
    classify_pattern,
    pattern_features,
)
from cathx.postprocess.centreline import Centreline, extract_centrelines, polyline_length, resample_polyline
from cathx.postprocess.results import Catheter, Results, analyse_frame, rescale_results
from cathx.postprocess.motion import MotionCurve
from cathx.postprocess.tracking import Tracker

__all__ = [
    "Assignment", "Catheter", "Centreline", "MotionCurve", "PatternFeatures", "Results", "Tracker",
    "analyse_frame", "assign_electrodes", "classify_catheter", "classify_pattern", "extract_centrelines",
    "pattern_features", "polyline_length", "project_to_polyline", "rescale_results", "resample_polyline",
]
