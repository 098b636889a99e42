"""Compile the post-processing's Numba kernels ahead of the first prediction.

``python -m cathx.postprocess.precompile`` (run by `make setup`) post-processes and tracks a small
drawn frame, which compiles (or loads) every kernel of ``cathx.postprocess.compiled`` for the
argument types a prediction uses: about 25 s once on a new installation, instead of in the
first prediction that finds catheters.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from cathx.postprocess.compiled import decode_peaks
from cathx.postprocess.results import analyse_frame
from cathx.postprocess.tracking import Tracker
from cathx.postprocess.type_classifier import FEATURE_NAMES, TypeClassifier
from cathx.structures import TYPE_HEAD_CLASSES


def warm_up() -> float:
    """Compile (or load) the kernels for the argument types a prediction uses, on a small drawn
    frame: a catheter with a loop, a crossing wire, electrodes on them and a row of two beyond
    them, post-processed and tracked over two frames, typed by a type head alone and then with a
    learned decision. `make setup` runs it so that the first prediction does not wait for the
    compiler. Returns the seconds it took."""
    started = time.perf_counter()
    mask = np.zeros((96, 96), np.uint8)
    cv2.polylines(mask, [np.array([[10, 80], [40, 50], [70, 30], [80, 15]], np.int32).reshape(-1, 1, 2)], False, 1, 3)
    cv2.circle(mask, (60, 65), 12, 1, 2)
    cv2.line(mask, (5, 20), (90, 60), 1, 2)
    # Five electrodes on the catheters, and two far from every line (a row of their own).
    peaks = np.array([[70.0, 30.0, 0.9, 3.0, 4.0], [62.0, 35.0, 0.8, 3.0, 3.0], [55.0, 41.0, 0.7, 3.0, 3.0],
                      [48.0, 45.0, 0.6, 3.0, 3.0], [60.0, 53.0, 0.9, 3.0, 3.0],
                      [88.0, 88.0, 0.9, 3.0, 3.0], [84.0, 91.0, 0.9, 3.0, 3.0]], np.float32)
    heatmap = np.full((96, 96), -6.0, np.float32)
    heatmap[30, 70] = 2.0
    decode_peaks(heatmap, np.ones((2, 96, 96), np.float32), 0.0, 64, 1)
    types = np.full((5, 12, 12), 0.2, np.float32)
    # A learned type decision of the right shape (its weights do not matter here): the shipped
    # model types every catheter through it.
    width = len(FEATURE_NAMES)
    decision = TypeClassifier(np.zeros(width), np.ones(width), np.zeros((width, 2)), np.zeros(2),
                              np.zeros((2, len(TYPE_HEAD_CLASSES))), np.zeros(len(TYPE_HEAD_CLASSES)))
    for classifier in (None, decision):  # a type head alone, then the head and the decision
        tracker = Tracker(type_classifier=classifier)
        for shift in (0.0, 1.0):
            results = analyse_frame(mask > 0, peaks + np.float32([shift, shift, 0, 0, 0]), type_probabilities=types,
                                    type_classifier=classifier)
            tracker.update(results)
    return time.perf_counter() - started


if __name__ == "__main__":  # `python -m cathx.postprocess.precompile` (make setup): compile now
    print(f"cathx post-processing compiled in {warm_up():.1f} s")
