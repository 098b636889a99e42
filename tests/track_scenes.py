"""Hand-made Results for tracking and motion tests (no masks): catheters as rows of electrodes."""

from __future__ import annotations

import numpy as np

from cathx.postprocess.results import Catheter, Results

CS_GAPS = np.cumsum([0, 2, 5, 2, 5, 2, 5, 2, 5, 2]).astype(np.float64)  # paired rings, tip first


def cs_electrodes(x0: float, y0: float) -> np.ndarray:
    """Ten CS electrodes along +x from (x0, y0), tip first."""
    return np.stack([x0 + CS_GAPS, np.full(10, y0)], 1)


def quad_electrodes(x0: float, y0: float) -> np.ndarray:
    """Four evenly spaced electrodes along +y from (x0, y0), tip first."""
    return np.stack([np.full(4, x0), y0 + 6.0 * np.arange(4)], 1)


def results_of(catheters: list[tuple[str, np.ndarray]], shuffle: int | None = None) -> Results:
    """Results with one catheter per (type, electrodes tip first); centreline through the electrodes
    extended 10 px beyond the last one. ``shuffle``: seed to permute the electrode rows."""
    points, owner, index, found = [], [], [], []
    for c, (kind, electrodes) in enumerate(catheters):
        electrodes = np.asarray(electrodes, np.float64)
        points.append(electrodes)
        owner += [c] * len(electrodes)
        index += list(range(len(electrodes)))
        direction = electrodes[-1] - electrodes[0]
        direction = direction / max(np.linalg.norm(direction), 1e-9)
        line = np.vstack([electrodes, electrodes[-1] + 10 * direction]).astype(np.float32)
        found.append(Catheter(id=c, type=kind, centreline=line))
    points = np.concatenate(points) if points else np.zeros((0, 2))
    owner, index = np.asarray(owner, np.int64), np.asarray(index, np.int64)
    if shuffle is not None:
        order = np.random.default_rng(shuffle).permutation(len(points))
        points, owner, index = points[order], owner[order], index[order]
    n = len(points)
    return Results(image_size=(128, 128), electrodes=points.astype(np.float32), scores=np.ones(n, np.float32),
                   sizes=np.full((n, 2), 2.0, np.float32), electrode_catheter=owner, electrode_index=index,
                   electrode_ids=np.full(n, -1, np.int64), catheters=found)


def id_of(results: Results, kind_of_electrode_at: np.ndarray) -> int:
    """Id of the catheter holding the electrode nearest ``kind_of_electrode_at`` (x, y)."""
    row = int(np.linalg.norm(results.electrodes - kind_of_electrode_at, axis=1).argmin())
    return int(results.electrode_catheter_ids()[row])


def motion_frame(shift: tuple[float, float] | None) -> Results:
    """A CS catheter shifted by ``shift`` (absent when None) beside a still quadripolar one."""
    if shift is None:
        return results_of([("quadripolar", quad_electrodes(100, 100))])
    return results_of([("cs_decapolar", cs_electrodes(20 + shift[0], 40 + shift[1])), ("quadripolar", quad_electrodes(100, 100))])
