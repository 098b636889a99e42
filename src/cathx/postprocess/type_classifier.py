"""A learned catheter-type decision over what the post-processing measures of one catheter.

The electrode-pattern rules (catheter_type.classify_pattern) are exact on true electrodes but
brittle on a network's: a false peak on a shaft turns a quadripolar catheter into a CS catheter.
The type head (CathMTL ``type_head``) sees the image but confuses catheters lying side by side.
``TypeClassifier`` is a one-hidden-layer perceptron over both: the rule features of the catheter's
electrodes, its length, and the head's mean probabilities along its centreline. It is fitted on
the network's own predictions of synthetic frames (cathx.training.type_head), so it learns how
that network's errors look, and stored as plain numbers in the checkpoint's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cathx.postprocess.catheter_type import PatternFeatures, mean_type_probabilities
from cathx.postprocess.centreline import polyline_length
from cathx.structures import TYPE_HEAD_CLASSES

FEATURE_NAMES: tuple[str, ...] = (
    "count", "no_electrodes", "count_1_2", "count_3_4", "count_5_6", "count_7_11", "count_12_up",
    "closed", "gap_cv", "alternation", "log_tip_ratio", "log_tail_ratio", "mean_gap", "spread", "length",
    *(f"head_{kind}" for kind in TYPE_HEAD_CLASSES),
)


def catheter_features(pattern: PatternFeatures, length: float, head: np.ndarray | None) -> np.ndarray:
    """(len(FEATURE_NAMES),) float32 features of one catheter, each scaled to about [0, 2].

    pattern: its electrode pattern; length: its centreline's length in pixels at the network's
    input size; head: (5,) the type head's mean probabilities along it, or None (no head: zeros).
    """
    n = pattern.count
    head = np.zeros(len(TYPE_HEAD_CLASSES)) if head is None else np.asarray(head, np.float64).reshape(-1)
    values = [
        min(n, 20) / 10.0, n == 0, 1 <= n <= 2, 3 <= n <= 4, 5 <= n <= 6, 7 <= n <= 11, n >= 12,
        pattern.closed, min(pattern.gap_cv, 2.0), min(pattern.alternation, 2.0),
        float(np.log(np.clip(pattern.tip_ratio, 0.25, 4.0))), float(np.log(np.clip(pattern.tail_ratio, 0.25, 4.0))),
        min(pattern.mean_gap, 40.0) / 10.0, min(pattern.spread, 2.0), min(length, 400.0) / 100.0,
        *head.tolist(),
    ]
    return np.asarray(values, np.float32)


def centreline_features(pattern: PatternFeatures, centreline: np.ndarray, type_probabilities: np.ndarray | None,
                        image_size: tuple[int, int]) -> np.ndarray:
    """catheter_features of a catheter along ``centreline`` (M, 2) image pixels: its length and, with
    a type head's (5, h, w) ``type_probabilities``, their mean along it. One recipe for analyse_frame's
    catheters and the Tracker's split pieces."""
    head = None if type_probabilities is None else mean_type_probabilities(type_probabilities, centreline, image_size)
    return catheter_features(pattern, polyline_length(centreline), head)


@dataclass(frozen=True)
class TypeClassifier:
    """softmax(relu(((x - mean) / scale) @ w1 + b1) @ w2 + b2) over TYPE_HEAD_CLASSES.

    mean, scale: (F,) feature standardisation; w1 (F, H), b1 (H,), w2 (H, 5), b2 (5,).
    """

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, F) or (F,) features -> (N, 5) or (5,) class probabilities."""
        x = (np.asarray(features, np.float64) - self.mean) / self.scale
        hidden = np.maximum(x @ self.w1 + self.b1, 0.0)
        logits = hidden @ self.w2 + self.b2
        logits = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=-1, keepdims=True)

    def __call__(self, features: np.ndarray) -> tuple[str, float]:
        """(type, probability) of one catheter's features."""
        return self.decide(features)[0]

    def decide(self, features: np.ndarray) -> list[tuple[str, float]]:
        """(type, probability) of each row of (N, F) features (one perceptron pass for all)."""
        probabilities = self.probabilities(np.asarray(features).reshape(-1, len(self.mean)))
        best = probabilities.argmax(axis=1)
        return [(TYPE_HEAD_CLASSES[b], float(p[b])) for b, p in zip(best.tolist(), probabilities)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists of numbers plus the feature and class names they belong to."""
        return {"features": list(FEATURE_NAMES), "classes": list(TYPE_HEAD_CLASSES),
                **{name: np.asarray(getattr(self, name), np.float64).round(6).tolist()
                   for name in ("mean", "scale", "w1", "b1", "w2", "b2")}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TypeClassifier:
        """Inverse of to_dict; ValueError when the features, classes or shapes do not fit."""
        if list(data.get("features", [])) != list(FEATURE_NAMES) or list(data.get("classes", [])) != list(TYPE_HEAD_CLASSES):
            raise ValueError("type classifier was fitted on other features or classes")
        arrays = {name: np.asarray(data[name], np.float64) for name in ("mean", "scale", "w1", "b1", "w2", "b2")}
        features, hidden = len(FEATURE_NAMES), arrays["b1"].shape[0] if arrays["b1"].ndim == 1 else -1
        expected = {"mean": (features,), "scale": (features,), "w1": (features, hidden), "b1": (hidden,),
                    "w2": (hidden, len(TYPE_HEAD_CLASSES)), "b2": (len(TYPE_HEAD_CLASSES),)}
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ValueError(f"type classifier {name} has shape {arrays[name].shape}, expected {shape}")
        return cls(**arrays)
