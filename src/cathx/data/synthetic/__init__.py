"""Synthetic X-ray fluoroscopy of catheters, physics-inspired and deterministic by seed.

See docs/synthetic.md for how it works and where it departs from real fluoroscopy.
"""

from cathx.data.synthetic.config import TARGET_TYPES, SynthConfig
from cathx.data.synthetic.scene import Frame, generate_frame, generate_images, render_frame
from cathx.data.synthetic.sequence import SyntheticReader, frame_seed, generate_sequence, render_sequence
from cathx.data.synthetic.writer import write_dataset

__all__ = [
    "TARGET_TYPES",
    "Frame",
    "SynthConfig",
    "SyntheticReader",
    "frame_seed",
    "generate_frame",
    "generate_images",
    "generate_sequence",
    "render_frame",
    "render_sequence",
    "write_dataset",
]
