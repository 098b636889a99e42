"""A scene (view, anatomy, catheters, distractors, collimation, imaging settings) and its rendering
into a labelled frame.

``sample_scene`` draws everything that stays fixed over a sequence; ``render_scene`` renders one
motion state with its own noise. ``generate_frame`` is the one-frame entry point.

Length (about 600 lines): the order of random draws defines every frame of every seed (datasets
are reproducible from their seed), so sampling and rendering of a scene stay in one file where a
change of order is visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from cathx.data.synthetic.anatomy import Anatomy, render_anatomy, sample_anatomy
from cathx.data.synthetic.config import DEVICE_LOOK, SynthConfig
from cathx.data.synthetic.distractors import DRAWN_ONLY_WHEN_ON, SAMPLERS, Primitive, curve2d, edge_point
from cathx.data.synthetic.geometry import (
    Device,
    View,
    make_catheter,
    point_at,
    resample,
    rotation_matrix,
    vary_device_look,
)
from cathx.data.synthetic.render import (
    SUPERSAMPLE,
    display,
    display_processing,
    downsample,
    draw_capsule,
    draw_disc,
    draw_tube,
    gain_bands,
    imaging_chain,
    to_canvas,
)
from cathx.structures import Sample

HEART_CENTRE = np.array([0.0, 10.0, 25.0])  # where cardiac contraction points to (mm)
WIRE_MM = 0.9  # unlabelled tubes thinner than this radius are wires (SynthConfig.wire_width_scale)


@dataclass
class Scene:
    size: int
    view: View
    anatomy: Anatomy
    catheters: list[Device]
    distractors: list[Primitive]
    distractor_kinds: list[str]
    shutter: np.ndarray  # (H, W) float32 line integral of shutters / wedges
    imaging: dict[str, float]
    motion: dict[str, float] = field(default_factory=dict)
    sheaths: list[Device] = field(default_factory=list)  # unlabelled, coaxial with a catheter


@dataclass
class Frame:
    """A rendered frame: the sample plus what the writer and the tests need besides."""

    sample: Sample
    catheter_masks: list[np.ndarray]  # (H, W) uint8 per catheter
    distractor_coverage: np.ndarray  # (H, W) float32 fraction of each pixel covered by distractors
    catheter_coverage: np.ndarray  # (H, W) float32 fraction covered by target catheters
    line_integral: np.ndarray  # (H, W) float32 noise-free total attenuation


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A value in ``bounds`` (both > 0) whose logarithm is uniform: every doubling equally likely, the
    natural prior for a scale such as a photon count. Uses one draw of ``rng``, as ``_uniform`` does,
    so the rest of a scene is the same either way."""
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def sample_scene(rng: np.random.Generator, size: int, config: SynthConfig) -> Scene:
    """Draw a scene: everything that stays fixed within a sequence."""
    spacing = _uniform(rng, config.pixel_spacing_mm) * 256.0 / size
    px_per_mm = 1.0 / spacing
    centre = (size * rng.uniform(0.42, 0.58), size * rng.uniform(0.4, 0.56))
    view = View(
        rotation=rotation_matrix(
            _uniform(rng, config.view_angle_deg), _uniform(rng, config.cranial_angle_deg)
        ),
        px_per_mm=px_per_mm,
        centre=centre,
        source_object_mm=float(rng.uniform(650, 850)),
    )
    heart = float(rng.uniform(0.85, 1.15))
    anatomy = sample_anatomy(rng, heart, config)

    catheters: list[Device] = []
    if rng.random() >= config.empty_probability:
        for kind in ("cs_decapolar", "quadripolar", "ablation", "lasso", "pacing"):
            if kind not in config.catheter_types:
                continue
            count = 1
            if kind == "quadripolar":
                count = int(rng.integers(1, config.max_quadripolar + 1))
            for _ in range(count):
                if rng.random() < config.catheter_probability.get(kind, 0.5):
                    catheters.append(make_catheter(kind, rng, heart))
        if not catheters and config.catheter_types:
            kind = config.catheter_types[int(rng.integers(len(config.catheter_types)))]
            catheters.append(make_catheter(kind, rng, heart))

    distractors, kinds = _sample_distractors(
        rng, size, view, anatomy, config, pacing=any(c.kind == "pacing" for c in catheters)
    )
    sheaths = []
    for device in catheters:
        if device.kind in ("ablation", "lasso") and rng.random() < config.sheath_probability:
            sheaths.append(_sheath(device, rng))
    if sheaths:
        kinds.append("sheath")
    shutter = _sample_collimation(rng, size, config)
    imaging = {
        "dose": (log_uniform if config.dose_sampling == "log_uniform" else _uniform)(rng, config.dose)
        * (256.0 / size) ** 2,
        "electronic_noise": _uniform(rng, config.electronic_noise),
        "focal_blur": _uniform(rng, config.focal_blur_px) * size / 256.0,
        "detector_blur": _uniform(rng, config.detector_blur_px) * size / 256.0,
        "scatter_fraction": _uniform(rng, config.scatter_fraction),
        "edge_enhance": _uniform(rng, config.edge_enhance)
        if rng.random() < config.edge_enhance_probability
        else 0.0,
        "gamma": _uniform(rng, config.gamma),
        "spacing_mm": spacing,
        "gain_pattern": _uniform(rng, config.gain_pattern),
        "lut_slope": float(rng.uniform(3.0, 8.0)) if rng.random() < config.lut_probability else 0.0,
        "invert": float(rng.random() < config.invert_probability),
        "text": float(rng.random() < config.text_probability),
        "pattern_seed": float(rng.integers(2**31)),
    }
    motion = {
        "respiration_hz": _uniform(rng, config.respiration_hz),
        "respiration_mm": _uniform(rng, config.respiration_mm),
        "heart_rate_hz": _uniform(rng, config.heart_rate_hz),
        "cardiac_mm": _uniform(rng, config.cardiac_mm),
        "respiration_phase": float(rng.uniform(0, 1)),
        "cardiac_phase": float(rng.uniform(0, 1)),
        "recursive_filter": _uniform(rng, config.recursive_filter),
    }
    # Drawn last so that every other draw of a seed's scene is the same with or without the variety.
    catheters, sheaths = _vary_looks(rng, catheters, sheaths, config)
    return Scene(
        size=size,
        view=view,
        anatomy=anatomy,
        catheters=catheters,
        distractors=distractors,
        distractor_kinds=kinds,
        shutter=shutter,
        imaging=imaging,
        motion=motion,
        sheaths=sheaths,
    )


