"""Benchmark suites mirroring the paper's tables: train and evaluate variants over seeds, then
write markdown / CSV tables and PNG plots (``cathx benchmark``)."""

from __future__ import annotations

from cathx.benchmarking.runner import Budget, RunOutcome, run_benchmark
from cathx.benchmarking.suites import SUITES, Variant, apply_overrides, build_suite, suite_names

__all__ = ["SUITES", "Budget", "RunOutcome", "Variant", "apply_overrides", "build_suite", "run_benchmark", "suite_names"]
