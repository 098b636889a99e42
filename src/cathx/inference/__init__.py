"""Inference: Predictor (torch or ONNX Runtime), frame sources, overlays and video output."""

from __future__ import annotations

from cathx.inference.predictor import Predictor, to_unit_grey

__all__ = ["Predictor", "to_unit_grey"]