def _vary_looks(
    rng: np.random.Generator, catheters: list[Device], sheaths: list[Device], config: SynthConfig
) -> tuple[list[Device], list[Device]]:
    """Each catheter drawn as another manufacturer's model (``config``'s device-look ranges); a
    sheath stays at least 0.2 mm wider than the catheter it carries."""
    varied = [vary_device_look(device, *(_uniform(rng, getattr(config, name)) for name in DEVICE_LOOK))
              for device in catheters]
    carried = []
    for sheath in sheaths:
        inner = max((d.radius_mm for d in varied if np.array_equal(d.points[-1], sheath.points[-1])), default=0.0)
        carried.append(replace(sheath, radius_mm=max(sheath.radius_mm, inner + 0.2)))
    return varied, carried


def _sheath(device: Device, rng: np.random.Generator) -> Device:
    """A transseptal sheath around the proximal part of ``device``, with a radiopaque tip band."""
    exposed_mm = rng.uniform(20.0, 60.0)
    start = min(int(exposed_mm / 0.5), len(device.points) - 2)
    return Device(
        kind="sheath",
        points=device.points[start:].copy(),
        radius_mm=rng.uniform(1.35, 1.6),
        shaft_attenuation=rng.uniform(0.08, 0.18),
        electrodes=np.array([[1.0, 1.5]]),
        electrode_attenuation=rng.uniform(0.6, 1.0),
        electrode_radius_scale=1.0,
        target=False,
    )


# --- distractors ---------------------------------------------------------------------------------


