"""Runner: records per run, failures kept, resume, budget shares, tables and plots written."""

from __future__ import annotations

import json

import pytest
from torch import nn

from cathx.benchmarking.runner import Budget, RunOutcome, read_records, run_benchmark
from cathx.benchmarking.suites import Variant
from cathx.errors import ConfigError


def _variants():
    return [
        Variant("good", {"model.name": "good"}, "Good", "t"),
        Variant("bad", {"model.name": "bad"}, "Bad", "t"),
    ]


class FakeTrain:
    def __init__(self):
        self.calls = []

    def __call__(self, config, run_dir, data, minutes):
        self.calls.append((config["model"]["name"], config["seed"], minutes))
        if config["model"]["name"] == "bad":
            raise ConfigError("model.name: invalid value 'bad'")
        seed = config["seed"]
        history = [{"time_s": 1.0, "score": 0.3}, {"time_s": 2.0, "score": 0.5 + 0.1 * seed}]
        return RunOutcome({"ap": 0.6 + 0.1 * seed, "mean_j": 0.4}, history, nn.Conv2d(1, 2, 3), train_s=2.0)


def test_run_benchmark_records_tables_plots_and_resume(tmp_path):
    fake = FakeTrain()
    base = {"model": {"name": "x"}, "data": {"size": 64}}
    records = run_benchmark(_variants(), base, tmp_path, seeds=(0, 1), train_fn=fake, profile_size=32,
                            latency_runs=2, budget=Budget(minutes_per_run=3.0))
    assert [(r["variant"], r["seed"], r["status"]) for r in records] == [
        ("good", 0, "ok"), ("good", 1, "ok"), ("bad", 0, "failed"), ("bad", 1, "failed")]
    good = records[0]
    assert good["mean_kpi"] == pytest.approx(0.5)
    assert good["converge_s"] == 2.0
    assert good["params_m"] == pytest.approx(20 / 1e6)
    assert good["latency_ms"] > 0 and good["fps"] > 0
    assert "invalid value 'bad'" in records[2]["note"]
    assert {c[2] for c in fake.calls} == {3.0}
    for name in ("runs.jsonl", "summary.csv", "runs.csv", "results.md", "mean_kpi_vs_latency.png", "convergence.png"):
        assert (tmp_path / name).is_file(), name
    config = json.loads(next((tmp_path / "runs").glob("t__good__seed1")).joinpath("config.json").read_text())
    assert config["model"]["name"] == "good" and config["seed"] == 1 and config["data"] == {"size": 64}
    md = (tmp_path / "results.md").read_text()
    assert "| good | Good | 2 | 65.00 ± 7.07 | 40.00 ± 0.00 |" in md
    from cathx.system import cpu_description

    assert {r["cpu"] for r in records} == {cpu_description()}  # each run says where it ran
    assert f"Runs made on: {cpu_description()} (4 runs)" in md

    # Resume: finished runs are skipped, failed ones are tried again.
    again = FakeTrain()
    records = run_benchmark(_variants(), base, tmp_path, seeds=(0, 1), train_fn=again, profile_size=32, latency_runs=2)
    assert [c[0] for c in again.calls] == ["bad", "bad"]
    assert len(read_records(tmp_path)) == 4  # the earlier failures were replaced


def test_a_run_on_another_cpu_does_not_lend_this_machine_its_latency(tmp_path):
    """Runs appended over sessions: a variant profiled on another CPU is profiled again here, while
    one profiled on this CPU is reused (the latency column names one machine per row)."""
    from cathx.system import cpu_description

    base = {"model": {"name": "x"}, "data": {"size": 64}}
    elsewhere = {"suite": "t", "variant": "good", "paper_row": "Good", "seed": 0, "status": "ok", "note": "",
                 "cpu": "Some Other CPU, 2 CPUs, AVX2", "params_m": 9.0, "gflops": 9.0, "latency_ms": 999.0,
                 "fps": 1.0, "ap": 0.6, "mean_j": 0.4}
    (tmp_path / "runs.jsonl").write_text(json.dumps(elsewhere) + "\n")
    records = run_benchmark(_variants()[:1], base, tmp_path, seeds=(0, 1, 2), train_fn=FakeTrain(), profile_size=32,
                            latency_runs=2)
    here = [r for r in records if r["cpu"] == cpu_description()]
    assert [r["seed"] for r in here] == [1, 2]
    assert here[0]["latency_ms"] != 999.0 and here[0]["params_m"] == pytest.approx(20 / 1e6)
    assert here[1]["latency_ms"] == here[0]["latency_ms"]  # measured once on this CPU, then reused
    assert records[0]["latency_ms"] == 999.0  # the other machine's row keeps its own figure


