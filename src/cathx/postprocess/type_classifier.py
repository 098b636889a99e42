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

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from cathx.postprocess.catheter_type import PatternFeatures
from cathx.structures import TYPE_HEAD_CLASSES

# Every feature catheter_features measures. A fitted decision names the ones it uses (a subset, in
# its own order), so decisions fitted before a feature was added keep working.
FEATURE_NAMES: tuple[str, ...] = (
    "count", "no_electrodes", "count_1_2", "count_3_4", "count_5_6", "count_7_11", "count_12_up",
    "closed", "gap_cv", "alternation", "log_tip_ratio", "log_tail_ratio", "mean_gap", "spread", "length",
    *(f"head_{kind}" for kind in TYPE_HEAD_CLASSES),
    "turning", "electrode_turning", *(f"electrode_head_{kind}" for kind in TYPE_HEAD_CLASSES),
    "score_mean", "count_confident",
)
# The features of the decisions shipped before "turning" and "electrode_*" were added.
FEATURE_NAMES_V1: tuple[str, ...] = FEATURE_NAMES[:20]
# ... and before the electrode scores were (2026-12-04).
FEATURE_NAMES_V2: tuple[str, ...] = FEATURE_NAMES[:27]
# An electrode peak at least this sure counts as confident: on 150 frames of the shipped network
# the peaks within 3 px of a true electrode scored 0.6-0.67 at the median, the others 0.37-0.44
# (a pacing lead's coil and a shaft's bends give the false ones).
CONFIDENT_SCORE = 0.5
# Curvature in radians per pixel times this: a lasso's loop (radius 8-15 px at 256 px) 0.7-1.3,
# a straight catheter near 0.
TURNING_SCALE = 10.0
# The centreline's turning is measured on it resampled every this many pixels (the skeleton's
# one-pixel staircase would read as turning).
TURNING_STEP = 4.0


def feature_columns(names: tuple[str, ...] | list[str]) -> list[int]:
    """Positions of ``names`` among FEATURE_NAMES (ValueError for a name not among them)."""
    return [FEATURE_NAMES.index(name) for name in names]


def catheter_features(pattern: PatternFeatures, length: float, head: np.ndarray | None, turning: float = 0.0,
                      electrode_turning: float = 0.0, electrode_head: np.ndarray | None = None,
                      scores: np.ndarray | None = None) -> np.ndarray:
    """(len(FEATURE_NAMES),) float32 features of one catheter, each scaled to about [0, 2].

    pattern: its electrode pattern; length: its centreline's length in pixels at the network's
    input size; head: (5,) the type head's mean probabilities along it, or None (no head: zeros);
    turning, electrode_turning: ``compiled.turning_per_pixel`` of its centreline and of its electrodes joined
    tip to tail (a lasso's rings lie on a tight curve, a CS catheter's on a gentle one);
    electrode_head: (5,) the head's mean over the cells holding its electrodes (where the types
    differ: shafts look alike), None: ``head``; scores: (K,) its electrodes' peak scores (None: all
    taken as sure, 1.0): their mean and how many reach CONFIDENT_SCORE (false peaks score lower).
    """
    n = pattern.count
    head = np.zeros(len(TYPE_HEAD_CLASSES)) if head is None else np.asarray(head, np.float64).reshape(-1)
    electrode_head = head if electrode_head is None else np.asarray(electrode_head, np.float64).reshape(-1)
    values = [
        min(n, 20) / 10.0, n == 0, 1 <= n <= 2, 3 <= n <= 4, 5 <= n <= 6, 7 <= n <= 11, n >= 12,
        pattern.closed, min(pattern.gap_cv, 2.0), min(pattern.alternation, 2.0),
        _log_ratio(pattern.tip_ratio), _log_ratio(pattern.tail_ratio),
        min(pattern.mean_gap, 40.0) / 10.0, min(pattern.spread, 2.0), min(length, 400.0) / 100.0,
        *head.tolist(),
        min(turning * TURNING_SCALE, 2.0), min(electrode_turning * TURNING_SCALE, 2.0), *electrode_head.tolist(),
        *_score_features(n, scores),
    ]
    return np.asarray(values, np.float32)


def _log_ratio(ratio: float) -> float:
    """log of a ratio clipped to [0.25, 4] (math on a Python float: NumPy's scalar calls cost
    microseconds each, and every catheter of every frame takes two; the float32 feature is the
    same)."""
    return math.log(min(max(float(ratio), 0.25), 4.0))


