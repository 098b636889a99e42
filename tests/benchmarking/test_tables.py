"""Tables: mean / std over seeds, time to converge, markdown and CSV."""

from __future__ import annotations

import math

import pytest

from cathx.benchmarking.tables import mean_kpi, mean_std, summarize, time_to_converge, to_markdown, write_tables


def test_mean_std_uses_sample_std():
    mean, std = mean_std([0.5, 0.7])
    assert mean == pytest.approx(0.6)
    assert std == pytest.approx(math.sqrt(0.02))
    assert mean_std([0.3]) == (0.3, None)  # one seed: no spread measured
    assert mean_std([None]) == (None, None)


def test_mean_kpi_is_the_average_of_ap_and_j():
    assert mean_kpi(0.8415, 0.6537) == pytest.approx(0.7476)
    assert mean_kpi(None, 0.6) is None


def test_time_to_converge_is_first_time_within_fraction_of_best():
    history = [{"time_s": 10, "mean_kpi": 0.2}, {"time_s": 20, "mean_kpi": 0.58}, {"time_s": 30, "mean_kpi": 0.6}]
    assert time_to_converge(history) == 20  # 0.58 >= 0.95 * 0.6
    assert time_to_converge(history, fraction=1.0) == 30
    assert time_to_converge([{"time_s": 1}]) is None


def _records():
    return [
        {"suite": "s", "variant": "a", "paper_row": "A", "seed": 0, "status": "ok", "ap": 0.8, "mean_j": 0.6},
        {"suite": "s", "variant": "a", "paper_row": "A", "seed": 1, "status": "ok", "ap": 0.6, "mean_j": 0.4},
        {"suite": "s", "variant": "b", "paper_row": "B", "seed": 0, "status": "failed", "note": "boom"},
    ]


def test_summarize_and_markdown():
    rows = summarize(_records())
    assert [r["variant"] for r in rows] == ["a", "b"]
    assert rows[0]["ap_mean"] == pytest.approx(0.7) and rows[0]["seeds"] == 2
    assert rows[1]["seeds"] == 0 and rows[1]["failed"] == 1 and rows[1]["notes"] == "boom"
    text = to_markdown(rows, metrics=("ap", "mean_j"))
    assert "| a | A | 2 | 70.00 ± 14.14 | 50.00 ± 14.14 |" in text
    assert "| b | B | 0 (1 failed) | - | - |" in text


def test_write_tables(tmp_path):
    paths = write_tables(_records(), tmp_path, title="T")
    assert [p.name for p in paths] == ["summary.csv", "runs.csv", "results.md"]
    assert (tmp_path / "summary.csv").read_text().splitlines()[0].startswith("suite,variant,paper_row,seeds")
    assert "## Suite: s" in (tmp_path / "results.md").read_text()
    assert "- b: boom" in (tmp_path / "results.md").read_text()


def test_cpu_lines_name_the_machines_and_warn_when_mixed():
    from cathx.benchmarking.tables import cpu_lines

    one = [{"cpu": "AMD EPYC, 2 CPUs, AVX2"}, {"cpu": "AMD EPYC, 2 CPUs, AVX2"}]
    assert cpu_lines(one) == ["\nRuns made on: AMD EPYC, 2 CPUs, AVX2 (2 runs)\n"]
    mixed = cpu_lines([{"cpu": "AMD EPYC, 2 CPUs, AVX-512 + VNNI"}, {}])
    assert mixed[0] == "\nRuns made on: AMD EPYC, 2 CPUs, AVX-512 + VNNI (1 run); not recorded (1 run)\n"
    assert len(mixed) == 2 and "more than one kind of CPU" in mixed[1]
    assert cpu_lines([]) == []


def test_profile_columns_measured_once_carry_no_spread():
    """Params, FLOPs and latency are measured once per variant and CPU and copied into each seed's
    record: "12.0 ± 0.0" would claim a spread over seeds that was never measured."""
    records = [{"suite": "s", "variant": "v", "seed": seed, "status": "ok", "ap": 0.5 + 0.1 * seed, "mean_j": 0.4,
                "latency_ms": 12.0, "params_m": 3.0} for seed in (0, 1)]
    (row,) = summarize(records)
    assert row["latency_ms_std"] is None and row["params_m_std"] is None and row["ap_std"] > 0
    line = to_markdown([row], metrics=("ap", "latency_ms")).splitlines()[-1]
    assert line == "| v |  | 2 | 55.00 ± 7.07 | 12.0 |"