def _sample_distractors(
    rng: np.random.Generator, size: int, view: View, anatomy: Anatomy, config: SynthConfig, pacing: bool
) -> tuple[list[Primitive], list[str]]:
    k = view.px_per_mm
    items: list[Primitive] = []
    kinds: list[str] = []
    if rng.random() < config.ecg_probability:
        for _ in range(int(rng.integers(config.ecg_leads[0], config.ecg_leads[1] + 1))):
            kinds.append("ecg_lead")
            centre = rng.uniform(0.05, 0.95, 2) * size
            items.append(Primitive("disc", centre[None], rng.uniform(10, 14) * k, rng.uniform(0.02, 0.06)))
            items.append(Primitive("sphere", centre[None], rng.uniform(2.0, 3.2) * k, rng.uniform(0.8, 1.6)))
            ring = rng.uniform(3.5, 5.0) * k
            angles = np.linspace(0, 2 * np.pi, 48)
            items.append(
                Primitive(
                    "tube",
                    centre + ring * np.stack([np.cos(angles), np.sin(angles)], 1),
                    0.35 * k,
                    rng.uniform(0.2, 0.45),
                )
            )
            side = int(np.argmin([centre[1], size - centre[0], size - centre[1], centre[0]]))
            if rng.random() < 0.4:
                side = int(rng.integers(4))
            end = edge_point(rng, size, side)
            direction = end - centre
            clip_dir = direction / (np.linalg.norm(direction) + 1e-9)
            clip_end = centre + clip_dir * rng.uniform(6, 10) * k
            items.append(
                Primitive(
                    "tube", np.stack([centre, clip_end]), rng.uniform(1.2, 1.8) * k, rng.uniform(0.5, 0.9)
                )
            )
            middle = (clip_end + end) / 2 + rng.normal(0, 0.15 * size, 2)
            wire = curve2d([clip_end, middle, end])
            items.append(Primitive("tube", wire, rng.uniform(0.5, 0.8) * k, rng.uniform(0.2, 0.45)))
    sternum_x = view.centre[0] + float((view.rotation @ np.array([-8.0, 0.0, -90.0]))[0]) * k
    if rng.random() < config.sternal_wire_probability:
        kinds.append("sternal_wires")
        count = int(rng.integers(3, 7))
        top = view.centre[1] + rng.uniform(-150, -110) * k
        pitch = rng.uniform(20, 30) * k
        for i in range(count):
            cy = top + i * pitch + rng.normal(0, 2 * k)
            cx = sternum_x + rng.normal(0, 3 * k)
            half_w, half_h = rng.uniform(7, 13) * k, rng.uniform(1.2, 4.0) * k
            tilt = rng.normal(0, 0.25)
            t = np.linspace(0, 2 * np.pi, 64)
            loop = np.stack([half_w * np.cos(t), half_h * np.sin(t)], 1)
            rot = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
            loop = loop @ rot.T + [cx, cy]
            peak = rng.uniform(0.6, 1.0)
            items.append(Primitive("tube", loop, 0.45 * k, peak))
            side = 1 if rng.random() < 0.5 else -1
            knot_start = np.array([cx + side * half_w, cy])
            knot_end = knot_start + [side * rng.uniform(3, 7) * k, rng.normal(0, 2 * k)]
            items.append(Primitive("tube", np.stack([knot_start, knot_end]), 0.9 * k, peak * 1.2))
    if rng.random() < config.guidewire_probability:
        kinds.append("guidewire")
        start = edge_point(rng, size, 2)
        target = np.asarray(view.centre) + rng.normal(0, 35 * k, 2)
        mid = (start + target) / 2 + rng.normal(0, 20 * k, 2)
        wire = curve2d([start, mid, target])
        curl = rng.uniform(3, 6) * k
        direction = wire[-1] - wire[-5]
        angle0 = np.arctan2(direction[1], direction[0])
        angles = angle0 + np.linspace(0, rng.uniform(2.5, 3.5), 24) * (1 if rng.random() < 0.5 else -1)
        centre = wire[-1] + curl * np.array([np.cos(angle0 + np.pi / 2), np.sin(angle0 + np.pi / 2)])
        j_tip = centre + curl * np.stack([np.cos(angles - np.pi / 2), np.sin(angles - np.pi / 2)], 1)
        items.append(Primitive("tube", np.vstack([wire, j_tip]), 0.45 * k, rng.uniform(0.35, 0.6), False))
    if rng.random() < config.probe_probability:
        kinds.append("temperature_probe")
        x = view.centre[0] + float((view.rotation @ np.array([anatomy.spine_x + 12.0, 0.0, 60.0]))[0]) * k
        tip = np.array([x + rng.normal(0, 4 * k), view.centre[1] + rng.uniform(-20, 20) * k])
        top = np.array([x + rng.normal(0, 6 * k), -10.0])
        mid = (tip + top) / 2 + [rng.normal(0, 5 * k), 0]
        probe = curve2d([tip, mid, top])
        items.append(Primitive("tube", probe, rng.uniform(1.3, 1.7) * k, rng.uniform(0.1, 0.2), False))
        spacing = rng.uniform(6, 12)
        for j in range(int(rng.choice([3, 5, 12]))):
            s = 2.0 + j * spacing
            if s + 3 >= len(probe) * 0.5 / k:
                break
            a_idx, b_idx = int(s * k / 0.5), int((s + 2.5) * k / 0.5)
            items.append(
                Primitive(
                    "tube", probe[a_idx : b_idx + 1], rng.uniform(1.4, 1.8) * k, rng.uniform(0.7, 1.2), False
                )
            )
    if rng.random() < config.pacemaker_can_probability or (pacing and rng.random() < 0.5):
        kinds.append("pacemaker_can")
        corner = np.array([size * rng.uniform(0.8, 1.05), size * rng.uniform(-0.05, 0.15)])
        w, h = rng.uniform(40, 55) * k, rng.uniform(38, 50) * k
        angle = rng.uniform(-0.6, 0.6)
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        box = np.stack(
            [
                np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 0.3 * w / 2,
                np.sign(np.sin(t)) * np.abs(np.sin(t)) ** 0.3 * h / 2,
            ],
            1,
        )
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        items.append(Primitive("polygon", box @ rot.T + corner, 1.0, rng.uniform(1.8, 2.8)))
        header = np.array(
            [[-w / 2, -h / 2 - 12 * k], [w / 5, -h / 2 - 12 * k], [w / 5, -h / 2], [-w / 2, -h / 2]]
        )
        items.append(Primitive("polygon", header @ rot.T + corner, 1.0, rng.uniform(0.3, 0.6)))
        coil_centre = corner + rot @ np.array([-w * 0.1, h * 0.75])
        angles = np.linspace(0, 2 * np.pi * rng.uniform(1.0, 1.8), 80)
        coil = coil_centre + rng.uniform(8, 14) * k * np.stack([np.cos(angles), 0.6 * np.sin(angles)], 1)
        items.append(Primitive("tube", coil, 0.9 * k, rng.uniform(0.35, 0.6)))
    for name, sampler in SAMPLERS.items():
        probability = config.distractor_probability.get(name, 0.0)
        if name in DRAWN_ONLY_WHEN_ON and probability == 0.0:
            continue  # a sampler added later: off, it leaves the random stream (every earlier frame) as it was
        if rng.random() < probability:
            kinds.append(name)
            items.extend(sampler(rng, size, view))
    if config.wire_width_scale != (1.0, 1.0):  # off, it takes no draw: earlier frames stay as they were
        scale = _uniform(rng, config.wire_width_scale)
        items = [replace(item, radius=item.radius * scale) if item.shape == "tube" and item.radius < WIRE_MM * k
                 else item for item in items]
    return items, kinds


