"""Contact sheet: frames side by side with their labels drawn on, to judge realism at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from cathx.errors import CathxError
from cathx.fileio import atomic_write_bytes
from cathx.structures import Sample

# BGR colours per catheter slot, distinct on grey.
COLOURS = (
    (60, 200, 255),
    (80, 255, 80),
    (255, 120, 60),
    (255, 80, 255),
    (60, 255, 255),
    (200, 200, 40),
    (120, 120, 255),
    (255, 255, 255),
)
SHORT = {
    "cs_decapolar": "CS",
    "quadripolar": "QUAD",
    "ablation": "ABL",
    "lasso": "LASSO",
    "pacing": "PACE",
    "unknown": "?",
}


def draw_labels(sample: Sample, scale: int = 1) -> np.ndarray:
    """(H*scale, W*scale, 3) uint8 BGR: the frame with mask tint, centrelines, electrode boxes, types."""
    grey = np.clip(sample.image * 255.0, 0, 255).astype(np.uint8)
    size = (sample.width * scale, sample.height * scale)
    canvas = cv2.cvtColor(cv2.resize(grey, size, interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
    if sample.mask is not None:
        mask = sample.mask > 0
        colours = np.zeros((*mask.shape, 3), np.uint8)
        colours[:] = (0, 140, 255)
        lines = [line for line in sample.centrelines if len(line)]
        if lines and mask.any():  # colour each mask pixel like the nearest catheter centreline
            from scipy.spatial import cKDTree

            points = np.concatenate(lines)
            owner = np.concatenate(
                [np.full(len(line), i) for i, line in enumerate(sample.centrelines) if len(line)]
            )
            ys, xs = np.nonzero(mask)
            _, nearest = cKDTree(points).query(np.stack([xs, ys], axis=1))
            colours[ys, xs] = np.asarray(COLOURS, np.uint8)[owner[nearest] % len(COLOURS)]
        colours = cv2.resize(colours, size, interpolation=cv2.INTER_NEAREST)
        mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        canvas[mask] = (0.3 * canvas[mask] + 0.7 * colours[mask]).astype(np.uint8)
    for index, line in enumerate(sample.centrelines):
        colour = COLOURS[index % len(COLOURS)]
        if len(line):
            x, y = (np.round((line[0] + 0.5) * scale - 0.5)).astype(int)
            label = SHORT.get(sample.catheter_types[index], sample.catheter_types[index])
            cv2.putText(
                canvas,
                label,
                (int(x) + 5, int(y) - 5),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.32 * max(scale, 1),
                colour,
                1,
                cv2.LINE_AA,
            )
    if sample.electrodes is not None:
        ids = (
            sample.electrode_catheter_ids
            if sample.electrode_catheter_ids is not None
            else np.zeros(len(sample.electrodes), int)
        )
        sizes = (
            sample.electrode_sizes
            if sample.electrode_sizes is not None
            else np.full((len(sample.electrodes), 2), 3.0)
        )
        for (x, y), (w, h), owner in zip(sample.electrodes, sizes, ids, strict=True):
            colour = (40, 40, 255)
            x0, y0 = np.rint([(x - w / 2 + 0.5) * scale, (y - h / 2 + 0.5) * scale]).astype(int)
            x1, y1 = np.rint([(x + w / 2 + 0.5) * scale, (y + h / 2 + 0.5) * scale]).astype(int) - 1
            cv2.rectangle(canvas, (int(x0) - 1, int(y0) - 1), (int(x1) + 1, int(y1) + 1), colour, 1)
    return canvas


def contact_sheet(samples: Sequence[Sample], pairs_per_row: int = 2, tile: int = 256) -> np.ndarray:
    """Grid of (raw frame | labelled frame) pairs, each tile ``tile`` px. Returns BGR uint8."""
    if not samples:
        raise ValueError("no samples for the contact sheet")
    tiles = []
    for sample in samples:
        raw = cv2.cvtColor(np.clip(sample.image * 255.0, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        scale = max(1, tile // sample.width)
        labelled = draw_labels(sample, scale)
        raw = cv2.resize(
            raw, (tile, tile), interpolation=cv2.INTER_AREA if sample.width > tile else cv2.INTER_NEAREST
        )
        labelled = cv2.resize(labelled, (tile, tile), interpolation=cv2.INTER_AREA)
        meta = sample.meta
        caption = (
            f"seq {meta['sequence_id']} f{meta['frame_index']}"
            if meta.get("sequence_id") is not None
            else f"#{meta.get('index', len(tiles))}"
        )
        cv2.putText(
            raw, caption, (4, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1, cv2.LINE_AA
        )
        tiles.append(np.hstack([raw, np.full((tile, 2, 3), 40, np.uint8), labelled]))
    rows = []
    blank = np.zeros_like(tiles[0])
    for start in range(0, len(tiles), pairs_per_row):
        row = tiles[start : start + pairs_per_row]
        row += [blank] * (pairs_per_row - len(row))
        rows.append(np.hstack([np.hstack([t, np.full((tile, 6, 3), 0, np.uint8)]) for t in row]))
    return np.vstack([np.vstack([r, np.zeros((6, r.shape[1], 3), np.uint8)]) for r in rows])


def write_preview(
    path: Path | str, samples: Sequence[Sample], pairs_per_row: int = 2, tile: int = 256
) -> Path:
    """Write the contact sheet of ``samples`` as a PNG at ``path`` (atomically)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise CathxError(f"{path}: the preview must be a .png file")
    ok, buffer = cv2.imencode(".png", contact_sheet(samples, pairs_per_row, tile))
    if not ok:  # pragma: no cover
        raise CathxError(f"{path}: could not encode the preview")
    try:
        atomic_write_bytes(path, buffer.tobytes())
    except OSError as exc:
        raise CathxError(f"{path}: cannot write the preview ({exc.strerror or exc})") from None
    return path