def _score_features(count: int, scores: np.ndarray | None) -> tuple[float, float]:
    """(mean peak score, confident peaks / 10 capped at 2) of a catheter's ``count`` electrodes."""
    if scores is None or len(scores) == 0:
        return (1.0 if count else 0.0), min(count, 20) / 10.0
    from cathx.postprocess.compiled import pairwise_sum

    scores = np.ascontiguousarray(scores, np.float64).reshape(-1)
    # NumPy's mean to the bit (its pairwise sum) at a fraction of the calls; this runs for every
    # catheter of every frame.
    confident = sum(1 for value in scores.tolist() if value >= CONFIDENT_SCORE)
    return float(pairwise_sum(scores, 0.0)) / len(scores), min(confident, 20) / 10.0


def centreline_features(pattern: PatternFeatures, centreline: np.ndarray, type_probabilities: np.ndarray | None,
                        image_size: tuple[int, int], electrodes: np.ndarray | None = None,
                        scores: np.ndarray | None = None) -> np.ndarray:
    """catheter_features of a catheter along ``centreline`` (M, 2) image pixels, with its electrodes
    (K, 2) ordered from the tip (None: none) and their (K,) peak scores: its length and turning, its
    electrodes' turning and scores and, with a type head's (5, h, w) ``type_probabilities``, their
    mean along it and at the electrodes. One recipe for analyse_frame's catheters and the Tracker's
    split pieces."""
    from cathx.postprocess.compiled import catheter_geometry

    line = np.asarray(centreline)
    if line.dtype not in (np.float32, np.float64):
        line = line.astype(np.float64)
    rows = np.zeros((0, 2)) if electrodes is None else np.asarray(electrodes, np.float64).reshape(-1, 2)
    head_map = _NO_HEAD if type_probabilities is None or np.ndim(type_probabilities) != 3 else \
        np.ascontiguousarray(type_probabilities, np.float32)
    length, turning, electrode_turning, head, electrode_head = catheter_geometry(
        np.ascontiguousarray(line.reshape(-1, 2)), np.ascontiguousarray(rows), head_map, int(image_size[0]),
        int(image_size[1]), TURNING_STEP)
    return catheter_features(pattern, length, head if len(head) else None, turning, electrode_turning,
                             electrode_head if len(electrode_head) else None, scores)


_NO_HEAD = np.zeros((0, 1, 1), np.float32)


@dataclass(frozen=True)
class TypeClassifier:
    """softmax(relu(((x - mean) / scale) @ w1 + b1) @ w2 + b2) over TYPE_HEAD_CLASSES.

    Its input is a table of all FEATURE_NAMES; it reads the F columns named in ``features``.
    mean, scale: (F,) feature standardisation; w1 (F, H), b1 (H,), w2 (H, 5), b2 (5,).
    """

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    features: tuple[str, ...] = FEATURE_NAMES

    @cached_property
    def columns(self) -> list[int]:
        """Positions of ``features`` among FEATURE_NAMES."""
        return feature_columns(self.features)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, len(FEATURE_NAMES)) or (len(FEATURE_NAMES),) features -> (N, 5) or (5,) class probabilities."""
        table = np.asarray(features, np.float64)
        if tuple(self.features) != FEATURE_NAMES:
            table = table[..., self.columns]
        x = (table - self.mean) / self.scale
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
        probabilities = self.probabilities(np.asarray(features).reshape(-1, len(FEATURE_NAMES)))
        best = probabilities.argmax(axis=1)
        return [(TYPE_HEAD_CLASSES[b], float(p[b])) for b, p in zip(best.tolist(), probabilities)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists of numbers plus the feature and class names they belong to."""
        return {"features": list(self.features), "classes": list(TYPE_HEAD_CLASSES),
                **{name: np.asarray(getattr(self, name), np.float64).round(6).tolist()
                   for name in ("mean", "scale", "w1", "b1", "w2", "b2")}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TypeClassifier:
        """Inverse of to_dict; ValueError when the features, classes or shapes do not fit."""
        names = tuple(data.get("features", ()))
        if not names or not set(names) <= set(FEATURE_NAMES) or len(set(names)) != len(names) \
                or list(data.get("classes", [])) != list(TYPE_HEAD_CLASSES):
            raise ValueError("type classifier was fitted on other features or classes")
        arrays = {name: np.asarray(data[name], np.float64) for name in ("mean", "scale", "w1", "b1", "w2", "b2")}
        features, hidden = len(names), arrays["b1"].shape[0] if arrays["b1"].ndim == 1 else -1
        expected = {"mean": (features,), "scale": (features,), "w1": (features, hidden), "b1": (hidden,),
                    "w2": (hidden, len(TYPE_HEAD_CLASSES)), "b2": (len(TYPE_HEAD_CLASSES),)}
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ValueError(f"type classifier {name} has shape {arrays[name].shape}, expected {shape}")
        return cls(**arrays, features=names)
