"""Sequences: one scene moving with respiration and the heartbeat, consistent catheter identities,
and the recursive temporal filter of fluoroscopy systems."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from cathx.data.synthetic.config import SynthConfig
from cathx.data.synthetic.scene import Frame, frame_rng, render_frame, render_scene, sample_scene
from cathx.structures import Sample


def render_sequence(
    seed: int, frames: int, size: int = 256, fps: float = 15.0, config: SynthConfig | None = None
) -> Iterator[Frame]:
    """Frames of one sequence with their extra layers; deterministic by ``seed``."""
    config = config or SynthConfig()
    scene = sample_scene(frame_rng(seed, 0), size, config)
    start = float(frame_rng(seed, 2).uniform(0, 4.0))
    window = None
    previous: np.ndarray | None = None
    alpha = scene.motion["recursive_filter"]
    for index in range(frames):
        frame, window = render_scene(
            scene, frame_rng(seed, 3, index), config, time_s=start + index / fps, window=window
        )
        if previous is not None and alpha < 1.0:
            # Recursive filtering: less noise, slight lag of moving devices (as on real systems).
            frame.sample.image = (alpha * frame.sample.image + (1 - alpha) * previous).astype(np.float32)
        previous = frame.sample.image
        frame.sample.meta.update({"frame_index": index, "fps": float(fps)})
        yield frame


def generate_sequence(
    seed: int, frames: int, size: int = 256, fps: float = 15.0, config: SynthConfig | None = None
) -> Iterator[Sample]:
    """``frames`` consecutive samples of one moving scene (catheter ids stable across frames)."""
    for frame in render_sequence(seed, frames, size, fps, config):
        yield frame.sample


class SyntheticReader(Sequence[Sample]):
    """In-memory reader generating independent frames on the fly (for tests and quick runs).

    Frame i uses seed ``frame_seed(seed, i)``, the same as ``write_dataset``'s single frames.
    """

    def __init__(self, n: int, size: int = 256, seed: int = 0, config: SynthConfig | None = None) -> None:
        self.n, self.size, self.seed = int(n), int(size), int(seed)
        self.config = config or SynthConfig()
        self.name = f"synthetic(seed={seed})"
        self.problems: list[str] = []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        if not -self.n <= index < self.n:
            raise IndexError(index)
        index = index % self.n
        sample = render_frame(frame_seed(self.seed, index), self.size, self.config).sample
        sample.meta["index"] = index
        return sample

    def iter_frames(self) -> Iterator[Sample]:
        for i in range(self.n):
            yield self[i]


def frame_seed(seed: int, index: int, kind: int = 0) -> int:
    """Seed of frame (kind 0) or sequence (kind 1) ``index`` of a dataset generated with ``seed``."""
    return int(np.random.SeedSequence([int(seed), kind, int(index)]).generate_state(1, np.uint64)[0] >> 1)
