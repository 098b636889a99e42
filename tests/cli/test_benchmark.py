"""`cathx benchmark`: the smoke suite end to end (tiny), and one-line errors on bad input."""

from __future__ import annotations

import json

import pytest

TINY = """\
model: {encoder: resnet18, latent_channels: 16, decoder_channels: [8, 8], head_channels: 8}
data:
  size: 64
  batch_size: 2
  synthetic: {n: 10, seed: 0}
stages:
  - {name: multitask, tasks: multitask, epochs: 1, max_steps: 2}
trainer: {progress_bar: false, threads: 1, deterministic: false}
benchmark: {suite: smoke, profile_size: 64, latency_runs: 2}
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text(TINY)
    return path


def test_smoke_suite_end_to_end(run_cli, tiny_config, tmp_path):
    out = tmp_path / "out"
    result = run_cli("benchmark", "--config", tiny_config, "--variants", "cathmtl", "--out", out, "--seeds", 1)
    assert result.exit_code == 0, result.stderr
    assert "1/1 runs ok" in result.stdout
    record = json.loads((out / "runs.jsonl").read_text().splitlines()[0])
    assert record["variant"] == "cathmtl" and record["status"] == "ok"
    assert 0.0 <= record["mean_j"] <= 1.0 and 0.0 <= record["ap"] <= 1.0
    assert record["params_m"] > 0 and record["latency_ms"] > 0
    for name in ("summary.csv", "runs.csv", "results.md", "mean_kpi_vs_latency.png"):
        assert (out / name).is_file(), name
    assert "| cathmtl | Ours | 1 |" in (out / "results.md").read_text()
    # A further seed, run later (another machine): appended to the same folder, seed 1 only.
    result = run_cli("benchmark", "--config", tiny_config, "--variants", "cathmtl", "--out", out,
                     "--seeds", 1, "--first-seed", 1)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["seed"] for line in (out / "runs.jsonl").read_text().splitlines()] == [0, 1]


@pytest.mark.parametrize(
    "args, message",
    [
        (("--suite", "nope"), "--suite 'nope': choose from methods"),
        (("--variants", "unet3"), "unknown variant 'unet3' in this suite; choose from cathmtl"),
        (("--seeds", "0"), "--seeds 0: must be at least 1"),
        (("--first-seed", "-1"), "--first-seed -1: must be 0 or more"),
        (("--budget-minutes", "-1"), "--budget-minutes -1.0: must be a positive number of minutes"),
        (("--budget-minutes", "nan"), "--budget-minutes nan: must be a positive number of minutes"),
        (("--latency-runs", "-3"), "--latency-runs -3: must be 0 (skip) or more"),
    ],
)
def test_bad_options_give_one_line(run_cli, tiny_config, tmp_path, args, message):
    result = run_cli("benchmark", "--config", tiny_config, "--out", tmp_path / "o", *args)
    assert result.exit_code == 2
    assert message in result.stderr.replace("\n", " ")


def test_bad_config_names_the_file(run_cli, tmp_path):
    missing = run_cli("benchmark", "--config", tmp_path / "none.yaml")
    assert missing.exit_code == 2 and "none.yaml: config file not found" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("benchmark: {suites: all}\n")
    result = run_cli("benchmark", "--config", bad, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "benchmark: unknown key 'suites'" in result.stderr.replace("\n", " ")


@pytest.mark.parametrize(("section", "message"), [
    ("{seeds: two}", "benchmark.seeds: expected an integer, got 'two'"),
    ("{profile_size: big}", "benchmark.profile_size: expected an integer, got 'big'"),
    ("{budget_minutes: '4'}", "benchmark.budget_minutes: expected float, got '4'"),
])
def test_a_benchmark_section_value_of_the_wrong_type_is_one_line(run_cli, tmp_path, section, message):
    """Such values raised ValueError / TypeError tracebacks from int() and <=."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"benchmark: {section}\n")
    result = run_cli("benchmark", "--config", bad, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"bad.yaml: {message}" in result.stderr.replace("\n", " "), result.stderr


def test_a_benchmark_section_takes_variants_as_a_list_or_as_the_option_writes_them():
    from cathx.cli.benchmark import BenchmarkSection

    assert BenchmarkSection(variants="a, b").variant_names() == ["a", "b"]
    assert BenchmarkSection(variants=["a", "b"]).variant_names() == ["a", "b"]
    assert BenchmarkSection().variant_names() == []
