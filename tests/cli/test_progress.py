"""Progress of synth, val and data check/convert: the library's (done, total) callbacks, the bar drawn
on a terminal, and nothing at all when stdout is not one."""

from __future__ import annotations

import io

from rich.console import Console

from cathx.cli.progress import progress_bar


def _recorder():
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


def test_the_bar_is_drawn_on_a_terminal():
    sink = io.StringIO()
    with progress_bar("decoding samples", console=Console(file=sink, force_terminal=True, width=100)) as update:
        for done in range(1, 4):
            update(done, 3)
    assert "decoding samples" in sink.getvalue() and "3/3" in sink.getvalue()


def test_nothing_is_drawn_when_stdout_is_not_a_terminal(capsys):
    with progress_bar("decoding samples") as update:  # pytest's captured stdout is no terminal
        update(1, 2)
        update(2, 2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_synth_counts_frames_of_sequences_and_singles(tmp_path):
    from cathx.data.synthetic import write_dataset

    calls, record = _recorder()
    write_dataset(tmp_path / "ds", 5, size=64, sequences=1, frames=3, workers=1, progress=record)
    # one sequence of 3 frames and 2 single frames, written as they come back
    assert sorted(calls) == calls and calls[-1] == (5, 5) and len(calls) == 3
    assert {total for _, total in calls} == {5}
    assert {b - a for (a, _), (b, _) in zip([(0, 5), *calls], calls)} == {1, 3}


def test_check_and_convert_count_every_sample(tmp_path):
    from cathx.data.formats import open_dataset
    from cathx.data.formats.summary import summarize
    from cathx.data.formats.xraycath_writer import convert_dataset
    from cathx.data.synthetic import write_dataset

    write_dataset(tmp_path / "ds", 4, size=64, workers=1)
    calls, record = _recorder()
    summary = summarize(open_dataset(tmp_path / "ds"), limit=3, progress=record)
    assert summary.checked == 3 and calls == [(1, 3), (2, 3), (3, 3)]
    calls, record = _recorder()
    report = convert_dataset(tmp_path / "ds", tmp_path / "copy", progress=record)
    assert report.written == 4 and calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_val_counts_images_per_batch(tmp_path, tiny_checkpoint):
    from cathx.data.synthetic import write_dataset
    from cathx.training.evaluate import evaluate

    write_dataset(tmp_path / "ds", 5, size=64, workers=1)
    calls, record = _recorder()
    summary = evaluate(tiny_checkpoint, tmp_path / "ds", tmp_path / "val", split=None, batch_size=2,
                       plots=False, progress=record)
    assert calls == [(2, 5), (4, 5), (5, 5)] and summary["images"] == 5


def test_commands_print_the_same_lines_without_a_terminal(run_cli, tmp_path):
    result = run_cli("synth", tmp_path / "ds", "--n", 3, "--size", 64, "--workers", 1)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("wrote 3 frames to ") and "frames/s" in result.stdout
    result = run_cli("data", "check", tmp_path / "ds")
    assert result.exit_code == 0 and result.stderr == "" and result.stdout.startswith("format: xraycath\n")
