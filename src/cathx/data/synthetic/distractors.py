"""Unlabelled devices that look like catheters: implants, probes, contrast and wires that cross the
heart. A model that is to work on real images must learn to leave these alone, so each one is
drawn with the same physics (line integrals) as the labelled catheters.

Every sampler takes ``(rng, size, view)`` and returns ``Primitive`` items in image pixels; the
scene decides with ``SynthConfig`` probabilities which ones appear.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from cathx.data.synthetic.geometry import View, resample, smooth_curve


@dataclass
class Primitive:
    """A 2D distractor element in image pixels: a tube, a disc/sphere or a filled polygon."""

    shape: str  # "tube", "sphere", "disc", "polygon"
    points: np.ndarray  # tube/polygon: (M, 2); sphere/disc: (1, 2) centre
    radius: float  # px (tube radius, disc radius; polygon: edge softness)
    peak: float
    chest_wall: bool = True  # moves with the chest wall (less than the heart)


def edge_point(rng: np.random.Generator, size: int, side: int) -> np.ndarray:
    """A point just outside side 0 (top), 1 (right), 2 (bottom) or 3 (left) of the frame."""
    t = rng.uniform(0.05, 0.95) * size
    return np.array([[t, -8.0], [size + 8.0, t], [t, size + 8.0], [-8.0, t]][side])


def curve2d(control: list[np.ndarray] | np.ndarray, step: float = 0.5) -> np.ndarray:
    """Smooth polyline through 2D control points, resampled every ``step`` px."""
    return resample(smooth_curve(np.asarray(control, np.float64), step=step), step)


def _heart_point(rng: np.random.Generator, view: View, spread_mm: float) -> np.ndarray:
    return np.asarray(view.centre, np.float64) + rng.normal(0, spread_mm * view.px_per_mm, 2)


def _rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def icd_lead(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """A defibrillator lead from the upper chest to the right-ventricular apex with one or two
    shock coils: a thick, dense, finely striped segment that no target catheter has."""
    k = view.px_per_mm
    start = np.array([size * rng.uniform(0.7, 1.05), size * rng.uniform(-0.05, 0.15)])
    apex = _heart_point(rng, view, 15.0) + np.array([-25.0, 35.0]) * k
    bend = (start + apex) / 2 + rng.normal(0, 20 * k, 2)
    lead = curve2d([start, bend, apex])
    items = [Primitive("tube", lead, rng.uniform(0.8, 1.1) * k, rng.uniform(0.3, 0.5), False)]
    step_mm = 0.5 / k  # curve2d samples every 0.5 px
    for start_mm, length_mm in ((rng.uniform(8, 15), rng.uniform(40, 60)), (rng.uniform(120, 160), rng.uniform(50, 70))):
        if len(items) > 1 and rng.random() < 0.5:
            break  # single-coil lead
        a, b = int(start_mm / step_mm), int((start_mm + length_mm) / step_mm)
        coil = lead[::-1][a:b]  # measured from the tip
        if len(coil) < 4:
            continue
        items.append(Primitive("tube", coil, rng.uniform(1.3, 1.7) * k, rng.uniform(0.8, 1.4), False))
        # the winding: short dense bars across the coil every ~1.2 mm
        for index in range(0, len(coil) - 2, max(int(1.2 / step_mm), 1)):
            direction = coil[min(index + 2, len(coil) - 1)] - coil[index]
            normal = np.array([-direction[1], direction[0]]) / (np.linalg.norm(direction) + 1e-9)
            half = 1.5 * k * normal
            items.append(Primitive("tube", np.stack([coil[index] - half, coil[index] + half]), 0.25 * k, 0.5, False))
    items.append(Primitive("sphere", lead[-1][None], rng.uniform(1.0, 1.4) * k, rng.uniform(1.0, 1.6), False))
    return items


def surgical_clips(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """1-6 haemostatic clips: short, very dense bars, straight or V-shaped."""
    k = view.px_per_mm
    items = []
    for _ in range(int(rng.integers(1, 7))):
        centre = _heart_point(rng, view, 60.0)
        length = rng.uniform(3.0, 7.0) * k
        angle = rng.uniform(0, np.pi)
        axis = length / 2 * np.array([np.cos(angle), np.sin(angle)])
        peak = rng.uniform(1.2, 2.4)
        if rng.random() < 0.5:
            items.append(Primitive("tube", np.stack([centre - axis, centre + axis]), rng.uniform(0.5, 0.8) * k, peak))
        else:
            tip = centre + _rotation(np.pi / 2) @ axis * rng.uniform(0.2, 0.5)
            for side in (-1.0, 1.0):
                items.append(Primitive("tube", np.stack([tip, centre + side * axis]), 0.5 * k, peak))
    return items


def stent(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """A coronary stent: a faint zig-zag mesh along a short curved segment."""
    k = view.px_per_mm
    start = _heart_point(rng, view, 35.0)
    angle = rng.uniform(0, 2 * np.pi)
    length = rng.uniform(12.0, 30.0) * k
    end = start + length * np.array([np.cos(angle), np.sin(angle)])
    axis = curve2d([start, (start + end) / 2 + rng.normal(0, 3 * k, 2), end])
    radius = rng.uniform(1.4, 2.0) * k
    tangent = np.gradient(axis, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / (np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9)
    phase = np.arange(len(axis)) * 0.5 / (rng.uniform(1.5, 2.5) * k) * np.pi
    peak = rng.uniform(0.3, 0.7)
    items = []
    for offset in (0.0, np.pi / 2):
        zigzag = axis + normal * radius * np.sign(np.sin(phase + offset))[:, None] * np.abs(np.sin(phase + offset))[:, None]
        items.append(Primitive("tube", zigzag, 0.2 * k, peak, False))
    return items


def valve_ring(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """A prosthetic valve or annuloplasty ring: a dense ellipse (a foreshortened circle) with struts."""
    k = view.px_per_mm
    centre = _heart_point(rng, view, 20.0)
    radius = rng.uniform(10.0, 15.0) * k
    aspect = rng.uniform(0.25, 1.0)
    tilt = rng.uniform(0, np.pi)
    t = np.linspace(0, 2 * np.pi, 96)
    ring = np.stack([radius * np.cos(t), aspect * radius * np.sin(t)], 1) @ _rotation(tilt).T + centre
    items = [Primitive("tube", ring, rng.uniform(0.9, 1.5) * k, rng.uniform(0.8, 1.6), False)]
    if rng.random() < 0.6:  # a tissue valve's three posts
        up = _rotation(tilt) @ np.array([0.0, -1.0])
        for angle in (0.0, 2 * np.pi / 3, 4 * np.pi / 3):
            foot = np.array([radius * np.cos(angle), aspect * radius * np.sin(angle)]) @ _rotation(tilt).T + centre
            items.append(Primitive("tube", np.stack([foot, foot + up * rng.uniform(8, 14) * k]), 0.6 * k, 0.8, False))
    return items


def tee_probe(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """A transoesophageal echo probe: a thick shaft from the top with wire bundles inside and a
    large dense transducer head behind the heart."""
    k = view.px_per_mm
    head_centre = _heart_point(rng, view, 20.0) + np.array([10.0, -10.0]) * k
    top = np.array([head_centre[0] + rng.normal(0, 15 * k), -10.0])
    shaft = curve2d([top, (top + head_centre) / 2 + rng.normal(0, 6 * k, 2), head_centre])
    items = [Primitive("tube", shaft, rng.uniform(4.0, 5.5) * k, rng.uniform(0.3, 0.6), False)]
    for offset in (-1.5, 1.5):
        wires = shaft + np.array([offset * k, 0.0])
        items.append(Primitive("tube", wires, 0.4 * k, rng.uniform(0.2, 0.4), False))
    direction = shaft[-1] - shaft[-10]
    angle = np.arctan2(direction[1], direction[0])
    w, h = rng.uniform(30, 40) * k, rng.uniform(10, 14) * k
    box = np.array([[0, -h / 2], [w, -h / 2], [w, h / 2], [0, h / 2]]) @ _rotation(angle).T + head_centre
    items.append(Primitive("polygon", box, 1.5, rng.uniform(1.0, 2.0), False))
    return items


def contrast_vessels(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """Contrast-filled vessels (a coronary or venous injection): a tapering branching tree of wide,
    low-contrast tubes; the hardest look-alike for a catheter shaft."""
    k = view.px_per_mm
    items = []
    stack = [(_heart_point(rng, view, 25.0), rng.uniform(0, 2 * np.pi), rng.uniform(1.5, 2.5) * k, 0)]
    peak = rng.uniform(0.08, 0.3)
    while stack and len(items) < 40:
        position, angle, radius, depth = stack.pop()
        points = [position]
        for _ in range(int(rng.integers(3, 6))):
            angle += rng.normal(0, 0.35)
            points.append(points[-1] + rng.uniform(6, 12) * k * np.array([np.cos(angle), np.sin(angle)]))
        items.append(Primitive("tube", curve2d(points), radius, peak, False))
        if depth < 3 and radius > 0.6 * k:
            for turn in (-1.0, 1.0):
                if rng.random() < 0.7:
                    stack.append((points[-1], angle + turn * rng.uniform(0.3, 0.9), radius * 0.7, depth + 1))
    return items


def crossing_wires(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """ECG or monitoring wires, alone or in a loose bundle, crossing the frame through the heart
    region, so they cross and touch the labelled catheters."""
    k = view.px_per_mm
    side = int(rng.integers(4))
    start, end = edge_point(rng, size, side), edge_point(rng, size, (side + 2) % 4)
    through = _heart_point(rng, view, 25.0)
    path = curve2d([start, (start + through) / 2 + rng.normal(0, 10 * k, 2), through,
                    (through + end) / 2 + rng.normal(0, 10 * k, 2), end])
    tangent = np.gradient(path, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / (np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9)
    items = []
    for index in range(int(rng.integers(1, 5))):
        wobble = np.sin(np.arange(len(path)) / rng.uniform(40, 120) + rng.uniform(0, 6))[:, None]
        offset = (index * rng.uniform(1.2, 2.5) + rng.uniform(0.0, 1.0) * wobble) * k
        items.append(Primitive("tube", path + normal * offset, rng.uniform(0.35, 0.7) * k, rng.uniform(0.15, 0.5)))
    return items


def look_alikes(rng: np.random.Generator, size: int, view: View) -> list[Primitive]:
    """1-3 procedural look-alikes that model no particular device: open curves, closed and twisted
    loops, springs (a coil seen side on), zig-zags and scattered short bars, each at a width
    (0.15-2 mm) and density drawn from broad log-uniform ranges, some passing through the heart
    region so they cross the catheters. Every drawn device kind is one fixed shape family; these
    stand in for the devices a laboratory has and the engine does not draw, so that a model learns
    what a target catheter is rather than a list of what it is not. No bands or rings: a banded tube
    would be indistinguishable from a labelled catheter."""
    k = view.px_per_mm
    items: list[Primitive] = []
    for _ in range(int(rng.integers(1, 4))):
        shape = str(rng.choice(["curve", "loop", "spring", "zigzag", "bars"]))
        radius = float(np.exp(rng.uniform(np.log(0.15), np.log(2.0)))) * k
        peak = float(np.exp(rng.uniform(np.log(0.08), np.log(1.5))))
        centre = _heart_point(rng, view, 45.0)
        angle = rng.uniform(0, 2 * np.pi)
        if shape == "curve":  # a random smooth path, 20-150 mm, turning freely
            points, heading = [centre], angle
            for _ in range(int(rng.integers(3, 8))):
                heading += rng.normal(0, rng.uniform(0.1, 0.9))
                points.append(points[-1] + rng.uniform(5, 25) * k * np.array([np.cos(heading), np.sin(heading)]))
            items.append(Primitive("tube", curve2d(points), radius, peak, bool(rng.random() < 0.5)))
        elif shape == "loop":  # a closed loop, sometimes twisted into a figure of eight
            t = np.linspace(0, 2 * np.pi, 96)
            a, b = rng.uniform(3, 20) * k, rng.uniform(0.15, 1.0)
            twist = np.sin(t) if rng.random() < 0.4 else np.ones_like(t)
            loop = np.stack([a * np.cos(t), a * b * np.sin(t) * twist], 1) @ _rotation(angle).T + centre
            items.append(Primitive("tube", loop, radius, peak, bool(rng.random() < 0.5)))
        elif shape == "spring":  # a coil seen side on: a tight sine along a short curved axis
            length = rng.uniform(10, 60) * k
            end = centre + length * np.array([np.cos(angle), np.sin(angle)])
            axis = curve2d([centre, (centre + end) / 2 + rng.normal(0, 4 * k, 2), end])
            tangent = np.gradient(axis, axis=0)
            normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / (np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9)
            phase = np.arange(len(axis)) * 0.5 / (rng.uniform(0.8, 4.0) * k) * 2 * np.pi
            coil = axis + normal * rng.uniform(1.0, 4.0) * k * np.sin(phase)[:, None]
            items.append(Primitive("tube", coil, min(radius, 0.4 * k), peak, False))
        elif shape == "zigzag":  # a bent wire: straight runs with sharp corners
            points, heading = [centre], angle
            for _ in range(int(rng.integers(3, 9))):
                heading += rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 2.4)
                points.append(points[-1] + rng.uniform(3, 15) * k * np.array([np.cos(heading), np.sin(heading)]))
            path = np.concatenate([resample(np.stack([p, q]), 0.5) for p, q in itertools.pairwise(points)])
            items.append(Primitive("tube", path, radius, peak, False))
        else:  # 2-8 short straight bars scattered around one place
            for _ in range(int(rng.integers(2, 9))):
                middle = centre + rng.normal(0, 12 * k, 2)
                turn = rng.uniform(0, np.pi)
                half = rng.uniform(1.5, 8) * k * np.array([np.cos(turn), np.sin(turn)])
                items.append(Primitive("tube", np.stack([middle - half, middle + half]), radius, peak))
    return items


# name -> sampler; the scene draws each with SynthConfig.<name>_probability
SAMPLERS = {
    "icd_lead": icd_lead,
    "clips": surgical_clips,
    "stent": stent,
    "valve": valve_ring,
    "tee_probe": tee_probe,
    "contrast": contrast_vessels,
    "crossing_wires": crossing_wires,
    "look_alikes": look_alikes,
}
# samplers added after datasets and model cards were made from the engine: they take a draw from the
# random stream only when their probability is above 0, so frames of a seed stay what they were
DRAWN_ONLY_WHEN_ON = frozenset({"look_alikes"})