def _sample_collimation(rng: np.random.Generator, size: int, config: SynthConfig) -> np.ndarray:
    shutter = np.zeros((size, size), np.float32)
    coords = np.arange(size, dtype=np.float32)
    xs, ys = np.meshgrid(coords, coords)
    soft = 0.6 * size / 256.0
    if rng.random() < config.collimator_rotation_probability:
        # a rotated collimator: the blades below are drawn in a frame turned about the centre
        angle = np.radians(_uniform(rng, config.collimator_rotation_deg))
        cx, cy = xs - size / 2, ys - size / 2
        xs, ys = cx * np.cos(angle) - cy * np.sin(angle) + size / 2, cx * np.sin(angle) + cy * np.cos(angle) + size / 2
    if rng.random() < config.collimation_probability:
        density = rng.uniform(1.5, 4.0)
        for side in range(4):
            if rng.random() < 0.6:
                depth = _uniform(rng, config.collimation_depth) * size
                tilt = rng.normal(0, 0.03)
                if side == 0:
                    d = depth + tilt * (xs - size / 2) - ys
                elif side == 1:
                    d = xs - (size - 1 - depth) + tilt * (ys - size / 2)
                elif side == 2:
                    d = ys - (size - 1 - depth) + tilt * (xs - size / 2)
                else:
                    d = depth + tilt * (ys - size / 2) - xs
                shutter += density / (1.0 + np.exp(-np.clip(d / soft, -30, 30)))
    if rng.random() < config.iris_probability:
        radius = _uniform(rng, config.iris_radius) * size
        d = np.hypot(xs - size / 2, ys - size / 2) - radius
        shutter += rng.uniform(2.5, 4.0) / (1.0 + np.exp(-np.clip(d / soft, -30, 30)))
    if rng.random() < config.wedge_probability:
        angle = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(0.15, 0.4) * size
        d = (xs - size / 2) * np.cos(angle) + (ys - size / 2) * np.sin(angle) - offset
        shutter += rng.uniform(0.3, 0.8) * np.clip(d / (0.15 * size), 0.0, 1.0)
    return shutter


