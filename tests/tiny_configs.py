"""Configs shared by tests in several folders (importable: pyproject puts tests/ on the path)."""

from __future__ import annotations

# The smallest CathMTL training run: 64 px frames, a 16-channel latent, two optimizer steps. The
# CLI, robustness and untrusted-checkpoint tests write it as YAML (copy it before changing it).
TINY_TRAIN = {
    "seed": 0,
    "model": {"encoder": "resnet18", "latent_channels": 16, "decoder_channels": [8, 8], "head_channels": 8},
    "data": {"size": 64, "batch_size": 2},
    "stages": [{"name": "multitask", "epochs": 1, "max_steps": 2}],
    "trainer": {"progress_bar": False, "log_every_n_steps": 1, "threads": 1},
}
