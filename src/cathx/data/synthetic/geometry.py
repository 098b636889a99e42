"""Device geometry: 3D centrelines in millimetres, electrode layouts per catheter type, projection.

Patient frame (mm), origin at the heart centre: x to the image right (the patient's left in an
AP view), y down (caudal), z away from the X-ray source (posterior). Every device centreline is
an (M, 3) array ordered from the distal tip (index 0) to the proximal end, resampled every
``STEP_MM``, so the arc length from the tip of point i is ``i * STEP_MM``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cathx.geometry import arc_length, catmull_rom

STEP_MM = 0.5


@dataclass
class Device:
    """A tube-like object: a target catheter or an unlabelled distractor.

    points: (M, 3) mm, tip first. radius_mm: shaft radius. shaft_attenuation: line integral of
    attenuation through the tube's axis (dimensionless, -log transmission).
    electrodes: (E, 2) [centre arc length from tip, length] in mm.
    """

    kind: str
    points: np.ndarray
    radius_mm: float
    shaft_attenuation: float
    electrodes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float64))
    electrode_attenuation: float = 1.2
    electrode_radius_scale: float = 1.08
    target: bool = True
    motion_weight: float = 1.0  # how much the device follows cardiac motion (0 = chest wall)


@dataclass(frozen=True)
class View:
    """C-arm view: rotation, scale and where the heart centre lands in the image."""

    rotation: np.ndarray  # (3, 3)
    px_per_mm: float
    centre: tuple[float, float]  # image position (px) of the heart centre
    source_object_mm: float = 750.0

    def project(self, points: np.ndarray) -> np.ndarray:
        """(M, 3) mm -> (M, 2) image pixels (x, y), with perspective magnification by depth."""
        rotated = points @ self.rotation.T
        magnification = self.source_object_mm / (self.source_object_mm + rotated[:, 2])
        xy = rotated[:, :2] * (self.px_per_mm * magnification)[:, None]
        return (xy + np.asarray(self.centre)[None, :]).astype(np.float64)


def rotation_matrix(lao_deg: float, cranial_deg: float) -> np.ndarray:
    """Rotation about the patient's long axis (LAO/RAO) then about the left-right axis."""
    a, b = np.radians(lao_deg), np.radians(cranial_deg)
    about_y = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)], [0.0, np.sin(b), np.cos(b)]])
    return about_x @ about_y


def resample(points: np.ndarray, step: float) -> np.ndarray:
    """Resample a polyline (M, D) at constant arc-length ``step`` (keeps both ends)."""
    points = np.asarray(points, np.float64)
    arc = arc_length(points)
    if arc[-1] <= 0:
        return points[:1].copy()
    targets = np.arange(0.0, arc[-1], step)
    if arc[-1] - targets[-1] > 1e-6:
        targets = np.append(targets, arc[-1])
    return np.stack([np.interp(targets, arc, points[:, d]) for d in range(points.shape[1])], axis=1)


def smooth_curve(control: np.ndarray, step: float = STEP_MM) -> np.ndarray:
    return resample(catmull_rom(control), step)


def point_at(points: np.ndarray, arc_mm: np.ndarray) -> np.ndarray:
    """Positions at arc lengths from the tip (points sampled every STEP_MM). (E,) -> (E, D)."""
    index = np.clip(np.asarray(arc_mm, np.float64) / STEP_MM, 0, len(points) - 1)
    low = np.floor(index).astype(int)
    high = np.minimum(low + 1, len(points) - 1)
    frac = (index - low)[:, None]
    return points[low] * (1 - frac) + points[high] * frac


# --- electrode layouts: (E, 2) [centre arc length from tip, length] in mm -----------------------


def _layout(lengths: list[float], gaps: list[float]) -> np.ndarray:
    rows, start = [], 0.0
    for i, length in enumerate(lengths):
        rows.append((start + length / 2, length))
        if i < len(gaps):
            start += length + gaps[i]
    return np.asarray(rows, np.float64)


