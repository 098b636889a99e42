"""Shared fixtures. Tests run offline, on 1 thread per process, with tiny images."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys):
    """Run ``cathx ARGS...`` in-process; returns exit code, stdout and stderr."""
    from cathx.cli import main

    def _run(*args: str) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny random-weight CathMTL checkpoint (64 px) for the inference, export and CLI tests."""
    import torch

    from cathx.checkpoint import save_checkpoint
    from cathx.models import build_model, model_profile

    torch.manual_seed(0)
    cfg = model_profile("demo", latent_channels=32, decoder_channels=(16, 16), head_channels=8)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    save_checkpoint(path, build_model(cfg), cfg, extra={"input_size": 64})
    return path


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print pytest-randomly's seed last, where `-q` still shows it, so a failure in one order reruns."""
    seed = config.getoption("randomly_seed", default=None)
    if config.pluginmanager.hasplugin("randomly") and isinstance(seed, int):
        terminalreporter.write_line(f"random order: rerun it with -p randomly --randomly-seed={seed}")
