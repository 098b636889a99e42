"""`cathx demo`'s training budget: the whole demo within 15 minutes (issue 13)."""

import pytest

from cathx.cli.demo import MIN_TRAINING_MINUTES, training_budget


@pytest.mark.parametrize(("planned", "elapsed", "expected"), [
    (13.0, 1.0, 13.0),    # fast CPU: 1 + 13 + 0.75 fits in 15, the config's budget stands
    (13.0, 2.0, 12.25),   # slower CPU: 15 - 2 - 0.75 left for training
    (0.0, 2.0, 12.25),    # no budget in the config: whatever is left
    (13.0, 14.5, MIN_TRAINING_MINUTES),  # nothing left: still train a minute
])
def test_training_budget_keeps_the_demo_within_its_total(planned, elapsed, expected):
    assert training_budget(planned, elapsed, total=15.0, finish=0.75) == pytest.approx(expected)


def test_demo_refuses_a_folder_of_the_users_files(run_cli, tmp_path):
    """The demo writes synthetic_preview.png, sequence.mp4 and folders by fixed names: a folder holding
    files cathx did not write is refused before anything is written (it was written into)."""
    (tmp_path / "sequence.mp4").write_bytes(b"the user's own video")
    result = run_cli("demo", "--out", tmp_path)
    assert result.exit_code == 2
    assert "folder already holds files cathx did not write (e.g. sequence.mp4)" in result.stderr
    assert (tmp_path / "sequence.mp4").read_bytes() == b"the user's own video"