def electrode_layout(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "cs_decapolar":
        length = rng.uniform(1.0, 2.0)
        inner, outer = [(2.0, 8.0), (2.0, 5.0), (5.0, 5.0), (2.0, 10.0)][rng.integers(4)]
        return _layout([length] * 10, [inner if i % 2 == 0 else outer for i in range(9)])
    if kind == "quadripolar":
        gap = float(rng.choice([2.0, 5.0, 10.0]))
        return _layout([2.0] * 4, [gap] * 3)
    if kind == "ablation":
        tip = 8.0 if rng.random() < 0.15 else float(rng.choice([3.5, 4.0]))
        gaps = [[1.0, 7.0, 4.0], [2.0, 5.0, 2.0]][rng.integers(2)]
        return _layout([tip, 1.0, 1.0, 1.0], gaps)
    if kind == "pacing":
        tip = rng.uniform(1.5, 2.5)
        return _layout([tip, rng.uniform(2.0, 3.5)], [rng.uniform(9.0, 25.0)])
    raise ValueError(f"no electrode layout for {kind!r}")


def scale_electrode_layout(
    layout: np.ndarray, length_scale: float, spacing_scale: float, min_gap_mm: float = 0.5
) -> np.ndarray:
    """(E, 2) [centre arc length from tip, length] mm -> the same rings ``length_scale`` times as
    long with the gaps between them ``spacing_scale`` times as wide (at least ``min_gap_mm``). The
    first ring keeps its distance from the tip scaled like a gap, so a tip electrode stays at the tip.

    >>> scale_electrode_layout(np.array([[1.0, 2.0], [6.0, 2.0]]), 1.5, 2.0).tolist()
    [[1.5, 3.0], [10.5, 3.0]]
    """
    if len(layout) == 0:
        return layout.copy()
    centres, lengths = layout[:, 0], layout[:, 1]
    gaps = np.diff(centres) - (lengths[:-1] + lengths[1:]) / 2
    new_lengths = lengths * length_scale
    new_gaps = np.maximum(gaps * spacing_scale, min_gap_mm)
    start = max(centres[0] - lengths[0] / 2, 0.0) * spacing_scale
    starts = start + np.concatenate([[0.0], np.cumsum(new_lengths[:-1] + new_gaps)])
    return np.stack([starts + new_lengths / 2, new_lengths], axis=1)


def vary_device_look(
    device: Device,
    radius_scale: float,
    shaft_opacity_scale: float,
    electrode_opacity_scale: float,
    electrode_length_scale: float,
    electrode_spacing_scale: float,
) -> Device:
    """``device`` drawn as another manufacturer's model: thicker or thinner, a more or less
    radio-opaque shaft, denser or fainter and longer or shorter rings, wider or narrower gaps
    (a lasso's rings keep their places on the loop). Rings stay at least 1.5 times as opaque as the
    shaft: they are metal, the shaft is polymer."""
    layout = device.electrodes
    spacing = 1.0 if device.kind == "lasso" else electrode_spacing_scale
    layout = scale_electrode_layout(layout, electrode_length_scale, spacing)
    shaft = device.shaft_attenuation * shaft_opacity_scale
    return replace(
        device,
        radius_mm=device.radius_mm * radius_scale,
        shaft_attenuation=shaft,
        electrodes=layout[layout[:, 0] < (len(device.points) - 1) * STEP_MM],
        electrode_attenuation=max(device.electrode_attenuation * electrode_opacity_scale, 1.5 * shaft),
    )


# --- catheter centrelines (proximal -> distal control points, returned tip first) ---------------


def _jitter(points: list[tuple[float, float, float]], rng: np.random.Generator, sigma: float) -> np.ndarray:
    return np.asarray(points, np.float64) + rng.normal(0.0, sigma, (len(points), 3))


def _finish(control: np.ndarray) -> np.ndarray:
    return smooth_curve(control)[::-1].copy()


_IVC = [(-25.0, 190.0, 10.0), (-27.0, 110.0, 10.0), (-30.0, 55.0, 8.0)]
_SVC = [(-32.0, -190.0, 0.0), (-34.0, -110.0, 0.0), (-38.0, -45.0, 4.0)]


def cs_catheter(rng: np.random.Generator, heart: float) -> np.ndarray:
    route = _SVC + [(-36.0, 0.0, 10.0)] if rng.random() < 0.55 else _IVC + [(-32.0, 30.0, 14.0)]
    groove = [
        (-20.0, 20.0, 24.0),
        (-2.0, 24.0, 34.0),
        (18.0, 16.0, 42.0),
        (34.0, 4.0, 42.0),
        (44.0, -10.0, 34.0),
    ]
    reach = rng.integers(3, 6)
    control = [tuple(np.asarray(p) * [1, 1, 1]) for p in route] + [
        tuple(np.asarray(p) * heart) for p in groove[:reach]
    ]
    return _finish(_jitter(control, rng, 4.0))


def quadripolar_catheter(rng: np.random.Generator, heart: float) -> np.ndarray:
    site = rng.integers(3)
    if site == 0:  # His bundle
        path = [(-28.0, 22.0, 6.0), (-10.0, 4.0, 6.0)]
    elif site == 1:  # right ventricular apex
        path = [(-28.0, 25.0, 2.0), (0.0, 38.0, -18.0), (28.0, 52.0, -30.0)]
    else:  # high right atrium
        path = [(-38.0, 10.0, 4.0), (-42.0, -25.0, 0.0), (-30.0, -42.0, -6.0)]
    control = _IVC + [tuple(np.asarray(p) * heart) for p in path]
    return _finish(_jitter(control, rng, 5.0))


def _transseptal(rng: np.random.Generator, heart: float) -> list[tuple[float, float, float]]:
    return _IVC + [(-30.0 * heart, 22.0 * heart, 12.0), (-12.0 * heart, -4.0 * heart, 30.0 * heart)]


def ablation_catheter(rng: np.random.Generator, heart: float) -> np.ndarray:
    la = np.array([8.0, -18.0, 45.0]) * heart + rng.normal(0, 8.0, 3)
    direction = rng.normal(0, 1, 3)
    direction /= np.linalg.norm(direction) + 1e-9
    tip = la + direction * rng.uniform(12.0, 30.0)
    bend = (la + tip) / 2 + rng.normal(0, 6.0, 3)
    control = _transseptal(rng, heart) + [tuple(la), tuple(bend), tuple(tip)]
    return _finish(_jitter(control, rng, 3.0))


def lasso_catheter(rng: np.random.Generator, heart: float) -> tuple[np.ndarray, np.ndarray]:
    """Shaft into a pulmonary vein ostium ending in a loop; returns (points, electrode layout)."""
    veins = [(30.0, -38.0, 55.0), (32.0, -12.0, 55.0), (-14.0, -38.0, 55.0), (-14.0, -12.0, 55.0)]
    ostium = np.asarray(veins[rng.integers(4)]) * heart + rng.normal(0, 4.0, 3)
    normal = np.array([np.sign(ostium[0]) or 1.0, -0.2, 0.6]) + rng.normal(0, 0.45, 3)
    normal /= np.linalg.norm(normal)
    u = np.cross(normal, [0.0, 0.0, 1.0])
    if np.linalg.norm(u) < 1e-3:
        u = np.array([1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    radius = rng.uniform(7.5, 12.5)
    sweep = rng.uniform(1.75, 1.95) * np.pi
    start = rng.uniform(0, 2 * np.pi)
    n_loop = max(int(radius * sweep / STEP_MM), 8)
    angles = start + np.linspace(0.0, sweep, n_loop)
    loop = ostium + radius * (np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v)
    entry = loop[0] - normal * rng.uniform(6.0, 12.0)
    shaft_control = _jitter(_transseptal(rng, heart) + [tuple((entry + ostium) / 2 - normal * 10)], rng, 3.0)
    shaft = smooth_curve(np.vstack([shaft_control, entry, loop[0]]))
    points = resample(np.vstack([shaft, loop[1:]]), STEP_MM)[::-1].copy()
    count = 20 if rng.random() < 0.4 else 10
    loop_length = radius * sweep
    centres = np.linspace(1.0, loop_length - 1.0, count)
    layout = np.stack([centres, np.full(count, 1.0)], axis=1)
    return points, layout


def pacing_lead(rng: np.random.Generator, heart: float) -> np.ndarray:
    route = [
        (75.0, -200.0, -25.0),
        (40.0, -150.0, -15.0),
        (-10.0, -115.0, -5.0),
        (-32.0, -70.0, 0.0),
        (-36.0, -20.0, 2.0),
    ]
    if rng.random() < 0.65:  # right ventricular apex
        path = [(-22.0, 18.0, -4.0), (6.0, 36.0, -18.0), (30.0, 50.0, -28.0)]
    else:  # right atrial appendage, J-shaped
        path = [(-34.0, 10.0, 0.0), (-26.0, 0.0, -10.0), (-22.0, -22.0, -18.0)]
    control = route + [tuple(np.asarray(p) * heart) for p in path]
    return _finish(_jitter(control, rng, 4.0))


def make_catheter(kind: str, rng: np.random.Generator, heart: float) -> Device:
    """A target catheter of type ``kind`` with its electrodes and material."""
    radius = rng.uniform(1.0, 1.15)  # 6-7 French
    shaft = rng.uniform(0.3, 0.6)
    electrode = rng.uniform(1.3, 2.2)
    if kind == "cs_decapolar":
        points, layout = cs_catheter(rng, heart), electrode_layout(kind, rng)
        radius = rng.uniform(0.8, 1.0)  # 5-6 French
    elif kind == "quadripolar":
        points, layout = quadripolar_catheter(rng, heart), electrode_layout(kind, rng)
        radius = rng.uniform(0.8, 1.0)
    elif kind == "ablation":
        points, layout = ablation_catheter(rng, heart), electrode_layout(kind, rng)
        radius = rng.uniform(1.1, 1.25)  # 7-7.5 French
    elif kind == "lasso":
        points, layout = lasso_catheter(rng, heart)
        radius = rng.uniform(0.75, 0.95)
    elif kind == "pacing":
        points, layout = pacing_lead(rng, heart), electrode_layout(kind, rng)
        radius = rng.uniform(0.9, 1.1)
        shaft = rng.uniform(0.5, 0.8)  # the conductor coil is metal along the whole lead
    else:
        raise ValueError(f"unknown catheter type {kind!r}")
    # Catheters share the venous routes but run side by side in them, not on one line: shift the
    # proximal part (far from the heart) sideways by a per-catheter offset.
    offset = np.array([rng.normal(0.0, 7.0), 0.0, rng.normal(0.0, 7.0)])
    weight = np.clip((np.abs(points[:, 1]) - 45.0) / 60.0, 0.0, 1.0)[:, None]
    points = points + weight * offset
    layout = layout[layout[:, 0] < (len(points) - 1) * STEP_MM]
    return Device(
        kind=kind,
        points=points,
        radius_mm=radius,
        shaft_attenuation=shaft,
        electrodes=layout,
        electrode_attenuation=electrode,
    )
