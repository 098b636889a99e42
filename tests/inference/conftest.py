"""A tiny random-weight CathMTL checkpoint (64 px) shared by the inference, export and CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    import torch

    from cathx.checkpoint import save_checkpoint
    from cathx.models import build_model, model_profile

    torch.manual_seed(0)
    cfg = model_profile("demo", latent_channels=32, decoder_channels=(16, 16), head_channels=8)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    save_checkpoint(path, build_model(cfg), cfg, extra={"input_size": 64})
    return path
