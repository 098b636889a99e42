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
from cathx.errors import CathxError, first_line
from cathx.fileio import atomic_write_json, atomic_write_text
from cathx.system import cpu_description

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
    return _run_folder(variant.suite, variant.name, seed)


def _run_folder(suite: str, variant: str, seed: int) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in variant)
    return f"{suite}__{safe}__seed{seed}"


def read_records(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / RUNS_FILE
    if not path.is_file():
        return []
    by_key: dict[tuple, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CathxError(f"{path}: cannot read the benchmark records ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise CathxError(f"{path}:{number}: not a JSON record (files joined without a newline?)") from None
        if not isinstance(record, dict):
            raise CathxError(f"{path}:{number}: not a JSON record")
        # One record per run: files of two machines merged by hand must not count a run twice
        # (the later record wins, as a rerun's does).
        by_key[record.get("suite"), record.get("variant"), record.get("seed"), record.get("cpu")] = record
    return list(by_key.values())


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
    if data is None and train_fn is None:
        data = shared_synthetic(base_config, out / "data")
    train_fn = train_fn or train_with_cathx
    build_fn = build_fn or build_from_config
    # Finished runs are kept; failed or skipped ones are dropped here and tried again.
    earlier = read_records(out)
    if not resume and (any(r.get("status") == "ok" for r in earlier) or (out / "runs").is_dir()):
        # Starting afresh here would drop measured records while the runs' finished stages came
        # back as "trained" in seconds: a fresh start needs a fresh folder.
        raise CathxError(f"--out {out}: holds earlier benchmark runs; resume them (the default) or "
                         "choose a new --out to start afresh")
    records = [r for r in earlier if r.get("status") == "ok"]
    atomic_write_text(out / RUNS_FILE, "".join(json.dumps(r) + "\n" for r in records))
    done = {(r["suite"], r["variant"], r["seed"]) for r in records if r.get("status") == "ok"}
    # A variant's size and latency are measured once per CPU: runs appended over sessions on other
    # machines must not lend this machine their latency.
    cpu = cpu_description()
    # ... and at one input side: a session resumed with another --profile-size measures again.
    profiles: dict[tuple[str, str, int | None], dict[str, Any]] = {
        (r["variant"], r.get("cpu", ""), r.get("profile_size")): {k: r.get(k) for k in ("params_m", "gflops",
                                                                                      "latency_ms", "fps")}
        for r in records
        if r.get("status") == "ok" and r.get("params_m") is not None
    }
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
        except Exception as exc:  # noqa: BLE001 - one broken variant must not lose the suite's other runs
            # One broken variant must not lose the other runs: record why and move on.
            message = first_line(exc)
            log.warning("run %s failed: %s", run_name(variant, seed), message)
            record.update(status="failed", note=f"{type(exc).__name__}: {message}"[:300])
            records.append(record)
            _append_record(out, record)
            continue
        record.update(_metrics_record(outcome))
        key = (variant.name, cpu, profile_size)
        if key not in profiles:
            try:
                model = outcome.model if outcome.model is not None else build_fn(config.get("model", {}))
                in_channels = int(config.get("model", {}).get("in_channels", 1))
                profiles[key] = profile_model(model, profile_size, in_channels, runs=latency_runs)
            except Exception as exc:  # noqa: BLE001 - the trained run's metrics are kept without a profile
                message = first_line(exc)
                log.warning("run %s: profiling failed: %s", run_name(variant, seed), message)
                record["note"] = (record.get("note", "") + f" profiling failed: {type(exc).__name__}: {message}")[:300]
        record.update({k: profiles.get(key, {}).get(k) for k in ("params_m", "gflops", "latency_ms", "fps")})
        record["profile_size"] = profile_size if key in profiles else None
        atomic_write_json(run_dir / "history.json", outcome.history)
        records.append(record)
        _append_record(out, record)
    write_report(records, out, title or f"cathx benchmark: {suite_label}")
    return records


def _base_record(variant: Variant, seed: int) -> dict[str, Any]:
    return {
        "suite": variant.suite,
        "variant": variant.name,
        "paper_row": variant.paper_row,
        "seed": seed,
        "status": "ok",
        "note": "",
        # Time-budgeted runs do ~3x more steps on an AVX-512 machine than on an AVX2 one: a row
        # says where it ran, so runs appended over sessions are never pooled across CPUs unseen.
        "cpu": cpu_description(),
    }


def _metrics_record(outcome: RunOutcome) -> dict[str, Any]:
    ap = outcome.metrics.get("ap")
    mean_j = outcome.metrics.get("mean_j")
    return {
        "ap": ap,
        "mean_j": mean_j,
        "mean_kpi": mean_kpi(ap, mean_j),
        "converge_s": time_to_converge(outcome.history, key="score") if outcome.train_s is not None else None,
        "train_s": outcome.train_s,
        "epochs": outcome.epochs,
        "steps": outcome.steps,
        "test_images": outcome.metrics.get("test_images"),
        "note": outcome.note,
    }


def write_report(
    records: Sequence[dict[str, Any]],
    out: Path,
    title: str,
) -> list[Path]:
    """Tables (summary.csv, runs.csv, results.md) and plots (PNG) of ``records`` under ``out``.

    The convergence plot reads each finished run's history.json (the one copy, so a run is drawn
    once whether it ran now or in an earlier session) and draws one curve per variant."""
    from cathx.benchmarking.plots import plot_accuracy_vs_latency, plot_convergence

    paths = write_tables(records, out, title)
    rows = summarize(records)
    histories: dict[str, list[list[dict[str, Any]]]] = {}
    for record in records:
        if record.get("status") != "ok":
            continue
        path = Path(out) / "runs" / _run_folder(record["suite"], record["variant"], record["seed"]) / "history.json"
        if path.is_file():
            histories.setdefault(record["variant"], []).append(json.loads(path.read_text()))
    for accuracy in ("mean_kpi", "mean_j", "ap"):
        if any(row.get(f"{accuracy}_mean") is not None for row in rows):
            plotted = plot_accuracy_vs_latency(rows, Path(out) / f"{accuracy}_vs_latency.png", accuracy)
            if plotted:
                paths.append(plotted)
            break
    if histories:
        plotted = plot_convergence(histories, Path(out) / "convergence.png", key="score",
                                   title="validation score (mean task KPI) during training")
        if plotted:
            paths.append(plotted)
    return paths


# ------------------------------------------------------------------------- cathx.training adapter


def build_from_config(model_config: dict[str, Any]) -> nn.Module:
    """The network a model config describes (for profiling): cathx.models.build_model."""
    from cathx.config import from_dict
    from cathx.models import ModelConfig, build_model

    return build_model(from_dict(ModelConfig, dict(model_config), where="model"))


def shared_synthetic(base_config: dict[str, Any], folder: Path) -> Path:
    """Generate the config's synthetic set once for every run of the benchmark (same data, all seeds)."""
    from cathx.training.config import train_config_from_dict
    from cathx.training.run import ensure_synthetic

    return ensure_synthetic(train_config_from_dict(base_config, where="benchmark config"), folder)


def train_with_cathx(config: dict[str, Any], run_dir: Path, data: Path | None, minutes: float | None) -> RunOutcome:
    """Train with cathx.training.train (resuming a run left unfinished), evaluate the best weights on
    the test split with cathx.training.evaluate, and read the validation history from the CSV logs."""
    from cathx.checkpoint import load_model
    from cathx.training import evaluate, train

    train_dir = run_dir / "train"
    resume = (train_dir / "stages").exists()
    started = time.perf_counter()
    best = train(config, data=data, out=train_dir, resume=resume, max_minutes=minutes)
    train_s = time.perf_counter() - started
    report = evaluate(best, data if data is not None else train_dir / "data", run_dir / "eval",
                      split=(config.get("data") or {}).get("test_split", "test"))
    model, _ = load_model(best)
    history, epochs, steps = history_from_logs(train_dir / "logs", train_s)
    return RunOutcome(
        metrics=read_test_metrics(report),
        history=history,
        model=model,
        # A resumed run's time before its interruption was not measured: its training and
        # convergence times are left out rather than understated by this session's share.
        train_s=None if resume else train_s,
        epochs=epochs,
        steps=steps,
        note="resumed: training time before the interruption not measured" if resume else "",
    )


def read_test_metrics(report: dict[str, Any]) -> dict[str, float]:
    """AP and mean J (fractions) from cathx.training.evaluate's report, wherever it nests them."""
    found: dict[str, float] = {}
    aliases = {
        "ap": ("ap", "AP", "detection_ap"),
        "mean_j": ("mean_j", "mean_J", "J", "mean_iou"),
        "test_images": ("images",),
    }

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        for key, names in aliases.items():
            for name in names:
                if key not in found and _finite(node.get(name)) is not None:
                    found[key] = _finite(node[name])
        for child in node.values():
            visit(child)

    visit(report)
    return found


def history_from_logs(logs: Path, train_s: float) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """Validation evaluations from Lightning's CSV logs (logs/<stage>/metrics.csv, stages in order).

    Each entry: epoch, step (counted over all stages), "score" (val/score: the mean of the task
    KPIs the trainer monitors), "mean_j" when logged, and "time_s", the training time at that step
    estimated as step / total steps x the run's wall time (the logs carry no clock).
    """
    import csv

    entries: list[dict[str, Any]] = []
    offset = 0
    epochs = None
    for metrics_file in sorted(Path(logs).glob("*/metrics.csv"), key=lambda p: p.stat().st_mtime):
        last_step = 0
        with open(metrics_file, newline="") as handle:
            for row in csv.DictReader(handle):
                step = int(float(row.get("step") or 0))
                last_step = max(last_step, step)
                epoch = row.get("epoch")
                if epoch not in (None, ""):
                    epochs = int(float(epoch)) + 1
                score = _finite(row.get("val/score"))
                if score is None:
                    continue
                entry = {"epoch": epochs, "step": offset + step + 1, "score": score}
                if _finite(row.get("val/mean_j")) is not None:
                    entry["mean_j"] = _finite(row["val/mean_j"])
                entries.append(entry)
        offset += last_step + 1
    steps = offset or None
    for entry in entries:
        entry["time_s"] = train_s * entry["step"] / max(steps or 1, 1)
    return entries, epochs, steps


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
