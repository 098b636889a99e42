"""Every command's --help: flags without a value type, fixed sets shown as choices, the same short
names for the same options; a bad command line (a value outside the choices, a missing or unknown
option) is one line, exit code 2."""

from __future__ import annotations

import re

import pytest
import typer

from cathx.cli import app


def _command_paths() -> list[tuple[str, ...]]:
    """("",), ("predict",), ("data", "check"), ...: the root and every command and group."""
    paths: list[tuple[str, ...]] = [()]

    def walk(command, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return paths


COMMANDS = _command_paths()


@pytest.fixture
def help_text(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one option per line

    def _help(*path: str) -> str:
        result = run_cli(*path, "--help")
        assert result.exit_code == 0, result.stderr
        return result.stdout

    return _help


def test_every_command_and_group_is_walked():
    names = {" ".join(p) for p in COMMANDS}
    assert {"predict", "bench", "synth", "val", "data check", "data convert", "cls predict", "cls synth"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "cathx")
def test_flags_show_no_value_type(help_text, path):
    text = help_text(*path)
    assert "<bool>" not in text
    assert re.search(r"--help\s+Show this message", text), text


@pytest.mark.parametrize(("path", "option", "shown"), [
    (("predict",), "--device", "<cpu|cuda|cuda:N|auto>"),
    (("predict",), "--backend", "<torch|onnx>"),
    (("predict",), "--engine", "<local|ray>"),
    (("predict",), "--video", "--no-video"),
    (("bench",), "--device", "<cpu|cuda|cuda:N|auto>"),
    (("bench",), "--backend", "<list[torch|onnx]>"),
    (("export",), "--format", "<onnx|safetensors>"),
    (("val",), "--device", "<cpu|cuda|cuda:N|auto>"),
    (("train",), "--device", "<cpu|cuda|auto>"),
    (("app",), "--device", "<cpu|cuda|cuda:N|auto>"),
    (("synth",), "--engine", "<local|ray>"),
    (("synth",), "--bit-depth", "<8|16>"),
    (("data", "check"), "--format", "<xraycath|folder|ucl|duke|dicom|video>"),
    (("data", "convert"), "--bit-depth", "<8|16>"),
    (("benchmark",), "--suite", "<methods|backbones|"),
    (("cls", "predict"), "--cam", "--no-cam"),
])
def test_fixed_sets_show_their_choices(help_text, path, option, shown):
    line = next(line for line in help_text(*path).splitlines() if re.search(rf"{option}\b", line))
    assert shown in line, line


def test_data_format_choices_are_the_readers():
    from cathx.cli.data import FORMAT_NAMES
    from cathx.data.formats import FORMATS

    assert FORMAT_NAMES == tuple(FORMATS)


SHORT = {"--weights": "-w", "--out": "-o", "--config": "-c", "--data": "-d"}


@pytest.mark.parametrize("path", [p for p in COMMANDS if p and p not in (("data",), ("cls",))],
                         ids=lambda p: " ".join(p))
def test_weights_out_config_data_have_the_same_short_names(path):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    for param in command.params:
        long = [o for o in param.opts if o.startswith("--")]
        if long and long[0] in SHORT and param.param_type_name == "option":
            assert SHORT[long[0]] in param.opts, f"cathx {' '.join(path)} {long[0]}: no {SHORT[long[0]]}"


@pytest.mark.parametrize(("args", "message"), [
    # a value outside an option's choices names them
    (("predict", "x.png", "-o", "{out}", "--engine", "spark"), "--engine 'spark': choose from local, ray"),
    (("predict", "x.png", "-o", "{out}", "--backend", "trt"), "--backend 'trt': choose from torch, onnx"),
    (("bench", "--backend", "trt", "-o", "{out}"), "--backend 'trt': choose from torch, onnx"),
    (("export", "-o", "{out}.onnx", "--format", "tflite"), "--format 'tflite': choose from onnx"),
    (("synth", "{out}", "--bit-depth", "12"), "--bit-depth '12': choose from 8, 16"),
    (("data", "check", "{out}", "-f", "coco"), "--format 'coco': choose from xraycath, folder, ucl, duke, dicom"),
    (("benchmark", "--suite", "nope", "-o", "{out}"), "--suite 'nope': choose from methods, backbones"),
    # click's other usage errors (it prints three lines: usage, a hint, the error) name the help to read
    (("cls", "val", "--data", "{out}", "-o", "{out}"), "Missing option '--weights' / '-w' (`cathx cls val --help`"),
    (("predict", "x.png", "-o", "{out}", "--nope"), "No such option: --nope"),
    (("models", "extra"), "Got unexpected extra argument(s) (extra) (`cathx models --help`"),
    (("synth",), "Missing argument 'out' (`cathx synth --help` lists the options)"),
    (("val", "-d", "{out}", "-o", "{out}", "--batch-size", "abc"), "Invalid value for '--batch-size'"),
])
def test_a_bad_command_line_is_one_line_exit_2(run_cli, tmp_path, args, message):
    out = tmp_path / "out"
    result = run_cli(*(a.replace("{out}", str(out)) for a in args))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.stderr and "Usage:" not in result.stderr and not out.exists()