# --- motion and rendering ------------------------------------------------------------------------


def motion_state(scene: Scene, time_s: float) -> tuple[float, float]:
    """(breath displacement mm, cardiac contraction 0..1) at ``time_s``."""
    m = scene.motion
    phase = (time_s * m["respiration_hz"] + m["respiration_phase"]) % 1.0
    breath = m["respiration_mm"] * (0.5 - 0.5 * np.cos(2 * np.pi * phase)) ** 1.5
    beat_phase = (time_s * m["heart_rate_hz"] + m["cardiac_phase"]) % 1.0
    beat = np.sin(np.pi * min(beat_phase / 0.4, 1.0)) ** 2 if beat_phase < 0.4 else 0.0
    return float(breath), float(beat)


def move(points: np.ndarray, breath: float, beat: float, cardiac_mm: float, weight: float) -> np.ndarray:
    """Displace device points (M, 3) mm by respiration (cranio-caudal) and cardiac contraction."""
    resp_weight = np.clip((points[:, 1] + 220.0) / 160.0, 0.2, 1.0)[:, None]
    moved = points + resp_weight * np.array([0.12, 1.0, 0.1]) * breath
    offset = points - HEART_CENTRE
    distance = np.linalg.norm(offset, axis=1, keepdims=True) + 1e-6
    cardiac_weight = np.exp(-((distance / 60.0) ** 2)) * weight
    return moved - cardiac_weight * beat * cardiac_mm * offset / distance


