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


RAY_CHILD = "CATHX_RAY_CHILD"


@pytest.fixture(scope="module")
def _ray_session():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def local_ray(request):
    """True where the test should run its Ray code: only inside a child pytest process, because a
    Ray internal failure aborts its driver process (seen once here: a C++ "Check failed" in Ray's
    task manager ended the whole suite with no summary). In the main run the same test is run in a
    child pytest, asserted to pass, and this is False (the test returns at once)."""
    import subprocess
    import sys

    pytest.importorskip("ray")
    if os.environ.get(RAY_CHILD):
        request.getfixturevalue("_ray_session")
        return True
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "", "-p", "no:randomly", request.node.nodeid],
                            cwd=request.config.rootpath, env={**os.environ, RAY_CHILD: "1"},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{request.node.nodeid} in a child pytest:\n" + (result.stdout + result.stderr)[-4000:]
    return False
