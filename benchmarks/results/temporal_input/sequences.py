"""Render synthetic sequences into one .npz for the two-frame probe (probe.py).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/temporal_input/sequences.py \
        --first-seed 700000 --sequences 600 --frames 5 --out /tmp/proto/train_pairs.npz --workers 1

Arrays: images (N, T, 256, 256) float16 in [0, 1], masks (N, T, 256, 256) uint8, electrodes and
sizes (N, T, 64, 2) float32 zero-padded, counts (N, T) int32; sequence i is
cathx.data.synthetic.sequence.generate_sequence(first_seed + i, T) (15 fps, the engine's
defaults, recursive filter included).
"""
from __future__ import annotations

import argparse
import time
from functools import partial
from multiprocessing import Pool

import numpy as np

from cathx.data.synthetic.sequence import generate_sequence

MAX_ELECTRODES = 64


def render(seed: int, frames: int) -> tuple[np.ndarray, ...]:
    """One sequence's arrays: images (T, H, W), masks (T, H, W), electrodes, sizes (T, M, 2), counts (T,)."""
    samples = list(generate_sequence(seed, frames, size=256))
    images = np.stack([s.image for s in samples]).astype(np.float16)
    masks = np.stack([s.mask > 0 for s in samples]).astype(np.uint8)
    electrodes = np.zeros((frames, MAX_ELECTRODES, 2), np.float32)
    sizes = np.zeros((frames, MAX_ELECTRODES, 2), np.float32)
    counts = np.zeros(frames, np.int32)
    for t, sample in enumerate(samples):
        points = np.asarray(sample.electrodes if sample.electrodes is not None else np.zeros((0, 2)), np.float32)
        boxes = np.asarray(sample.electrode_sizes if sample.electrode_sizes is not None else np.zeros((0, 2)),
                           np.float32)
        points, boxes = points.reshape(-1, 2)[:MAX_ELECTRODES], boxes.reshape(-1, 2)[:MAX_ELECTRODES]
        electrodes[t, : len(points)] = points
        sizes[t, : len(boxes)] = boxes
        counts[t] = len(points)
    return images, masks, electrodes, sizes, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-seed", type=int, required=True)
    parser.add_argument("--sequences", type=int, required=True)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    start = time.time()
    seeds = range(args.first_seed, args.first_seed + args.sequences)
    with Pool(args.workers) as pool:
        parts = pool.map(partial(render, frames=args.frames), seeds, chunksize=8)
    names = ("images", "masks", "electrodes", "sizes", "counts")
    np.savez(args.out, **{name: np.stack([p[i] for p in parts]) for i, name in enumerate(names)})
    print("done", args.sequences, "sequences", round(time.time() - start), "s", flush=True)


if __name__ == "__main__":
    main()
