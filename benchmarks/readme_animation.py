"""The README animation: the shipped cathx-fluoro model tracking catheters through a synthetic
fluoroscopy sequence (overlay of each frame, as `cathx predict` draws it), as an animated GIF.

The frames go through ``model.track`` (one sequence: stable ids, track-level types, confidences),
as `cathx predict` tracks a video or DICOM sequence.

    .venv/bin/python benchmarks/readme_animation.py   # writes docs/images/predicted_sequence.gif
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

import cathx
from cathx.data.synthetic.sequence import generate_sequence
from cathx.fileio import atomic_write_bytes

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "predicted_sequence.gif"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--fps", type=float, default=7.5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    frames = [sample.image for sample in generate_sequence(args.seed, args.frames, size=256, fps=15.0)]
    model = cathx.load("cathx-fluoro", precision="fp32")  # the same picture on every CPU
    overlays = [Image.fromarray(np.ascontiguousarray(r.plot())) for r in model.track(frames)]
    buffer = io.BytesIO()
    overlays[0].save(buffer, format="GIF", save_all=True, append_images=overlays[1:],
                     duration=int(1000 / args.fps), loop=0, optimize=True)
    atomic_write_bytes(args.out, buffer.getvalue())
    print(f"{args.out}: {len(overlays)} frames, {len(buffer.getvalue()) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
