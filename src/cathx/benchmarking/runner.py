"""Run a benchmark suite: train and evaluate every variant over seeds, then write tables and plots.

Each (variant, seed) run trains through cathx.training with the suite's config overrides, is
evaluated on the test split, and appends one record to ``out/runs.jsonl`` as soon as it ends, so an
interrupted benchmark keeps what it measured and ``resume`` skips finished runs. Parameters, FLOPs
and latency are measured once per variant, on this machine, after its first run.

The time budget caps every run (``minutes_per_run``) and the whole suite (``total_minutes``): a
run gets the smaller of its own cap and an equal share of what is left of the total, so a CPU run
of a large suite ends on time with fewer epochs per variant rather than fewer variants.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from cathx.benchmarking.suites import Variant, apply_overrides, build_suite
from cathx.benchmarking.tables import mean_kpi, summarize, time_to_converge, write_tables
from cathx.errors import CathxError
from cathx.fileio import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

RUNS_FILE = "runs.jsonl"


@dataclass(frozen=True)
class Budget:
    """Wall-clock budget in minutes; None means no limit."""

    minutes_per_run: float | None = None
    total_minutes: float | None = None

    def run_limit_minutes(self, elapsed_minutes: float, runs_left: int) -> float | None:
        """Minutes the next run may train: its own cap or an equal share of the total left."""
        limits = []
        if self.minutes_per_run is not None:
            limits.append(self.minutes_per_run)
        if self.total_minutes is not None:
            limits.append(max(self.total_minutes - elapsed_minutes, 0.0) / max(runs_left, 1))
        return min(limits) if limits else None


@dataclass
class RunOutcome:
    """What one training run produced.

    metrics: test-split figures as fractions ("ap", "mean_j"; absent for a task not trained);
    history: validation evaluations in time order, dicts with "time_s" and "mean_kpi" (or the task KPIs);
    model: the trained network (for profiling), or None.
    """

    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    model: nn.Module | None = None
    train_s: float | None = None
    epochs: int | None = None
    steps: int | None = None
    note: str = ""


# train_fn(config dict, run directory, dataset path or None, minutes limit or None) -> RunOutcome
TrainFn = Callable[[dict[str, Any], Path, Path | None, float | None], RunOutcome]
# build_fn(model config dict) -> nn.Module, for profiling a variant whose run left no model
BuildFn = Callable[[dict[str, Any]], nn.Module]


def run_name(variant: Variant, seed: int) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in variant.name)
    return f"{variant.suite}__{safe}__seed{seed}"


def read_records(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / RUNS_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records


def _append_record(out: Path, record: dict[str, Any]) -> None:
    # Rewritten whole (atomic): a kill mid-write never leaves a torn line.
    existing = (Path(out) / RUNS_FILE).read_text() if (Path(out) / RUNS_FILE).is_file() else ""
    atomic_write_text(Path(out) / RUNS_FILE, existing + json.dumps(record) + "\n")


def run_benchmark(
    suite: str | Sequence[Variant],
    base_config: dict[str, Any],
    out: Path | str,
    seeds: Sequence[int] = (0,),
    budget: Budget = Budget(),
    data: Path | None = None,
    train_fn: TrainFn | None = None,
    build_fn: BuildFn | None = None,
    profile_size: int = 256,
    latency_runs: int = 30,
    resume: bool = True,
    title: str = "",
) -> list[dict[str, Any]]:
    """Train and evaluate every variant of ``suite`` for every seed; write tables and plots to ``out``.

    base_config: plain-dict training config (cathx.training.config.TrainConfig fields); the
    variants' overrides go on top. Returns all records (earlier ones included when resuming).
    """
    from cathx.benchmarking.profiling import profile_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    variants = build_suite(suite) if isinstance(suite, str) else list(suite)
    suite_label = suite if isinstance(suite, str) else "custom"
    train_fn = train_fn or train_with_cathx
    build_fn = build_fn or build_from_config
    records = read_records(out) if resume else []
    done = {(r["suite"], r["variant"], r["seed"]) for r in records if r.get("status") == "ok"}
    profiles: dict[str, dict[str, Any]] = {
        r["variant"]: {k: r.get(k) for k in ("params_m", "gflops", "latency_ms", "fps")}
        for r in records
        if r.get("status") == "ok" and r.get("params_m") is not None
    }
    histories: dict[str, list[dict[str, Any]]] = {}
    todo = [(v, s) for v in variants for s in seeds if (v.suite, v.name, s) not in done]
    log.info("benchmark %s: %d runs to do (%d already done)", suite_label, len(todo), len(done))
    start = time.perf_counter()
    for index, (variant, seed) in enumerate(todo):
        elapsed_min = (time.perf_counter() - start) / 60.0
        if budget.total_minutes is not None and elapsed_min >= budget.total_minutes:
            record = _base_record(variant, seed)
            record.update(status="skipped", note="total time budget spent")
            records.append(record)
            _append_record(out, record)
            continue
        limit = budget.run_limit_minutes(elapsed_min, len(todo) - index)
        config = apply_overrides(base_config, variant.overrides)
        config["seed"] = seed
        config["name"] = run_name(variant, seed)
        run_dir = out / "runs" / run_name(variant, seed)
        atomic_write_json(run_dir / "config.json", config)
        record = _base_record(variant, seed)
        record["budget_minutes"] = limit
        try:
            outcome = train_fn(config, run_dir, data, limit)
        except (CathxError, ValueError, RuntimeError, KeyError, ImportError, NotImplementedError) as exc:
            # One broken variant must not lose the other runs: record why and move on.
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("run %s failed: %s", run_name(variant, seed), message)
            record.update(status="failed", note=f"{type(exc).__name__}: {message}"[:300])
            records.append(record)
            _append_record(out, record)
            continue
        record.update(_metrics_record(outcome))
        if variant.name not in profiles:
            model = outcome.model if outcome.model is not None else build_fn(config.get("model", {}))
            in_channels = int(config.get("model", {}).get("in_channels", 1))
            profiles[variant.name] = profile_model(model, profile_size, in_channels, runs=latency_runs)
        record.update({k: profiles[variant.name].get(k) for k in ("params_m", "gflops", "latency_ms", "fps")})
        histories[f"{variant.name} (seed {seed})"] = outcome.history
        atomic_write_json(run_dir / "history.json", outcome.history)
        records.append(record)
        _append_record(out, record)
    write_report(records, out, title or f"cathx benchmark: {suite_label}", histories)
    return records


def _base_record(variant: Variant, seed: int) -> dict[str, Any]:
    return {
        "suite": variant.suite,
        "variant": variant.name,
        "paper_row": variant.paper_row,
        "seed": seed,
        "status": "ok",
        "note": "",
    }


def _metrics_record(outcome: RunOutcome) -> dict[str, Any]:
    ap = outcome.metrics.get("ap")
    mean_j = outcome.metrics.get("mean_j")
    return {
        "ap": ap,
        "mean_j": mean_j,
        "mean_kpi": mean_kpi(ap, mean_j),
        "converge_s": time_to_converge(outcome.history),
        "train_s": outcome.train_s,
        "epochs": outcome.epochs,
        "steps": outcome.steps,
        "note": outcome.note,
    }


def write_report(
    records: Sequence[dict[str, Any]],
    out: Path,
    title: str,
    histories: dict[str, list[dict[str, Any]]] | None = None,
) -> list[Path]:
    """Tables (summary.csv, runs.csv, results.md) and plots (PNG) of ``records`` under ``out``."""
    from cathx.benchmarking.plots import plot_accuracy_vs_latency, plot_convergence

    paths = write_tables(records, out, title)
    rows = summarize(records)
    histories = dict(histories or {})
    for history_file in sorted((Path(out) / "runs").glob("*/history.json")):
        label = history_file.parent.name.split("__", 1)[-1].replace("__seed", " (seed ") + ")"
        histories.setdefault(label, json.loads(history_file.read_text()))
    for accuracy in ("mean_kpi", "mean_j", "ap"):
        if any(row.get(f"{accuracy}_mean") is not None for row in rows):
            plotted = plot_accuracy_vs_latency(rows, Path(out) / f"{accuracy}_vs_latency.png", accuracy)
            if plotted:
                paths.append(plotted)
            break
    if histories:
        key = "mean_kpi" if any(h.get("mean_kpi") is not None for hist in histories.values() for h in hist) else "score"
        plotted = plot_convergence(histories, Path(out) / "convergence.png", key=key)
        if plotted:
            paths.append(plotted)
    return paths


# ------------------------------------------------------------------------- cathx.training adapter


def build_from_config(model_config: dict[str, Any]) -> nn.Module:
    """The network a model config describes (for profiling): cathx.models.build_model."""
    from cathx.config import from_dict
    from cathx.models import ModelConfig, build_model

    return build_model(from_dict(ModelConfig, dict(model_config), where="model"))


def train_with_cathx(config: dict[str, Any], run_dir: Path, data: Path | None, minutes: float | None) -> RunOutcome:
    """Train with cathx.training.train, then evaluate the best checkpoint on the test split."""
    raise NotImplementedError("cathx.training.train is not available yet")


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
