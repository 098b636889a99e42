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


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: on a shared 2-core machine more threads only contend."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """`make test` runs on 2 pytest-xdist workers (--dist loadgroup): every test that starts Ray or
    asks for a running Ray instance goes to one worker, in sequence, because Ray's `auto` address
    finds any Ray instance on the machine (the other worker's child pytest would answer a test that
    expects none) and the Ray child pytest below must start once, not once per worker.

    The marks go on before xdist reads them (this wrapper runs before its hook); after every other
    hook, pytest-randomly's shuffle included (this wrapper is the outermost), the Ray group moves to
    the front so that its ~80 s run starts first instead of ending the suite on one worker."""
    for item in items:
        if "local_ray" in getattr(item, "fixturenames", ()) or "ray" in item.name.lower().split("_"):
            item.add_marker(pytest.mark.xdist_group("ray"))
    result = yield
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)  # stable sort
    return result


def pytest_collection_finish(session):
    """Fail at once, not flakily, where the installed pytest/xdist pair ignores the groups (xdist 3.8
    marks a group by rewriting item._nodeid, which pytest 9.2 no longer reads)."""
    if session.config.getoption("loadgroup", default=False):
        ungrouped = [item.nodeid for item in session.items
                     if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
        if ungrouped:
            raise pytest.UsageError(f"pytest-xdist did not group {ungrouped[0]} (--dist loadgroup): "
                                    "use the versions in constraints.txt")


RAY_CHILD = "CATHX_RAY_CHILD"
RAY_REPORTS = "CATHX_RAY_REPORTS"  # the child pytest appends each test phase's outcome here (JSON lines)


def pytest_runtest_logreport(report):
    """In the Ray child pytest only: record each phase's outcome for the parent's local_ray fixture."""
    path = os.environ.get(RAY_REPORTS)
    if path and os.environ.get(RAY_CHILD):
        import json

        record = {"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
                  "text": report.longreprtext[-4000:]}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


@pytest.fixture(scope="session")
def _ray_session():
    import ray  # in the test extra that `make setup` installs: missing, the Ray tests fail, not skip

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _without_group(nodeid: str) -> str:
    """The test's own id: xdist appends "@group" to a grouped test's id (after any parameter ids)."""
    return nodeid[:nodeid.rfind("@")] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid


@pytest.fixture(scope="session")
def _ray_child(request, tmp_path_factory):
    """Run every selected test that uses local_ray in ONE child pytest (one interpreter, one Ray
    instance) and return ({nodeid: {phase: (outcome, text)}}, the last child's output). Should a crash
    end the child, the tests it had not reached run again in a new child, and so, once, does the test
    it ended in (a Ray-internal abort is rare and not the test's: seen once in a fresh-clone run, a
    child ending silently inside a test that passes on its own); a second crash in it fails it."""
    import json
    import subprocess
    import sys

    remaining = [_without_group(item.nodeid) for item in request.session.items
                 if "local_ray" in getattr(item, "fixturenames", ())]
    reports = tmp_path_factory.mktemp("ray_child") / "reports.jsonl"
    phases: dict[str, dict[str, tuple[str, str]]] = {}
    output = ""
    env = {**os.environ, RAY_CHILD: "1", RAY_REPORTS: str(reports)}
    retried: set[str] = set()
    while remaining:
        reports.unlink(missing_ok=True)  # this child's records only (a retried test's first ones are dropped)
        command = [sys.executable, "-m", "pytest", "-q", "-m", "", "-p", "no:randomly", *remaining]
        try:
            result = subprocess.run(command, cwd=request.config.rootpath, env=env, capture_output=True,
                                    text=True, timeout=900)
            output = f"child pytest exit code {result.returncode}\n" + result.stdout + result.stderr
            timed_out = False
        except subprocess.TimeoutExpired as exc:
            parts = (exc.stdout, exc.stderr)
            output = "child pytest timed out after 900 s\n" + "".join(
                part.decode(errors="replace") if isinstance(part, bytes) else (part or "") for part in parts)
            timed_out = True
        if reports.exists():
            for line in reports.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                phases.setdefault(record["nodeid"], {})[record["when"]] = (record["outcome"], record["text"])
        retry = False
        for nodeid in remaining:  # started but never torn down: the child ended inside this test
            if nodeid in phases and "teardown" not in phases[nodeid]:
                if nodeid not in retried and not timed_out:
                    retried.add(nodeid)
                    del phases[nodeid]
                    retry = True
                else:
                    again = " (twice)" if nodeid in retried else ""
                    phases[nodeid]["ended"] = ("failed", f"the child ended in this test{again}:\n" + output[-4000:])
        if timed_out or not (retry or any(nodeid in phases for nodeid in remaining)):
            break  # a retry would time out again, or die again before its first test
        remaining = [nodeid for nodeid in remaining if nodeid not in phases]
    return phases, output


@pytest.fixture
def local_ray(request):
    """True where the test should run its Ray code: only inside a child pytest process, because a
    Ray internal failure aborts its driver process (seen once here: a C++ "Check failed" in Ray's
    task manager ended the whole suite with no summary). In the main run the first such test runs all
    of them in one child pytest (_ray_child: one interpreter and one Ray start instead of one per
    test); each test then fails with its own failure in the child, or with the child's output if the
    child ended in it, and this is False (the test returns at once)."""
    import ray  # noqa: F401 - in the test extra: missing, the Ray tests fail instead of skipping

    if os.environ.get(RAY_CHILD):
        request.getfixturevalue("_ray_session")
        return True
    phases, output = request.getfixturevalue("_ray_child")
    mine = phases.get(_without_group(request.node.nodeid), {})
    failed = [f"{when}: {text}" for when, (outcome, text) in mine.items() if outcome == "failed"]
    if failed:
        pytest.fail(f"{request.node.nodeid} failed in the Ray child pytest:\n" + "\n".join(failed),
                    pytrace=False)
    skipped = [text for outcome, text in mine.values() if outcome == "skipped"]
    if skipped:
        pytest.skip(f"skipped in the Ray child pytest: {skipped[0][-500:]}")
    if "call" not in mine or "teardown" not in mine:
        pytest.fail(f"{request.node.nodeid} did not finish in the Ray child pytest (a crash ends the "
                    "child):\n" + output[-4000:], pytrace=False)
    return False
