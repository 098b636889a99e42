def test_info_prints_versions(run_cli):
    result = run_cli("info")
    assert result.exit_code == 0
    assert "torch" in result.stdout and "2.14.1" in result.stdout


def test_info_says_what_auto_precision_means_here(monkeypatch):
    import pytest
    import torch

    import cathx.system
    from cathx.cli.info import environment_report

    if torch.cuda.is_available():
        pytest.skip("the CPU rule only: on a GPU auto is fp32 whatever the CPU")

    monkeypatch.setattr(cathx.system, "native_bf16", lambda cpuinfo=None, unknown=True: False)
    report = environment_report()
    assert report["predicts in"] == "fp32 (--precision auto)" and report["trains bf16-mixed in"] == "32-true"
    monkeypatch.setattr(cathx.system, "native_bf16", lambda cpuinfo=None, unknown=True: True)
    assert environment_report()["predicts in"] == "bf16 (--precision auto)"


def test_unknown_command_exits_2(run_cli):
    result = run_cli("no-such-command")
    assert result.exit_code == 2


def test_info_model_profile_prints_params_and_gflops(run_cli):
    result = run_cli("info", "--model", "demo", "--size", "64")
    assert result.exit_code == 0, result.stderr
    assert "resnet18" in result.stdout
    assert "parameters" in result.stdout and " M)" in result.stdout
    assert "GFLOPs at 64x64" in result.stdout


def test_info_model_unknown_name_exits_2(run_cli):
    result = run_cli("info", "--model", "resnet9")
    assert result.exit_code == 2
    assert "unknown model 'resnet9'" in result.stderr and "paper" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_info_model_bad_size_exits_2(run_cli):
    result = run_cli("info", "--model", "demo", "--size", "100")
    assert result.exit_code == 2 and "multiple of 16" in result.stderr


def test_info_model_truncated_checkpoint_exits_2(run_cli, tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02junk")
    result = run_cli("info", "--model", str(path))
    assert result.exit_code == 2 and "model.pt" in result.stderr


def test_info_model_checkpoint(run_cli, tmp_path):
    from cathx.checkpoint import save_checkpoint
    from cathx.models import build_model, model_profile

    cfg = model_profile("demo", latent_channels=32, decoder_channels=(16, 16), head_channels=8, output_stride=2)
    path = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg), cfg)
    result = run_cli("info", "--model", str(path), "--size", "64")
    assert result.exit_code == 0, result.stderr
    assert "checkpoint" in result.stdout and "resnet18" in result.stdout
    assert "output stride" in result.stdout


def test_typer_exit_code_is_returned(run_cli):
    # `--help` raises typer.Exit(0) internally; a bad option must not come back as 0
    assert run_cli("info", "--help").exit_code == 0
    assert run_cli("info", "--no-such-option").exit_code == 2


def test_info_model_takes_a_shipped_name(run_cli):
    result = run_cli("info", "--model", "cathx-fluoro", "--size", "64")
    assert result.exit_code == 0, result.stderr
    assert "checkpoint cathx-fluoro" in result.stdout and "3.43 M" in result.stdout