def test_budget_shares_the_total():
    budget = Budget(minutes_per_run=10.0, total_minutes=30.0)
    assert budget.run_limit_minutes(0.0, 6) == 5.0
    assert budget.run_limit_minutes(0.0, 2) == 10.0
    assert budget.run_limit_minutes(29.0, 2) == 0.5
    assert Budget().run_limit_minutes(5.0, 1) is None


def test_records_joined_badly_are_one_line_and_a_run_recorded_twice_counts_once(tmp_path):
    from cathx.errors import CathxError

    row = {"suite": "t", "variant": "good", "seed": 0, "status": "ok", "cpu": "c", "ap": 0.5}
    (tmp_path / "runs.jsonl").write_text(json.dumps(row) + json.dumps(row) + "\n")  # cat of a file without "\n"
    with pytest.raises(CathxError, match=r"runs.jsonl:1: not a JSON record"):
        read_records(tmp_path)
    (tmp_path / "runs.jsonl").write_text(json.dumps(row) + "\n" + json.dumps({**row, "ap": 0.7}) + "\n")
    assert [r["ap"] for r in read_records(tmp_path)] == [0.7]  # the later record of the run


def test_no_resume_on_a_folder_of_earlier_runs_is_refused_and_keeps_them(tmp_path):
    """--no-resume emptied runs.jsonl, then the runs' finished stages came back as trained in
    seconds and were recorded as new runs."""
    from cathx.errors import CathxError

    base = {"model": {"name": "x"}, "data": {"size": 64}}
    run_benchmark(_variants()[:1], base, tmp_path, train_fn=FakeTrain(), profile_size=32, latency_runs=2)
    before = (tmp_path / "runs.jsonl").read_text()
    with pytest.raises(CathxError, match="holds earlier benchmark runs; resume them"):
        run_benchmark(_variants()[:1], base, tmp_path, train_fn=FakeTrain(), profile_size=32, latency_runs=2,
                      resume=False)
    assert (tmp_path / "runs.jsonl").read_text() == before


def test_a_profiling_failure_keeps_the_trained_runs_metrics(tmp_path, monkeypatch):
    import cathx.benchmarking.profiling as profiling

    def broken(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(profiling, "profile_model", broken)
    base = {"model": {"name": "x"}, "data": {"size": 64}}
    (record,) = run_benchmark(_variants()[:1], base, tmp_path, train_fn=FakeTrain(), profile_size=32, latency_runs=2)
    assert record["status"] == "ok" and record["ap"] == pytest.approx(0.6) and record["latency_ms"] is None
    assert "profiling failed: OSError: no space left on device" in record["note"]


def test_baseline_variants_build_on_a_config_with_cathmtl_only_options():
    """configs/benchmark_cpu.yaml sets output_stride 1, and cathx_fluoro configs input_norm local
    and a type head: the smp baselines refused them, so every seed of those variants failed."""
    from cathx.benchmarking.suites import apply_overrides, build_suite
    from cathx.config import from_dict
    from cathx.models import ModelConfig

    base = {"model": {"encoder": "resnet18", "output_stride": 1, "input_norm": "local", "type_head": True}}
    for suite in ("smoke", "methods"):
        for variant in build_suite(suite):
            from_dict(ModelConfig, apply_overrides(base, variant.overrides)["model"], where=variant.name)


def test_a_resumed_session_with_another_profile_size_profiles_again(tmp_path):
    """Profiles were keyed by variant and CPU only: rows measured at 256 and 512 px met in one table."""
    base = {"model": {"name": "x"}, "data": {"size": 64}}
    first = run_benchmark(_variants()[:1], base, tmp_path, seeds=(0,), train_fn=FakeTrain(), profile_size=32,
                          latency_runs=2)
    both = run_benchmark(_variants()[:1], base, tmp_path, seeds=(0, 1), train_fn=FakeTrain(), profile_size=64,
                         latency_runs=2)
    assert [r["profile_size"] for r in both] == [32, 64]
    assert both[1]["gflops"] > first[0]["gflops"]  # measured again at the larger side


def test_a_run_whose_training_time_is_unknown_reports_no_convergence_time():
    """A resumed run measured only this session's training: its times are left out, not understated."""
    from cathx.benchmarking.runner import _metrics_record

    history = [{"time_s": 1.0, "score": 0.3}, {"time_s": 2.0, "score": 0.5}]
    known = _metrics_record(RunOutcome({"ap": 0.5, "mean_j": 0.4}, history, None, train_s=2.0))
    unknown = _metrics_record(RunOutcome({"ap": 0.5, "mean_j": 0.4}, history, None, train_s=None))
    assert known["converge_s"] == 2.0 and (unknown["converge_s"], unknown["train_s"]) == (None, None)
