"""`cathx benchmark`: train and evaluate a suite of variants over seeds; write tables and plots."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from cathx.benchmarking.suites import suite_names
from cathx.cli import checks
from cathx.errors import ConfigError
from cathx.fileio import check_output_folder

SUITE_HELP = "suite to run (default: the config's benchmark.suite, else smoke)"
Suite = Literal[tuple(suite_names())]

@dataclass
class BenchmarkSection:
    """The optional ``benchmark:`` section of the config file: defaults for the command's options
    (None: the option's own default). ``variants`` is a list or, as ``--variants`` takes it, one
    comma-separated string."""

    suite: str | None = None
    variants: list[str] | str | None = None
    seeds: int | None = None
    budget_minutes: float | None = None
    total_minutes: float | None = None
    profile_size: int | None = None
    latency_runs: int | None = None
    data: str | None = None

    def variant_names(self) -> list[str]:
        items = self.variants.split(",") if isinstance(self.variants, str) else (self.variants or [])
        return [name.strip() for name in items if name.strip()]


def load_benchmark_config(path: Path | None) -> tuple[dict[str, Any], BenchmarkSection]:
    """(training config as a plain dict, benchmark section) from ``path``; defaults when None.

    The file is a training config (cathx.training.config.TrainConfig, checked strictly) with an
    optional ``benchmark:`` mapping (BenchmarkSection, checked as strictly: an unknown key or a
    value of the wrong type is one line naming ``FILE: benchmark.KEY``).
    """
    from cathx.config import from_dict, read_yaml_mapping, to_dict
    from cathx.training.config import TrainConfig, train_config_from_dict

    if path is None:
        return to_dict(TrainConfig()), BenchmarkSection()
    data = read_yaml_mapping(path)
    section = data.pop("benchmark", None) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: benchmark: expected a mapping")
    checked = from_dict(BenchmarkSection, section, where=f"{path}: benchmark")
    config = train_config_from_dict(data, where=str(path))
    return to_dict(config), checked


BENCHMARK_OUT = Path("runs/benchmark")


def register(app: typer.Typer) -> None:
    @app.command()
    def benchmark(  # typer option declarations: alike in shape, nothing to share
        suite: Annotated[Suite | None, typer.Option(help=SUITE_HELP)] = None,
        config: Annotated[
            Path | None, typer.Option("--config", "-c", help="training config YAML (optional benchmark: section)")
        ] = None,
        seeds: Annotated[int | None, typer.Option(help="runs per variant, seeds FIRST..FIRST+N-1 (default 1)")] = None,
        first_seed: Annotated[
            int, typer.Option(help="first seed (run further seeds of a suite on another machine)")
        ] = 0,
        budget_minutes: Annotated[float | None, typer.Option(help="training minutes per run (cap)")] = None,
        total_minutes: Annotated[
            float | None, typer.Option(help="training minutes for the whole suite, shared between runs")
        ] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="folder for tables, plots, runs")] = BENCHMARK_OUT,
        data: Annotated[
            Path | None, typer.Option("--data", "-d", help="dataset folder (default: the config's synthetic set)")
        ] = None,
        profile_size: Annotated[int | None, typer.Option(help="input side for FLOPs and latency (default 256)")] = None,
        latency_runs: Annotated[int | None, typer.Option(help="timed forwards per variant (0 = skip)")] = None,
        variants: Annotated[
            str | None, typer.Option(help="comma-separated variant names: run only these of the suite")
        ] = None,
        resume: Annotated[bool, typer.Option(help="skip runs already recorded in OUT/runs.jsonl")] = True,
    ) -> None:
        """Train and evaluate every variant of a suite over seeds; write markdown/CSV tables and PNG plots."""
        from cathx.benchmarking.runner import Budget, run_benchmark
        from cathx.benchmarking.suites import build_suite, select_variants
        from cathx.benchmarking.tables import summarize, to_markdown

        base, section = load_benchmark_config(config)
        suite = suite or section.suite or "smoke"
        if suite not in suite_names():
            raise ConfigError(f"--suite {suite!r}: choose from {', '.join(suite_names())}")
        n_seeds = seeds if seeds is not None else (section.seeds if section.seeds is not None else 1)
        if n_seeds < 1:
            raise ConfigError(f"--seeds {n_seeds}: must be at least 1")
        if first_seed < 0:
            raise ConfigError(f"--first-seed {first_seed}: must be 0 or more")
        budget = Budget(
            minutes_per_run=budget_minutes if budget_minutes is not None else section.budget_minutes,
            total_minutes=total_minutes if total_minutes is not None else section.total_minutes,
        )
        for name, value in (("budget-minutes", budget.minutes_per_run), ("total-minutes", budget.total_minutes)):
            if value is not None and not (math.isfinite(value) and value > 0):  # NaN would mean no cap at all
                raise ConfigError(f"--{name} {value}: must be a positive number of minutes")
        size = profile_size if profile_size is not None else (section.profile_size or 256)
        checks.input_size(size, "--profile-size")
        runs = latency_runs if latency_runs is not None else (section.latency_runs if section.latency_runs is not None
                                                               else 30)
        if runs < 0:
            raise ConfigError(f"--latency-runs {runs}: must be 0 (skip) or more")
        check_output_folder(out)
        data = data or (Path(section.data) if section.data else None)
        if data is not None and not data.exists():
            raise ConfigError(f"--data {data}: no such file or folder")
        chosen = build_suite(suite)
        wanted = [name.strip() for name in variants.split(",") if name.strip()] if variants else section.variant_names()
        if wanted:
            chosen = select_variants(chosen, wanted)
        records = run_benchmark(
            chosen,
            base,
            out,
            seeds=tuple(range(first_seed, first_seed + n_seeds)),
            budget=budget,
            data=data,
            profile_size=size,
            latency_runs=runs,
            resume=resume,
            title=f"cathx benchmark: {suite}",
        )
        console = Console()
        console.print(to_markdown(summarize(records), metrics=("ap", "mean_j", "mean_kpi", "latency_ms")))
        failed = sum(1 for r in records if r.get("status") != "ok")
        console.print(f"{len(records) - failed}/{len(records)} runs ok -> {out}/results.md", highlight=False)
