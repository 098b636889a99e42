def test_info_prints_versions(run_cli):
    result = run_cli("info")
    assert result.exit_code == 0
    assert "torch" in result.stdout and "2.14.1" in result.stdout


def test_unknown_command_exits_2(run_cli):
    result = run_cli("no-such-command")
    assert result.exit_code == 2
