"""`cathx app`'s bad inputs: one line naming the option or model, exit code 2, nothing served."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("args, message", [
    (["--port", "0"], "--port 0: must be a TCP port from 1 to 65535"),
    (["--port", "70000"], "--port 70000: must be a TCP port from 1 to 65535"),
    (["--max-upload-mb", "0"], "--max-upload-mb 0: must be from 1 to 100000"),
    (["--host", " "], "--host '': give an address to listen on"),
    (["--device", "tpu"], "--device 'tpu': choose from cpu, cuda, cuda:N, auto"),
    (["--weights", "no-such-model"], "no-such-model: no such weights file or shipped model"),
    (["--chest-weights", "cathx-chst"], "cathx-chst: no such weights file or shipped model"),
])
def test_bad_options_give_one_line_and_exit_2(run_cli, args, message):
    result = run_cli("app", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "cathx app on" not in result.stdout


def test_a_port_in_use_is_named_and_the_environment_restored(run_cli):
    import os
    import socket

    names = ("GRADIO_TEMP_DIR", "MPLCONFIGDIR", "TORCHINDUCTOR_CACHE_DIR")
    before = {name: os.environ.get(name) for name in names}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("app", "--port", port)
    assert result.exit_code == 2
    assert f"--host 127.0.0.1 --port {port}: cannot serve there" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert {name: os.environ.get(name) for name in before} == before