def _visible_runs(points: np.ndarray, limit: float, margin: float) -> list[np.ndarray]:
    inside = np.all((points >= -margin) & (points <= limit + margin), axis=1)
    runs, start = [], None
    for i, flag in enumerate(np.append(inside, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append(points[max(start - 1, 0) : min(i + 1, len(points))])
            start = None
    return runs


def _tip_run(points: np.ndarray, size: int) -> np.ndarray:
    """The in-image part of a tip-first polyline that starts nearest the tip."""
    inside = np.all((points >= 0) & (points <= size - 1), axis=1)
    if not inside.any():
        return np.zeros((0, 2), np.float32)
    first = int(np.argmax(inside))
    stop = first + int(np.argmin(inside[first:])) if not inside[first:].all() else len(points)
    return points[first:stop]


@dataclass
class _CatheterLabels:
    mask: np.ndarray  # (H, W) uint8
    centreline: np.ndarray  # (M, 2) float32
    electrodes: list[np.ndarray]
    sizes: list[tuple[float, float]]


def _draw_clutter(
    scene: Scene, breath: float, beat: float, canvas_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Unlabelled distractors and sheaths on the supersampled canvas: (line integral, coverage)."""
    factor, view, k = SUPERSAMPLE, scene.view, scene.view.px_per_mm
    clutter = np.zeros(canvas_shape, np.float32)
    cover = np.zeros(canvas_shape, bool)
    chest_shift = np.array([0.0, 0.25 * breath * k])
    for item in scene.distractors:
        shift = chest_shift if item.chest_wall else np.array([0.1 * breath * k, breath * k])
        pts = to_canvas(item.points + shift, factor)
        if item.shape == "tube":
            for run in _visible_runs(pts, canvas_shape[0] - 1, item.radius * factor + 2):
                draw_tube(clutter, cover, run, item.radius * factor, item.peak)
        elif item.shape in ("sphere", "disc"):
            draw_disc(
                clutter,
                pts[0],
                item.radius * factor,
                item.peak,
                sphere=item.shape == "sphere",
                coverage=cover if item.shape == "sphere" else None,
            )
        elif item.shape == "polygon":
            layer = np.zeros(canvas_shape, np.uint8)
            cv2.fillPoly(layer, [np.round(pts * 16).astype(np.int32)], 1, cv2.LINE_AA, 4)
            cover |= layer > 0
            clutter += item.peak * cv2.GaussianBlur(
                layer.astype(np.float32), (0, 0), max(item.radius * factor, 0.5)
            )
    for sheath in scene.sheaths:
        moved = move(sheath.points, breath, beat, scene.motion["cardiac_mm"], sheath.motion_weight)
        pts = to_canvas(view.project(moved), factor)
        radius = sheath.radius_mm * k * factor
        for run in _visible_runs(pts, canvas_shape[0] - 1, radius + 2):
            draw_tube(clutter, cover, run, radius, sheath.shaft_attenuation)
        for centre, length in sheath.electrodes:
            ends = to_canvas(
                view.project(point_at(moved, np.array([centre - length / 2, centre + length / 2]))), factor
            )
            draw_capsule(clutter, cover, ends[0], ends[1], radius, sheath.electrode_attenuation)
    return clutter, cover


def _draw_catheter(
    device: Device,
    scene: Scene,
    breath: float,
    beat: float,
    attenuation: np.ndarray,
    cover: np.ndarray,
    open_field: np.ndarray,
    config: SynthConfig,
) -> _CatheterLabels:
    """Draw one target catheter into ``attenuation`` (its own coverage into ``cover``, cleared
    first) and return its labels: mask, centreline, visible electrodes with box sizes."""
    size, view, factor = scene.size, scene.view, SUPERSAMPLE
    min_box = config.min_box_px * size / 256.0
    cover[:] = False
    moved = move(device.points, breath, beat, scene.motion["cardiac_mm"], device.motion_weight)
    xy = view.project(moved)
    radius_px = device.radius_mm * view.px_per_mm
    for run in _visible_runs(to_canvas(xy, factor), cover.shape[0] - 1, radius_px * factor + 2):
        draw_tube(attenuation, cover, run, radius_px * factor, device.shaft_attenuation)
    e_radius = radius_px * device.electrode_radius_scale
    electrodes: list[np.ndarray] = []
    sizes: list[tuple[float, float]] = []
    if len(device.electrodes):
        centres = view.project(point_at(moved, device.electrodes[:, 0]))
        starts = view.project(point_at(moved, device.electrodes[:, 0] - device.electrodes[:, 1] / 2))
        ends = view.project(point_at(moved, device.electrodes[:, 0] + device.electrodes[:, 1] / 2))
        for centre, a, b in zip(centres, starts, ends, strict=True):
            # Rings sit on the shaft, whose integral is already drawn: add the metal's excess.
            draw_capsule(
                attenuation,
                cover,
                to_canvas(a, factor),
                to_canvas(b, factor),
                e_radius * factor,
                device.electrode_attenuation - device.shaft_attenuation * 0.5,
            )
            col, row = np.round(centre).astype(int)
            if 0 <= col < size and 0 <= row < size and open_field[row, col]:
                electrodes.append(centre)
                sizes.append(
                    (
                        max(abs(b[0] - a[0]) + 2 * e_radius, min_box),
                        max(abs(b[1] - a[1]) + 2 * e_radius, min_box),
                    )
                )
    mask = downsample(cover.view(np.uint8), factor) >= config.mask_coverage_threshold
    # The centreline and the electrode centres are always on the mask, so thin or foreshortened
    # parts stay connected and every electrode lies on its catheter.
    points = np.vstack([resample(xy, 0.5), np.reshape(electrodes, (-1, 2))])
    ij = np.round(points).astype(int)
    ok = (ij[:, 0] >= 0) & (ij[:, 0] < size) & (ij[:, 1] >= 0) & (ij[:, 1] < size)
    mask[ij[ok, 1], ij[ok, 0]] = True
    mask &= open_field
    for centre in electrodes:
        col, row = np.round(centre).astype(int)
        mask[row, col] = True
    run = _tip_run(xy, size)
    run = resample(run, 2.0 * size / 256.0) if len(run) > 1 else run
    return _CatheterLabels(
        mask.astype(np.uint8), np.asarray(run, np.float32).reshape(-1, 2), electrodes, sizes
    )


def render_scene(
    scene: Scene,
    rng: np.random.Generator,
    config: SynthConfig,
    time_s: float | None = None,
    window: tuple[float, float] | None = None,
) -> tuple[Frame, tuple[float, float]]:
    """Render one motion state of ``scene`` with noise from ``rng``; returns (frame, display window).

    ``time_s`` None draws a random respiratory and cardiac phase (independent frames); otherwise
    the phases follow the scene's motion at that time. ``window`` fixes the display window.
    """
    size, factor = scene.size, SUPERSAMPLE
    if time_s is None:
        breath = float(rng.uniform(0, scene.motion["respiration_mm"]))
        beat = float(rng.uniform(0, 1))
    else:
        breath, beat = motion_state(scene, time_s)
    canvas_shape = (size * factor, size * factor)
    open_field = scene.shutter < 0.5
    clutter, clutter_cover = _draw_clutter(scene, breath, beat, canvas_shape)

    devices = np.zeros(canvas_shape, np.float32)
    cover = np.zeros(canvas_shape, bool)
    catheter_cover = np.zeros(canvas_shape, bool)
    labels = []
    for device in scene.catheters:
        labels.append(_draw_catheter(device, scene, breath, beat, devices, cover, open_field, config))
        catheter_cover |= cover

    anatomy = render_anatomy(scene.anatomy, scene.view, size, breath_mm=breath, beat=beat)
    total = anatomy + downsample(devices + clutter, factor) + scene.shutter
    im = scene.imaging
    detected = imaging_chain(
        total,
        rng,
        dose=im["dose"],
        electronic_noise=im["electronic_noise"],
        focal_blur=im["focal_blur"],
        scatter_fraction=im["scatter_fraction"],
        detector_blur=im["detector_blur"],
    )
    if im.get("gain_pattern", 0.0) > 0:
        detected = detected + im["gain_pattern"] * gain_bands(int(im["pattern_seed"]), size)
    image, window = display(
        detected, open_field, rng, edge_enhance=im["edge_enhance"], window=window, gamma=im["gamma"]
    )
    image = display_processing(
        image, lut_slope=im.get("lut_slope", 0.0), invert=bool(im.get("invert", 0.0)),
        text_seed=int(im["pattern_seed"]) if im.get("text", 0.0) else None,
    )

    union = np.zeros((size, size), np.uint8)
    for label in labels:
        union |= label.mask
    sample = Sample(
        image=image,
        mask=union,
        electrodes=np.asarray([e for label in labels for e in label.electrodes], np.float32).reshape(-1, 2),
        electrode_sizes=np.asarray([z for label in labels for z in label.sizes], np.float32).reshape(-1, 2),
        electrode_catheter_ids=np.asarray(
            [i for i, label in enumerate(labels) for _ in label.electrodes], np.int64
        ),
        catheter_types=[d.kind for d in scene.catheters],
        centrelines=[label.centreline for label in labels],
        meta={
            "source": "synthetic",
            "pixel_spacing_mm": im["spacing_mm"],
            "catheter_ids": list(range(len(scene.catheters))),
            "distractors": list(scene.distractor_kinds),
            "dose": im["dose"],
            "breath_mm": breath,
            "cardiac_contraction": beat,
        },
    )
    frame = Frame(
        sample=sample,
        catheter_masks=[label.mask for label in labels],
        distractor_coverage=downsample(clutter_cover.view(np.uint8), factor),
        catheter_coverage=downsample(catheter_cover.view(np.uint8), factor),
        line_integral=total,
    )
    return frame, window


def frame_rng(seed: int, *key: int) -> np.random.Generator:
    """Independent generator for (seed, key...): the same numbers in any process or order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, *key]))


def render_frame(seed: int, size: int = 256, config: SynthConfig | None = None) -> Frame:
    """One independent frame with its extra layers (see ``Frame``)."""
    config = config or SynthConfig()
    scene = sample_scene(frame_rng(seed, 0), size, config)
    frame, _ = render_scene(scene, frame_rng(seed, 1), config)
    return frame


def generate_frame(seed: int, size: int = 256, config: SynthConfig | None = None) -> Sample:
    """One independent labelled frame, deterministic by ``seed``."""
    return render_frame(seed, size, config).sample


def generate_images(count: int, size: int = 256, seed: int = 10_000) -> Iterator[np.ndarray]:
    """The images alone of frames ``seed``, ``seed + 1``, ...: ``count`` (size, size) float32 arrays
    in [0, 1], one at a time (calibration and verification inputs of an exported network, latency
    benchmark frames)."""
    for i in range(count):
        yield generate_frame(seed + i, size=size).image.astype(np.float32)
